"""Signing documents, the credentials that sign them, the trust store, and verification.

Credentials are PKCS#12 archives kept in the database without a passphrase,
encrypted with the credential key (``signing_credential_key``, else derived from
``secret_key``): the server signs when the user approves, without asking for a
passphrase. See docs/SIGNING.md.

Services flush; the request or command commits.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from sqlalchemy import func, select

import signing
from edms.audit import services as audit
from edms.auth.models import Role, User
from edms.db import db, utcnow
from edms.documents import services as documents
from edms.documents.models import Document, DocumentVersion
from edms.errors import (
    ConfigError,
    Conflict,
    EDMSError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    ValidationError,
)
from edms.signing import pki
from edms.signing.models import (
    CredentialSource,
    DocumentSignature,
    SigningCredential,
    TrustedCertificate,
)
from edms.validators import text_problem

logger = logging.getLogger(__name__)

#: Largest PKCS#12 file accepted.
MAX_CREDENTIAL_BYTES = 1024 * 1024
#: Largest certificate file accepted for the trust store.
MAX_CERTIFICATE_BYTES = 256 * 1024
#: Files up to this size stay in memory while being signed or verified; larger ones spill to disk.
SPOOL_BYTES = 8 * 1024 * 1024
PDF = "application/pdf"
CERTIFICATION_FIELD = "Certification"
TRUST_FILE_SUFFIXES = (".pem", ".crt", ".cer", ".der")

# The signature grid at the bottom of the last page: 2 columns of 250 x 80 pt boxes,
# rows from y=36 upward. Slot 0 is the certification; the fields follow.
_GRID_COLUMNS = 2
_BOX_WIDTH, _BOX_HEIGHT = 250.0, 80.0
_GRID_X, _GRID_Y, _GAP_X, _GAP_Y = 36.0, 36.0, 12.0, 10.0

# Crockford's base32: no I, L, O or U, so a code read aloud or typed is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_CODE_SUBSTITUTES = str.maketrans({"O": "0", "I": "1", "L": "1"})

NO_CREDENTIAL = (
    "You have no signing credential: upload one on the Signing credential page "
    "or ask an administrator"
)
NOT_A_PDF = "The current version is not a PDF: upload a PDF or convert it first"
PKI_MISSING = "The demo certificate authority has not been set up: run `edms pki init`"
NO_TRUST = (
    "no certificate authority is trusted yet: an administrator adds one on the Trust store page"
)

# One cache of loaded credentials per process: decrypting a PKCS#12 costs tens of ms.
_CREDENTIALS = signing.CredentialCache(size=128, ttl=600.0)
_LOCK = threading.Lock()


class SigningUnavailable(Conflict):
    """The user cannot sign now (no credential, an expired one, no demo CA): 409."""


class NotAPdf(EDMSError):
    status = 422
    title = "Invalid input"


# Settings and per-app caches ---------------------------------------------------------


def _settings() -> dict[str, Any]:
    settings: dict[str, Any] = current_app.config["EDMS"]
    return settings


def _cache() -> dict[str, Any]:
    cache: dict[str, Any] = current_app.extensions.setdefault("edms.signing", {})
    return cache


def credential_key() -> bytes:
    """The key that seals credentials at rest (``signing_credential_key`` or ``secret_key``)."""
    settings = _settings()
    return str(settings["signing_credential_key"] or settings["secret_key"]).encode()


def pki_dir() -> Path:
    return Path(_settings()["signing_pki_dir"])


def demo_pki_exists() -> bool:
    return pki.exists(pki_dir())


def init_demo_pki(*, force: bool = False) -> list[str]:
    """Write the demo CA and TSA into ``signing_pki_dir`` (see :func:`pki.init`)."""
    made = pki.init(pki_dir(), _settings()["signing_organisation"], force=force)
    if made:
        _cache().clear()
    return made


# Trust store -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustAnchor:
    """One trusted certificate, where it comes from ("config", "database", "demo")."""

    source: str
    info: signing.CertificateInfo
    row: TrustedCertificate | None = None
    path: str | None = None


def _config_trust_files() -> list[Path]:
    configured = _settings()["signing_trust_store"]
    if not configured:
        return []
    path = Path(configured).expanduser()
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TRUST_FILE_SUFFIXES
        )
    if path.is_file():
        return [path]
    raise ConfigError(f"signing_trust_store: {path} is neither a file nor a directory")


def _config_certificates() -> list[tuple[Path, asn1_x509.Certificate]]:
    out = []
    for path in _config_trust_files():
        try:
            certs = signing.load_certificates(path.read_bytes())
        except signing.CredentialError as exc:
            raise ConfigError(f"signing_trust_store: {path}: {exc}") from None
        out += [(path, cert) for cert in certs]
    return out


def _trust_key() -> tuple[Any, ...]:
    """Changes whenever the trust store does, in this process or another."""
    enabled = TrustedCertificate.enabled.is_(True)
    count, total, newest = db.session.execute(
        select(
            func.count(TrustedCertificate.id),
            func.coalesce(func.sum(TrustedCertificate.id), 0),
            func.coalesce(func.max(TrustedCertificate.id), 0),
        ).where(enabled)
    ).one()
    files = []
    for path in _config_trust_files():
        stat = path.stat()
        files.append((str(path), stat.st_mtime_ns, stat.st_size))
    return (int(count), int(total), int(newest), tuple(files), pki.state(pki_dir()))


def _enabled_rows() -> list[TrustedCertificate]:
    return list(
        db.session.scalars(
            select(TrustedCertificate)
            .where(TrustedCertificate.enabled.is_(True))
            .order_by(TrustedCertificate.id)
        )
    )


def trust_anchors() -> list[TrustAnchor]:
    """Every certificate the trust store holds, with its source (for the admin page)."""
    anchors = [
        TrustAnchor("config", signing.certificate_info(cert), path=str(path))
        for path, cert in _config_certificates()
    ]
    for row in _enabled_rows():
        [cert] = signing.load_certificates(row.pem.encode())[:1]
        anchors.append(TrustAnchor("database", signing.certificate_info(cert), row=row))
    demo = pki.ca_certificate(pki_dir())
    if demo is not None:
        for cert in signing.load_certificates(demo):
            anchors.append(TrustAnchor("demo", signing.certificate_info(cert), path=str(pki_dir())))
    return anchors


def trust_store() -> signing.TrustStore:
    """The certificates signatures must chain to: the ``signing_trust_store`` files, the
    enabled rows of the trust store page and the demo CA while ``signing_pki_dir`` holds one.

    Kept per application and rebuilt when any of them changes (checked at each call with
    one small query, so other processes' changes count too).
    """
    key = _trust_key()
    cache = _cache()
    cached = cache.get("trust")
    if cached is not None and cached[0] == key:
        store: signing.TrustStore = cached[1]
        return store
    roots = [cert for _path, cert in _config_certificates()]
    for row in _enabled_rows():
        roots += signing.load_certificates(row.pem.encode())
    demo = pki.ca_certificate(pki_dir())
    if demo is not None:
        roots += signing.load_certificates(demo)
    store = signing.TrustStore(roots, timeout=10.0)
    cache["trust"] = (key, store)
    return store


def _require_admin(user: User) -> None:
    if not user.has_role(Role.ADMIN):
        raise PermissionDenied("Only administrators manage the trust store.")


def add_trusted(admin: User, pem_bytes: bytes, note: str = "") -> list[TrustedCertificate]:
    """Trust the CA certificates in ``pem_bytes`` (PEM, one or several, or DER)."""
    _require_admin(admin)
    note = (note or "").strip()
    problem = text_problem(note, 500)
    if problem:
        raise ValidationError({"note": problem})
    if not pem_bytes:
        raise ValidationError({"file": "the file is empty"})
    if len(pem_bytes) > MAX_CERTIFICATE_BYTES:
        raise ValidationError({"file": "larger than the limit of 1 MB"})
    try:
        certs = signing.load_certificates(pem_bytes)
    except signing.CredentialError:
        raise ValidationError(
            {"file": "not a certificate in PEM or DER form (.pem, .crt, .cer)"}
        ) from None
    now = utcnow()
    added = []
    for cert in certs:
        info = signing.certificate_info(cert)
        if not cert.ca:
            raise ValidationError(
                {"file": "not the certificate of a certificate authority (it may not issue others)"}
            )
        if info.not_after < now:
            raise ValidationError({"file": "the certificate has expired"})
        pem_text = _pem(cert)
        row = db.session.scalar(
            select(TrustedCertificate).where(TrustedCertificate.fingerprint == info.fingerprint)
        )
        if row is not None and row.enabled:
            raise ValidationError({"file": "this certificate is already trusted"})
        if row is None:
            row = TrustedCertificate(
                pem=pem_text,
                subject=info.subject[:500],
                issuer=info.issuer[:500],
                fingerprint=info.fingerprint,
                not_after=info.not_after,
                note=note,
                added_by_id=admin.id,
            )
            db.session.add(row)
        else:
            row.enabled, row.note, row.added_by_id = True, note, admin.id
        db.session.flush()
        audit.record(
            "signing.trust.added",
            "trusted_certificate",
            row.id,
            {"fingerprint": info.fingerprint, "subject": info.subject},
            actor=admin,
        )
        added.append(row)
    return added


def remove_trusted(admin: User, trusted_id: int) -> TrustedCertificate:
    """Stop trusting a certificate added on the trust store page (the row stays, disabled)."""
    _require_admin(admin)
    row = db.session.get(TrustedCertificate, trusted_id)
    if row is None or not row.enabled:
        raise NotFound("No such trusted certificate.")
    row.enabled = False
    db.session.flush()
    audit.record(
        "signing.trust.removed",
        "trusted_certificate",
        row.id,
        {"fingerprint": row.fingerprint, "subject": row.subject},
        actor=admin,
    )
    return row


def _pem(cert: asn1_x509.Certificate) -> str:
    armored: bytes = asn1_pem.armor("CERTIFICATE", cert.dump())
    return armored.decode("ascii")


# Credentials -------------------------------------------------------------------------


def active_credential(user: User) -> SigningCredential | None:
    return db.session.scalar(
        select(SigningCredential).where(
            SigningCredential.user_id == user.id, SigningCredential.revoked_at.is_(None)
        )
    )


def list_credentials(user: User) -> list[SigningCredential]:
    """The user's credentials, the active one first, then the revoked ones, newest first."""
    return list(
        db.session.scalars(
            select(SigningCredential)
            .where(SigningCredential.user_id == user.id)
            .order_by(SigningCredential.revoked_at.is_not(None), SigningCredential.id.desc())
        )
    )


def _cache_key(row: SigningCredential) -> str:
    return f"{row.id}:{row.fingerprint}"


def credential_for(user: User) -> signing.Credential:
    """The user's active credential, loaded (and cached per process).

    Raises :class:`SigningUnavailable` (409) when the user has none, when its
    certificate has expired, or when it cannot be decrypted with the credential key.
    """
    row = active_credential(user)
    if row is None:
        raise SigningUnavailable(NO_CREDENTIAL)
    if row.not_after < utcnow():
        raise SigningUnavailable(
            f"Your signing certificate expired on {row.not_after:%Y-%m-%d}: upload a new one "
            "on the Signing credential page or ask an administrator"
        )
    sealed, key = row.sealed, credential_key()

    def load() -> signing.Credential:
        return signing.load_pkcs12(signing.unseal(sealed, key), None)

    try:
        return _CREDENTIALS.get(_cache_key(row), load)
    except signing.CredentialError:
        logger.warning("signing credential %s cannot be decrypted", row.id)
        raise SigningUnavailable(
            "Your signing credential cannot be read with the server's current key: upload "
            "it again on the Signing credential page or ask an administrator"
        ) from None


def _checker() -> signing.PdfSigner:
    """A signer used only to check certificates against the trust store."""
    trust = trust_store()
    cache = _cache()
    cached = cache.get("checker")
    if cached is not None and cached[0] is trust:
        checker: signing.PdfSigner = cached[1]
        return checker
    checker = signing.PdfSigner(
        signing.SigningPolicy(
            level=signing.Level.B_B,
            trust=trust,
            font=_settings()["signing_stamp_font"] or None,
        )
    )
    cache["checker"] = (trust, checker)
    return checker


def _plain_pkcs12(key: Any, cert: Any, chain: Sequence[Any]) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"signing", key, cert, list(chain) or None, serialization.NoEncryption()
    )


