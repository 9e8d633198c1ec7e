"""Signing credentials: PKCS#12 loading, certificate facts, sealing at rest, a key cache."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import pem, pkcs12, x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyhanko.sign.signers import SimpleSigner

from signing._errors import CredentialError

__all__ = [
    "CertificateInfo",
    "Credential",
    "CredentialCache",
    "certificate_info",
    "load_certificates",
    "load_pkcs12",
    "seal",
    "unseal",
]

_SEAL_VERSION = b"\x01"
_SEAL_INFO = b"edms signing credential v1"


@dataclass(frozen=True)
class CertificateInfo:
    """Plain facts about a certificate, fit for a page or a JSON reply."""

    common_name: str
    organisation: str | None
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  #: SHA-256 of the DER encoding, hex

    def as_dict(self) -> dict[str, str | None]:
        return {
            "common_name": self.common_name,
            "organisation": self.organisation,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "fingerprint": self.fingerprint,
        }


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    """The facts of ``cert`` (an asn1crypto certificate)."""
    subject = cert.subject.native
    return CertificateInfo(
        common_name=str(subject.get("common_name") or cert.subject.human_friendly),
        organisation=subject.get("organization_name"),
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before,
        not_after=cert.not_valid_after,
        fingerprint=hashlib.sha256(cert.dump()).hexdigest(),
    )


def load_certificates(data: bytes | Iterable[bytes]) -> list[x509.Certificate]:
    """Certificates from PEM (one or several) or DER data.

    Raises :class:`CredentialError` when the data holds no certificate.
    """
    blobs = [data] if isinstance(data, bytes) else list(data)
    certs: list[x509.Certificate] = []
    for blob in blobs:
        try:
            if pem.detect(blob):
                for kind, _headers, der in pem.unarmor(blob, multiple=True):
                    if kind == "CERTIFICATE":
                        certs.append(x509.Certificate.load(der))
            else:
                cert = x509.Certificate.load(blob)
                cert.native  # noqa: B018 - parses eagerly so garbage fails here
                certs.append(cert)
        except (ValueError, TypeError, OSError) as exc:
            raise CredentialError(f"not a certificate in PEM or DER form ({exc})") from None
    if not certs:
        raise CredentialError("no certificate found in the data")
    return certs


class Credential:
    """A loaded signing key with its certificate and chain.

    Loading (decrypting the PKCS#12 archive) costs tens of milliseconds: keep a
    :class:`Credential` in a :class:`CredentialCache` rather than loading it per
    signature.
    """

    def __init__(self, signer: SimpleSigner) -> None:
        cert = signer.signing_cert
        if cert is None:
            raise CredentialError("the credential holds no signing certificate")
        self.signer = signer
        self.certificate: x509.Certificate = cert
        self.info = certificate_info(cert)
        self.chain: list[x509.Certificate] = [
            c for c in signer.cert_registry if c.dump() != cert.dump()
        ]

    def check_valid(self, at: datetime | None = None) -> None:
        """Raise :class:`CredentialError` if the certificate is not valid at ``at``."""
        moment = at or datetime.now(UTC)
        if moment < self.info.not_before:
            raise CredentialError(
                f"the signing certificate is not valid before {self.info.not_before:%Y-%m-%d}"
            )
        if moment > self.info.not_after:
            raise CredentialError(
                f"the signing certificate expired on {self.info.not_after:%Y-%m-%d}"
            )

    def __repr__(self) -> str:
        return f"<Credential {self.info.common_name!r} serial={self.info.serial}>"


def load_pkcs12(data: bytes, passphrase: bytes | None = None) -> Credential:
    """Load a PKCS#12 (``.p12``/``.pfx``) archive with its key, certificate and chain.

    Raises :class:`CredentialError` for broken data, a wrong passphrase, or an
    archive without a key or certificate.
    """
    if not data:
        raise CredentialError("the PKCS#12 file is empty")
    try:
        signer = SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=passphrase)
    except (ValueError, TypeError) as exc:
        # The libraries only say the key material could not be loaded: a well-formed
        # PKCS#12 structure means the passphrase was wrong.
        if _is_pfx(data):
            raise CredentialError("wrong passphrase for the PKCS#12 file") from None
        raise CredentialError(f"not a readable PKCS#12 file ({exc})") from None
    if signer is None or signer.signing_key is None:
        raise CredentialError("the PKCS#12 file holds no private key")
    return Credential(signer)


def _is_pfx(data: bytes) -> bool:
    try:
        pfx = pkcs12.Pfx.load(data)
        return str(pfx["auth_safe"]["content_type"].native) in ("data", "signed_data")
    except (ValueError, TypeError, KeyError):
        return False


def _seal_key(secret: bytes) -> bytes:
    if len(secret) < 16:
        raise CredentialError("the credential encryption key must be at least 16 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(secret)


def seal(data: bytes, secret: bytes) -> bytes:
    """Encrypt ``data`` (a PKCS#12 archive, say) for storage at rest.

    AES-256-GCM under a key derived (HKDF-SHA256) from ``secret``; the result
    carries a version byte and a random nonce.
    """
    nonce = os.urandom(12)
    return _SEAL_VERSION + nonce + AESGCM(_seal_key(secret)).encrypt(nonce, data, _SEAL_INFO)


def unseal(token: bytes, secret: bytes) -> bytes:
    """Decrypt what :func:`seal` produced; :class:`CredentialError` if it was altered."""
    if len(token) < 1 + 12 + 16 or token[:1] != _SEAL_VERSION:
        raise CredentialError("the stored credential is not in a known format")
    try:
        return AESGCM(_seal_key(secret)).decrypt(token[1:13], token[13:], _SEAL_INFO)
    except InvalidTag:
        raise CredentialError(
            "the stored credential cannot be decrypted: wrong key or altered data"
        ) from None


class CredentialCache:
    """A small thread-safe LRU cache of loaded credentials, each kept for ``ttl`` seconds.

    Keys are chosen by the caller and must change when the credential does (e.g.
    the credential's id and the SHA-256 of its stored bytes).
    """

    def __init__(self, size: int = 64, ttl: float = 600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[float, Credential]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Credential]) -> Credential:
        """The cached credential for ``key``, loading it with ``load`` when absent or stale."""
        now = time.monotonic()
        with self._lock:
            item = self._items.get(key)
            if item is not None and now - item[0] < self.ttl:
                self._items.move_to_end(key)
                return item[1]
        credential = load()
        with self._lock:
            self._items[key] = (now, credential)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return credential

    def discard(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