def _store(
    user: User, plain_p12: bytes, credential: signing.Credential, source: CredentialSource
) -> SigningCredential:
    info = credential.info
    if db.session.scalar(
        select(SigningCredential.id).where(SigningCredential.fingerprint == info.fingerprint)
    ):
        raise ValidationError({"file": "this certificate is already registered here"})
    previous = active_credential(user)
    now = utcnow()
    if previous is not None:
        previous.revoked_at = now
        _CREDENTIALS.discard(_cache_key(previous))
        db.session.flush()  # before the new row: one active credential per user
    row = SigningCredential(
        user_id=user.id,
        sealed=signing.seal(plain_p12, credential_key()),
        common_name=info.common_name[:200],
        organisation=str(info.organisation)[:200] if info.organisation else None,
        issuer=info.issuer[:500],
        serial=info.serial[:64],
        fingerprint=info.fingerprint,
        not_before=info.not_before,
        not_after=info.not_after,
        source=source.value,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _credential_details(row: SigningCredential) -> dict[str, Any]:
    return {
        "credential": row.id,
        "source": row.source,
        "fingerprint": row.fingerprint,
        "serial": row.serial,
        "issuer": row.issuer,
        "not_after": row.not_after.isoformat(),
    }


def require_signer(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only staff members sign documents.")


def upload_credential(user: User, data: bytes, passphrase: str) -> SigningCredential:
    """Make the PKCS#12 ``data`` the user's signing credential (the previous one is revoked).

    The certificate must be valid now and chain to the trust store. It is kept
    re-encrypted without its passphrase (see the module's docstring).
    """
    require_signer(user)
    if not data:
        raise ValidationError({"file": "the file is empty"})
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise ValidationError({"file": "larger than the limit of 1 MB"})
    secret = passphrase.encode() if passphrase else None
    try:
        credential = signing.load_pkcs12(data, secret)
    except signing.CredentialError as exc:
        if "passphrase" in str(exc):
            raise ValidationError({"passphrase": "wrong passphrase for the PKCS#12 file"}) from None
        raise ValidationError({"file": "not a PKCS#12 file with a key (.p12 or .pfx)"}) from None
    try:
        credential.check_valid()
    except signing.CredentialError as exc:
        raise ValidationError({"file": str(exc)}) from None
    if not trust_store().roots:
        raise ValidationError({"file": NO_TRUST})
    try:
        _checker().check_signer(credential)
    except signing.CredentialError as exc:  # SignerRevoked too
        raise ValidationError({"file": str(exc)}) from None
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, secret)
    except ValueError:  # pragma: no cover - pyHanko read it a moment ago
        raise ValidationError({"file": "not a PKCS#12 file with a key (.p12 or .pfx)"}) from None
    row = _store(user, _plain_pkcs12(key, cert, chain), credential, CredentialSource.UPLOADED)
    audit.record(
        "signing.credential.uploaded", "user", user.id, _credential_details(row), actor=user
    )
    logger.info("user %s uploaded signing credential %s", user.id, row.id)
    return row


def issue_demo_credential(user: User, *, actor: User | None = None) -> SigningCredential:
    """Issue the user a certificate from the demo CA and make it their credential."""
    require_signer(user)
    authority = pki.load_authority(pki_dir())
    if authority is None:
        raise SigningUnavailable(PKI_MISSING)
    issued = authority.issue(user.display_name, organisation=_settings()["signing_organisation"])
    key = serialization.load_pem_private_key(issued.key_pem, password=None)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    chain = x509.load_pem_x509_certificates(issued.chain_pem)
    plain = _plain_pkcs12(key, cert, chain)
    row = _store(user, plain, signing.load_pkcs12(plain, None), CredentialSource.DEMO_CA)
    audit.record(
        "signing.credential.issued",
        "user",
        user.id,
        _credential_details(row),
        actor=actor or user,
    )
    logger.info("demo signing credential %s issued to user %s", row.id, user.id)
    return row


def get_credential(user: User, credential_id: int) -> SigningCredential:
    """One of the user's credentials (an administrator may name anyone's)."""
    row = db.session.get(SigningCredential, credential_id)
    if row is None or (row.user_id != user.id and not user.has_role(Role.ADMIN)):
        raise NotFound("No such signing credential.")
    return row


def revoke_credential(user: User, credential: SigningCredential) -> SigningCredential:
    """Stop signing with ``credential`` (the user's own, or any for an administrator)."""
    if credential.user_id != user.id and not user.has_role(Role.ADMIN):
        raise NotFound("No such signing credential.")
    if credential.revoked_at is not None:
        raise Conflict("This signing credential is already revoked.")
    credential.revoked_at = utcnow()
    _CREDENTIALS.discard(_cache_key(credential))
    db.session.flush()
    audit.record(
        "signing.credential.revoked",
        "user",
        credential.user_id,
        {"credential": credential.id, "fingerprint": credential.fingerprint},
        actor=user,
    )
    return credential


# The signer --------------------------------------------------------------------------


def pdf_signer() -> signing.PdfSigner:
    """The application's PDF signer: level, TSA and stamp font from the settings.

    The TSA is ``signing_tsa_url`` when set, else the demo TSA of ``signing_pki_dir``;
    without either, a level that needs one fails here with a message naming
    ``signing_tsa_url``. Kept per application and rebuilt when the trust store or
    the demo PKI changes.
    """
    settings = _settings()
    trust = trust_store()
    state = pki.state(pki_dir())
    cache = _cache()
    cached = cache.get("signer")
    if cached is not None and cached[0] is trust and cached[1] == state:
        signer: signing.PdfSigner = cached[2]
        return signer
    level = signing.Level.parse(settings["signing_level"])
    tsa_url = settings["signing_tsa_url"] or None
    tsa_credential = None
    if level.timestamped and tsa_url is None:
        tsa_credential = pki.load_tsa(pki_dir())
        if tsa_credential is None:
            raise ServiceUnavailable(
                f"PAdES {level.value} signatures need a time-stamping authority: set "
                "signing_tsa_url, or run `edms pki init` for the demo TSA"
            )
    try:
        signer = signing.PdfSigner(
            signing.SigningPolicy(
                level=level,
                tsa_url=tsa_url,
                tsa_credential=tsa_credential,
                trust=trust,
                font=settings["signing_stamp_font"] or None,
            )
        )
    except signing.SigningError as exc:
        raise ServiceUnavailable(f"Signing is not configured correctly: {exc}") from None
    with _LOCK:
        cache["signer"] = (trust, state, signer)
    return signer


# Verification codes ------------------------------------------------------------------


def new_verification_code() -> str:
    """A fresh code like ``7KQ2-M9XD-4TNB``: 60 random bits, unused by any document."""
    while True:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        code = "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))
        taken = db.session.scalar(select(Document.id).where(Document.verification_code == code))
        if taken is None:
            return code


def normalise_code(text: str) -> str | None:
    """``text`` as a stored code (case, dashes and spaces do not matter; O is 0, I and L
    are 1), or None when it cannot be one."""
    raw = re.sub(r"[\s\-]", "", str(text or "")).upper().translate(_CODE_SUBSTITUTES)
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def assign_verification_code(document: Document) -> str:
    """The document's code, given now if it has none."""
    if document.verification_code is None:
        document.verification_code = new_verification_code()
        db.session.flush()
    return document.verification_code


def verification_url(code: str) -> str | None:
    """The public page of a code, for the QR code on stamps.

    From ``mail_base_url`` (never from a request's Host header, which the sender
    chooses); in demo and debug mode http://127.0.0.1:<port> stands in for it.
    None without either: the stamp then carries the code without a QR code.
    """
    settings = _settings()
    base = settings["mail_base_url"]
    if not base and (settings["demo"] or settings["debug"]):
        base = f"http://127.0.0.1:{settings['port']}"
    return f"{base}/verify?code={code}" if base else None


# Signing -----------------------------------------------------------------------------


def _spooled() -> IO[bytes]:
    """A temporary file in memory up to SPOOL_BYTES, on disk beyond (the caller closes it)."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def _to_pdf(version: DocumentVersion) -> IO[bytes]:
    """The version as a PDF in a temporary file.

    TODO: DOCX/ODT through ``signing.Converter`` (LibreOffice, PDF/A-2b) when it is
    wired in; until then only PDFs can be signed.
    """
    raise NotAPdf(NOT_A_PDF)


def _copy_version(version: DocumentVersion) -> IO[bytes]:
    """The stored file in a seekable temporary file (storage streams are not seekable)."""
    if version.media_type != PDF:
        return _to_pdf(version)
    target = _spooled()
    try:
        with documents.open_version(version) as source:
            shutil.copyfileobj(source, target, 1 << 20)
        target.seek(0)
    except BaseException:
        target.close()
        raise
    return target


def _slot(index: int) -> signing.Placement:
    row, column = divmod(index, _GRID_COLUMNS)
    x1 = _GRID_X + column * (_BOX_WIDTH + _GAP_X)
    y1 = _GRID_Y + row * (_BOX_HEIGHT + _GAP_Y)
    return signing.Placement(page=-1, box=(x1, y1, x1 + _BOX_WIDTH, y1 + _BOX_HEIGHT))


@dataclass(frozen=True)
class _Fields:
    names: list[str]  #: every signature field, in document order
    free: list[str]  #: the empty ones
    signed: bool  #: whether any field holds a signature
    certified: bool  #: whether a certification signature (DocMDP) locks the layout


def _read_fields(source: IO[bytes]) -> _Fields:
    try:
        reader = PdfFileReader(source, strict=False)
        if reader.encrypted:
            raise signing.PdfError("the PDF is encrypted; remove the password before signing")
        found = list(enumerate_sig_fields(reader))
        perms = reader.root.get("/Perms")
        certified = perms is not None and "/DocMDP" in perms
    except signing.PdfError:
        raise
    except Exception as exc:  # pyHanko raises many kinds for a broken file
        raise signing.PdfError(f"not a readable PDF: {exc}") from None
    finally:
        source.seek(0)
    names = [str(name) for name, _value, _ref in found]
    free = [str(name) for name, value, _ref in found if value is None]
    signed = any(value is not None for _n, value, _r in found)
    return _Fields(names, free, signed, certified)


def _new_field_name(existing: Sequence[str]) -> str:
    number = 1
    while f"Signature{number}" in existing:
        number += 1
    return f"Signature{number}"


def _stamp(
    user: User, role_label: str | None, on_behalf_of: User | None, code: str
) -> signing.Stamp:
    settings = _settings()
    with force_locale(settings["default_locale"]):
        lines = [user.display_name]
        if on_behalf_of is not None:
            lines.append(_("On behalf of %(name)s", name=on_behalf_of.display_name))
        if role_label:
            lines.append(role_label)
        lines.append(settings["signing_organisation"])
        lines.append(_("Verification code: %(code)s", code=code))
        time_label = _("Signed")
    return signing.Stamp(lines=lines, time_label=time_label, url=verification_url(code))


def _seal_stamp(code: str) -> signing.Stamp:
    settings = _settings()
    with force_locale(settings["default_locale"]):
        lines = [
            settings["signing_organisation"],
            _("Certified by the organisation’s seal"),
            _("Verification code: %(code)s", code=code),
        ]
        time_label = _("Certified")
    return signing.Stamp(lines=lines, time_label=time_label, url=verification_url(code))


def seal_credential() -> signing.Credential | None:
    """The organisation's seal: ``signing_seal_file`` when set, else the demo seal of
    ``signing_pki_dir``, else None (the first signer then certifies)."""
    settings = _settings()
    path = settings["signing_seal_file"]
    cache = _cache()
    if path:
        try:
            stat = Path(path).stat()
        except OSError as exc:
            raise ServiceUnavailable(f"signing_seal_file cannot be read: {exc}") from None
        key: tuple[Any, ...] = ("file", path, stat.st_mtime_ns, stat.st_size)
    else:
        key = ("demo", str(pki_dir()), pki.state(pki_dir()))
    cached = cache.get("seal")
    if cached is not None and cached[0] == key:
        credential: signing.Credential | None = cached[1]
        return credential
    if path:
        passphrase = settings["signing_seal_passphrase"]
        try:
            credential = signing.load_pkcs12(
                Path(path).read_bytes(), passphrase.encode() if passphrase else None
            )
        except signing.CredentialError as exc:
            raise ServiceUnavailable(f"signing_seal_file: {exc}") from None
    else:
        credential = pki.load_seal(pki_dir())
    with _LOCK:
        cache["seal"] = (key, credential)
    return credential


def _pdf_name(version: DocumentVersion) -> str:
    stem, dot, ext = version.original_filename.rpartition(".")
    if dot and ext.lower() == "pdf":
        return version.original_filename
    return f"{stem or version.original_filename}.pdf"


def _record_signature(
    document: Document,
    signed: DocumentVersion,
    new_version: DocumentVersion,
    result: signing.SignatureResult,
    signer: User,
    *,
    on_behalf_of: User | None = None,
    task_id: int | None = None,
) -> tuple[DocumentSignature, dict[str, Any]]:
    """The signature's row, and the details its audit event starts from."""
    row = DocumentSignature(
        document_id=document.id,
        version_id=new_version.id,
        signer_id=signer.id,
        on_behalf_of_id=on_behalf_of.id if on_behalf_of is not None else None,
        task_id=task_id,
        field_name=result.field_name,
        level=result.level.value,
        certified=result.certified,
        signature_sha256=result.signature_sha256,
        signed_at=result.signed_at,
    )
    db.session.add(row)
    db.session.flush()
    details: dict[str, Any] = {
        "version": new_version.number,
        "signed_version": signed.number,
        "field": result.field_name,
        "level": result.level.value,
        "certified": result.certified,
        "signature_sha256": result.signature_sha256,
        "sha256": new_version.sha256,
    }
    return row, details


def sign_version(
    user: User,
    document: Document,
    *,
    task_id: int | None = None,
    on_behalf_of: User | None = None,
    role_label: str | None = None,
    certify_fields: Sequence[str] = (),
) -> tuple[DocumentVersion, DocumentSignature]:
    """Sign the document's current version with the user's credential; store the result
    as a new version.

    The first signature of a PDF certifies it (field "Certification", form filling and
    signing still allowed) and creates an empty visible field for each name in
    ``certify_fields``, laid out in a grid at the bottom of the last page, for the
    signatures to come. Later signatures fill the first empty field; when none is left,
    a new field in the grid's next slot, or an invisible one on a certified document
    (new visible fields would break its certification). Each stamp shows the signer, ``role_label``, the organisation
    and the document's verification code (given at the first signature) with a QR code
    linking to /verify.

    The caller decides whether ``user`` may sign (a task of a route, say); this checks
    only that the user is staff. The document row is locked while signing, so
    signatures made at the same time follow one another.
    """
    require_signer(user)
    credential = credential_for(user)
    # Lock the document (PostgreSQL; SQLite's writers are serialised already) and read
    # the version after the lock, so concurrent signers each sign the latest one.
    db.session.execute(select(Document.id).where(Document.id == document.id).with_for_update())
    db.session.refresh(document)
    version = documents.get_version(document)
    signer = pdf_signer()
    code = assign_verification_code(document)
    stamp = _stamp(user, role_label, on_behalf_of, code)
    source = _copy_version(version)
    output = _spooled()
    seal_result: signing.SignatureResult | None = None
    try:
        fields = _read_fields(source)
        kwargs: dict[str, Any] = {}
        if not fields.signed:
            names = list(dict.fromkeys(str(n) for n in certify_fields))
            taken = set(fields.names)
            clash = [n for n in [CERTIFICATION_FIELD, *names] if n in taken]
            if clash:
                raise ValidationError(
                    {"certify_fields": f"the PDF already has a field named {clash[0]}"}
                )
            start = len(fields.names)
            certification: dict[str, Any] = {
                "field_name": CERTIFICATION_FIELD,
                "certify": True,
                "placement": _slot(start),
            }
            seal = seal_credential()
            if seal is None:  # the first signer certifies
                kwargs = certification | {
                    "new_fields": [
                        signing.FieldSpec(name, _slot(start + 1 + i))
                        for i, name in enumerate(names)
                    ]
                }
            else:
                # The organisation's seal certifies first and lays out every field;
                # the signer then fills the first of them.
                names = names or [_new_field_name(fields.names)]
                sealed = _spooled()
                try:
                    seal_result = signer.sign(
                        source,
                        sealed,
                        seal,
                        stamp=_seal_stamp(code),
                        new_fields=[
                            signing.FieldSpec(name, _slot(start + 1 + i))
                            for i, name in enumerate(names)
                        ],
                        **certification,
                    )
                except BaseException:
                    sealed.close()
                    raise
                source.close()
                source = sealed
                source.seek(0)
                kwargs = {"field_name": names[0]}
        elif fields.free:
            kwargs = {"field_name": fields.free[0]}
        elif fields.certified:
            # A certified document may gain signatures but no new widgets on its pages
            # (that would break the certification): an invisible signature, then.
            kwargs = {"field_name": _new_field_name(fields.names)}
        else:
            kwargs = {
                "field_name": _new_field_name(fields.names),
                "placement": _slot(len(fields.names)),
            }
        result = signer.sign(source, output, credential, stamp=stamp, reason=role_label, **kwargs)
        output.seek(0)
        new_version = documents.add_derived_version(
            user,
            document,
            documents.Upload(_pdf_name(version), output),
            f"Signed by {user.display_name}",
        )
    finally:
        source.close()
        output.close()
    row, details = _record_signature(
        document, version, new_version, result, user, on_behalf_of=on_behalf_of, task_id=task_id
    )
    if seal_result is not None:
        details["sealed"] = {
            "field": seal_result.field_name,
            "signature_sha256": seal_result.signature_sha256,
        }
    if task_id is not None:
        details["task"] = task_id
    if on_behalf_of is not None:
        details["on_behalf_of"] = on_behalf_of.username
    audit.record("document.signed", "document", document.id, details, actor=user)
    logger.info(
        "document %s signed by user %s (%s, version %s)",
        document.id,
        user.id,
        result.field_name,
        new_version.number,
    )
    return new_version, row


def seal_document(actor: User, document: Document) -> tuple[DocumentVersion, DocumentSignature]:
    """Certify the document's current version (a PDF) with the organisation's seal alone:
    a visible stamp with the verification code; later changes other than form filling
    and signatures break the certification (DocMDP P=2). For documents the organisation issues without a person's signature, such as
    the decisions of the portal. ``actor`` is the account recorded as having sealed."""
    seal = seal_credential()
    if seal is None:
        raise SigningUnavailable(
            "The organisation's seal is not configured (signing_seal_file, or edms pki init)."
        )
    db.session.execute(select(Document.id).where(Document.id == document.id).with_for_update())
    db.session.refresh(document)
    version = documents.get_version(document)
    if version.media_type != "application/pdf":
        raise ValidationError({"file": "only a PDF can be sealed"})
    code = assign_verification_code(document)
    source = _copy_version(version)
    output = _spooled()
    try:
        fields = _read_fields(source)
        if fields.signed:
            raise Conflict("This document is signed already; a seal would not certify it.")
        result = pdf_signer().sign(
            source,
            output,
            seal,
            stamp=_seal_stamp(code),
            field_name=CERTIFICATION_FIELD,
            certify=True,
            placement=_slot(len(fields.names)),
        )
        output.seek(0)
        new_version = documents.add_derived_version(
            actor, document, documents.Upload(_pdf_name(version), output), "Sealed"
        )
    finally:
        source.close()
        output.close()
    row, details = _record_signature(document, version, new_version, result, actor)
    audit.record("document.sealed", "document", document.id, details, actor=actor)
    return new_version, row


def signatures_of(document: Document) -> list[DocumentSignature]:
    return list(
        db.session.scalars(
            select(DocumentSignature)
            .where(DocumentSignature.document_id == document.id)
            .order_by(DocumentSignature.id)
        )
    )


# Verification ------------------------------------------------------------------------


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _too_large(max_bytes: int) -> PayloadTooLarge:
    megabytes = max(1, max_bytes // (1024 * 1024))
    return PayloadTooLarge(f"file: larger than the limit of {megabytes} MB")


def _verify(stream: IO[bytes], xml: bool) -> signing.VerificationReport:
    return signing.verify(
        stream, trust_store(), offline=bool(_settings()["signing_offline_verify"]), xml=xml
    )


def verify_upload(
    stream: IO[bytes], max_bytes: int, *, xml: bool = False
) -> signing.VerificationReport:
    """Verify every signature of an uploaded PDF of at most ``max_bytes``.

    An empty file is a 422 naming ``file``, a larger one a 413; a file that is not a
    PDF, encrypted or unsigned gives a report whose ``problem_code`` says so.
    """
    if _seekable(stream):
        start = stream.tell()
        size = stream.seek(0, os.SEEK_END) - start
        stream.seek(start)
        if size > max_bytes:
            raise _too_large(max_bytes)
        if size == 0:
            raise ValidationError({"file": "the file is empty"})
        if start == 0:
            return _verify(stream, xml)
    with _spooled() as copy:
        size = 0
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            copy.write(chunk)
        if size == 0:
            raise ValidationError({"file": "the file is empty"})
        copy.seek(0)
        return _verify(copy, xml)


def document_for_code(code: str) -> Document | None:
    """The document with this verification code; 422 naming ``code`` when it cannot be one."""
    normal = normalise_code(code)
    if normal is None:
        raise ValidationError({"code": "must be 12 letters and digits, like 7KQ2-M9XD-4TNB"})
    return db.session.scalar(select(Document).where(Document.verification_code == normal))


def registered_version(document: Document) -> DocumentVersion:
    """The version a verification code vouches for: the document's latest."""
    return documents.get_version(document)


def verify_code(
    code: str, *, xml: bool = False
) -> tuple[Document, signing.VerificationReport] | None:
    """The document with verification code ``code`` and the report on its latest version's
    file; None for an unknown code (422 naming ``code`` for one that cannot be a code)."""
    document = document_for_code(code)
    if document is None:
        return None
    version = registered_version(document)
    with documents.open_version(version) as source, _spooled() as copy:
        shutil.copyfileobj(source, copy, 1 << 20)
        copy.seek(0)
        return document, _verify(copy, xml)


def same_as_registered(document: Document, report: signing.VerificationReport) -> bool:
    """Whether the verified file is byte for byte the document's registered (latest) file."""
    return report.sha256 == registered_version(document).sha256
