"""PAdES signing: levels B-B to B-LTA, approval chains, visible stamps."""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import io
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from asn1crypto import cms, core
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from fontTools import ttLib
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import as_signing_certificate
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.stamp import QRStampStyle, TextStampStyle
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import (
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from signing._errors import (
    CredentialError,
    PdfError,
    RevocationError,
    SignerRevoked,
    SigningError,
    TimestampError,
)
from signing._keys import Credential
from signing._trust import TrustStore

__all__ = [
    "FONT_CANDIDATES",
    "FieldSpec",
    "Level",
    "PdfSigner",
    "Placement",
    "SignatureResult",
    "SigningPolicy",
    "Stamp",
]

logger = logging.getLogger(__name__)
# fontTools reports every table it drops while subsetting the stamp font.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

#: Fonts with Latin, Cyrillic and the Uzbek ‘ʻ apostrophes, looked for in this order
#: when the policy names none (Debian: fonts-dejavu-core, fonts-liberation2).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)

# How long a pre-signing check of a signer's certificate (chain and revocation)
# is trusted before it is made again.
_CHECK_TTL = 300.0


class Level(enum.Enum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @classmethod
    def parse(cls, value: str | Level) -> Level:
        if isinstance(value, Level):
            return value
        text = value.strip().upper().replace("_", "-")
        text = text.removeprefix("PADES-").removeprefix("BASELINE-")
        for level in cls:
            if level.value == text:
                return level
        known = ", ".join(level.value for level in cls)
        raise SigningError(f"unknown PAdES level {value!r}; use one of {known}")

    @property
    def timestamped(self) -> bool:
        return self is not Level.B_B

    @property
    def long_term(self) -> bool:
        return self in (Level.B_LT, Level.B_LTA)


@dataclass(frozen=True)
class Placement:
    """Where a visible signature goes: a page (0-based; negative counts from the end)
    and a box ``(x1, y1, x2, y2)`` in PDF points from the bottom-left corner."""

    page: int = -1
    box: tuple[float, float, float, float] = (36.0, 36.0, 286.0, 126.0)

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.box
        if x2 <= x1 or y2 <= y1 or min(self.box) < 0:
            raise SigningError(f"a signature box needs x1 < x2 and y1 < y2, got {self.box}")


@dataclass(frozen=True)
class FieldSpec:
    """An empty signature field to create; ``placement`` None makes it invisible."""

    name: str
    placement: Placement | None = None


@dataclass(frozen=True)
class Stamp:
    """The visible stamp of a signature.

    ``lines`` are printed as given (the caller translates them); the signing time is
    added by the signer, after ``time_label``. ``url`` adds a QR code linking to it.
    """

    lines: Sequence[str]
    time_label: str = "Signed"
    url: str | None = None


@dataclass(frozen=True)
class SigningPolicy:
    """How signatures are made: level, time-stamping, trust and the stamp font.

    ``tsa_url`` names an RFC 3161 time-stamping authority; ``tsa_credential`` makes
    time stamps locally instead (the embedded demo TSA). B-T and above need one of
    them. ``trust`` is needed for B-LT/B-LTA (to gather OCSP/CRL data) and to check a
    signer's certificate (chain, revocation) before signing when ``check_signer``.
    """

    level: Level = Level.B_B
    tsa_url: str | None = None
    tsa_credential: Credential | None = None
    trust: TrustStore | None = None
    check_signer: bool = True
    font: str | None = None
    font_size: int = 8
    timeout: float = 10.0
    md_algorithm: str = "sha256"
    signature_reserve: int | None = None  #: bytes to reserve; None estimates it

    def __post_init__(self) -> None:
        if self.level.timestamped and not (self.tsa_url or self.tsa_credential):
            raise SigningError(
                f"PAdES {self.level.value} needs a time-stamping authority: set tsa_url"
            )
        if self.level.long_term and self.trust is None:
            raise SigningError(f"PAdES {self.level.value} needs a trust store")


@dataclass(frozen=True)
class SignatureResult:
    """What a signature produced."""

    field_name: str
    level: Level
    signed_at: datetime
    certified: bool
    signature_sha256: str  #: SHA-256 of the CMS signature (the /Contents value)
    signer: str
    extra: dict[str, Any] = field(default_factory=dict)


def _find_font(configured: str | None) -> str | None:
    if configured:
        if not Path(configured).is_file():
            raise SigningError(f"the stamp font {configured!r} does not exist")
        return _font_for_pdf(configured)
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return _font_for_pdf(candidate)
    logger.warning("no Unicode font found for signature stamps; non-Latin text will not show")
    return None


@functools.cache
def _font_for_pdf(path: str) -> str:
    """``path``, or a copy scaled to 1000 units per em when it uses another grid.

    pyHanko writes glyph widths in font units while PDF expects thousandths of an
    em, so a 2048-unit font (DejaVu, Liberation) would print with gaps between the
    letters. The scaled copy is made once and kept in the temporary directory.
    """
    with ttLib.TTFont(path, lazy=True) as probe:
        if probe["head"].unitsPerEm == 1000:
            return path
    stat = os.stat(path)
    tag = hashlib.sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"edms-stamp-font-{tag}.ttf"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.part")
        with ttLib.TTFont(path) as font:
            scale_upem(font, 1000)
            font.save(str(partial))
        os.replace(partial, target)
    return str(target)


def _escape(text: str) -> str:
    # pyHanko fills stamp text with %-interpolation.
    return text.replace("%", "%%")


@dataclass(frozen=True)
class _MemoryFontFactory(GlyphAccumulatorFactory):
    """pyHanko's factory opens the font file per signature and never closes it: this
    one serves the font from memory instead."""

    data: bytes = b""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: Any = None
    ) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(self.data),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


def _load_key(info: asn1_keys.PrivateKeyInfo) -> PrivateKeyTypes:
    return serialization.load_der_private_key(info.dump(), password=None)


# Private keys parsed once per credential and dropped with it (a CredentialCache
# keeps the credentials, so a key lives as long as its cache entry).
_LOADED_KEYS: weakref.WeakKeyDictionary[Credential, PrivateKeyTypes] = weakref.WeakKeyDictionary()
_LOADED_KEYS_LOCK = threading.Lock()


def _loaded_key(credential: Credential) -> PrivateKeyTypes:
    with _LOADED_KEYS_LOCK:
        key = _LOADED_KEYS.get(credential)
    if key is None:
        key = _load_key(credential.signer.signing_key)
        with _LOADED_KEYS_LOCK:
            _LOADED_KEYS[credential] = key
    return key


class _LoadedKeySigner(signers.SimpleSigner):
    """A credential's signer for one signature, with its private key parsed once.

    pyHanko's ``SimpleSigner`` parses its DER key for every signature, and
    cryptography checks an RSA key while parsing it: about 40 ms for RSA-2048, where
    the signature itself takes under one. This one also keeps the CMS it made, so
    its digest need not be read back from the signed PDF.
    """

    def __init__(self, base: signers.SimpleSigner, key: PrivateKeyTypes) -> None:
        # The credential's signer in every other respect: certificates, mechanism, settings.
        self.__dict__.update(base.__dict__)
        self._key = key
        self.signature_cms: cms.ContentInfo | None = None

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism_spec = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            mechanism = mechanism_spec.signature_algo
        except ValueError:
            mechanism = mechanism_spec["algorithm"].native
        key = self._key
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if mechanism == "rsassa_pss" and isinstance(key, RSAPrivateKey):
            padding, hash_algo = process_pss_params(mechanism_spec["parameters"])
            return key.sign(data, padding, hash_algo)
        if mechanism == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: Any = False,
        use_pades: Any = False,
        timestamper: Any = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: Any = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        signed: cms.ContentInfo = await super().async_sign(
            data_digest,
            digest_algorithm,
            dry_run=dry_run,
            use_pades=use_pades,
            timestamper=timestamper,
            signed_attr_settings=signed_attr_settings,
            is_pdf_sig=is_pdf_sig,
            encap_content_info=encap_content_info,
        )
        if not dry_run:  # a dry run only estimates the size
            self.signature_cms = signed
        return signed


def _signer_for(credential: Credential) -> signers.Signer:
    signer = credential.signer
    if type(signer) is not signers.SimpleSigner:
        return signer
    return _LoadedKeySigner(signer, _loaded_key(credential))


def _attribute(kind: str, value: Any) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": cms.CMSAttributeType(kind), "values": (value,)})


class _LoadedKeyTimeStamper(DummyTimeStamper):
    """pyHanko's local time stamper with the TSA key parsed once (see
    :class:`_LoadedKeySigner`). ``_sign_tst_info`` is pyHanko's (pinned < 0.39) but
    for the key."""

    def __init__(self, tsa: Credential) -> None:
        super().__init__(
            tsa_cert=tsa.certificate,
            tsa_key=tsa.signer.signing_key,
            certs_to_embed=tsa.signer.cert_registry,
        )
        self._key = _load_key(tsa.signer.signing_key)

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
                _attribute("message_digest", md.finalize()),
            ]
        )
        if not isinstance(self._key, RSAPrivateKey):
            raise NotImplementedError("Dummy timestamper is RSA-only.")
        signature = self._key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs


class PdfSigner:
    """Signs PDFs under one :class:`SigningPolicy`.

    Build one per configuration and reuse it: it keeps the time-stamping client,
    the stamp font and the results of recent certificate checks.
    """

    def __init__(self, policy: SigningPolicy) -> None:
        self.policy = policy
        self._timestamper = self._build_timestamper()
        self._font_path = _find_font(policy.font)
        self._fonts: dict[int, _MemoryFontFactory] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _build_timestamper(self) -> TimeStamper | None:
        policy = self.policy
        if not policy.level.timestamped:
            return None
        if policy.tsa_url:
            return HTTPTimeStamper(policy.tsa_url, timeout=policy.timeout)
        tsa = policy.tsa_credential
        if tsa is None:  # pragma: no cover - SigningPolicy refuses this
            raise SigningError("no time-stamping authority configured")
        return _LoadedKeyTimeStamper(tsa)

    # --- checks ---------------------------------------------------------------------

    def check_signer(self, credential: Credential) -> None:
        """Refuse a credential that is expired, not trusted, or revoked.

        Revocation is checked online (OCSP/CRL named in the certificate); a recent
        positive answer is reused for a few minutes.
        """
        credential.check_valid()
        trust = self.policy.trust
        if trust is None or not self.policy.check_signer:
            return
        key = credential.info.fingerprint
        with self._lock:
            checked = self._checked.get(key)
        if checked is not None and time.monotonic() - checked < _CHECK_TTL:
            return
        context = trust.validation_context(fetch=True)
        validator = CertificateValidator(
            credential.certificate,
            intermediate_certs=credential.chain,
            validation_context=context,
        )
        try:
            asyncio.run(validator.async_validate_usage({"digital_signature"}))  # type: ignore[no-untyped-call]
        except RevokedError:
            raise SignerRevoked(
                f"the certificate of {credential.info.common_name} is revoked; nothing was signed"
            ) from None
        except PathBuildingError:
            raise CredentialError(
                f"the certificate of {credential.info.common_name} is not issued by a trusted "
                "authority (no path to a root in the trust store)"
            ) from None
        except InvalidCertificateError as exc:
            raise CredentialError(f"the signing certificate cannot be used: {exc}") from None
        except PathValidationError as exc:
            if "revocation" in str(exc).lower():
                raise RevocationError(
                    f"the revocation status of the signer's certificate is unknown: {exc}"
                ) from None
            raise CredentialError(f"the signing certificate is not valid: {exc}") from None
        with self._lock:
            self._checked[key] = time.monotonic()

    # --- signing --------------------------------------------------------------------

    def _font(self) -> _MemoryFontFactory | None:
        if self._font_path is None:
            return None
        size = self.policy.font_size
        with self._lock:
            factory = self._fonts.get(size)
            if factory is None:
                data = Path(self._font_path).read_bytes()
                factory = _MemoryFontFactory(self._font_path, font_size=size, data=data)
                self._fonts[size] = factory
        return factory

    def _stamp_style(self, stamp: Stamp) -> TextStampStyle:
        text = "\n".join(_escape(line) for line in stamp.lines if line)
        text += f"\n{_escape(stamp.time_label)}: %(ts)s"
        font = self._font()
        box_style = (
            TextBoxStyle(font=font, font_size=self.policy.font_size)
            if font is not None
            else TextBoxStyle(font_size=self.policy.font_size)
        )
        common: dict[str, Any] = {
            "stamp_text": text,
            "text_box_style": box_style,
            "timestamp_format": "%Y-%m-%d %H:%M:%S UTC",
            "border_width": 1,
            "background": None,
        }
        if stamp.url:
            return QRStampStyle(**common)
        return TextStampStyle(**common)

    def _reserve(self, credential: Credential) -> int | None:
        if self.policy.signature_reserve is not None:
            return self.policy.signature_reserve
        # The CMS holds the signer's certificate and chain, signed attributes and the
        # signature value; a time stamp token adds the TSA's own certificates.
        size = 4096 + sum(len(c.dump()) for c in (credential.certificate, *credential.chain))
        if self.policy.level.timestamped:
            size += 8192
        return (size + 1023) // 1024 * 1024

    def sign(
        self,
        source: IO[bytes],
        output: IO[bytes],
        credential: Credential,
        *,
        field_name: str | None = None,
        new_fields: Sequence[FieldSpec] = (),
        certify: bool = False,
        placement: Placement | None = None,
        stamp: Stamp | None = None,
        reason: str | None = None,
        location: str | None = None,
    ) -> SignatureResult:
        """Sign the PDF read from ``source`` and write the signed PDF to ``output``.

        ``field_name`` names the signature field to fill: an empty field created
        earlier (see ``new_fields``), or a new one placed at ``placement`` (invisible
        without a placement). ``new_fields`` are empty fields created in the same
        revision, for the signatures that follow: create them all before or with the
        first signature, since a certified document must not gain new visible fields.
        ``certify`` makes a certification signature allowing form filling and
        signing (DocMDP P=2); it must be the document's first signature.

        The source is read as the signer goes (it must be seekable); the output is
        the source plus one incremental update (more for B-LT/B-LTA: the DSS and a
        document time stamp), so earlier signatures stay valid. ``output`` must be
        empty and readable (it is read back to digest the new signature).
        """
        policy = self.policy
        self.check_signer(credential)
        try:
            writer = IncrementalPdfFileWriter(source, strict=False)
        except (PdfReadError, PyHankoPdfError, ValueError, IndexError, KeyError) as exc:
            raise PdfError(f"not a readable PDF: {exc}") from None
        if writer.prev.encrypted:
            raise PdfError("the PDF is encrypted; remove the password before signing")
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
        name = field_name or _next_field_name(existing)
        page_count = _page_count(writer)
        if certify and _has_signatures(writer.prev):
            raise SigningError("a certification signature must be the first signature")
        for spec in new_fields:
            if spec.name in existing:
                raise SigningError(f"a signature field named {spec.name!r} already exists")
            fields.append_signature_field(writer, _field_spec(spec, page_count))
            existing.add(spec.name)
        new_field_spec = None
        if name not in existing and placement is not None:
            new_field_spec = _field_spec(FieldSpec(name, placement), page_count)
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm=policy.md_algorithm,
            subfilter=fields.SigSeedSubFilter.PADES,
            certify=certify,
            docmdp_permissions=fields.MDPPerm.FILL_FORMS,
            # Signing certificates carry digitalSignature, often without nonRepudiation.
            signer_key_usage={"digital_signature"},
            reason=reason,
            location=location,
            embed_validation_info=policy.level.long_term,
            use_pades_lta=policy.level is Level.B_LTA,
            validation_context=(
                policy.trust.validation_context(fetch=True, extra=credential.chain)
                if policy.level.long_term and policy.trust is not None
                else None
            ),
        )
        signer = _signer_for(credential)
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            timestamper=self._timestamper,
            stamp_style=self._stamp_style(stamp) if stamp is not None else None,
            new_field_spec=new_field_spec,
        )
        params: dict[str, Any] = {}
        if stamp is not None and stamp.url:
            params["url"] = stamp.url
        try:
            _run_signer(pdf_signer, writer, output, self._reserve(credential), params)
        except _ReserveTooSmall:
            # The failed attempt filled the field in ``writer``: start again from the source.
            output.seek(0)
            output.truncate()
            source.seek(0)
            writer = IncrementalPdfFileWriter(source, strict=False)
            for spec in new_fields:
                fields.append_signature_field(writer, _field_spec(spec, page_count))
            _run_signer(pdf_signer, writer, output, None, params)
        if isinstance(signer, _LoadedKeySigner) and signer.signature_cms is not None:
            # The CMS pyHanko wrote into /Contents (DER, without the zero padding).
            signature_sha256 = hashlib.sha256(signer.signature_cms.dump()).hexdigest()
        else:
            signature_sha256 = _last_signature_digest(output, name)
        logger.info("signed field %s at %s (%d pages)", name, policy.level.value, page_count)
        return SignatureResult(
            field_name=name,
            level=policy.level,
            signed_at=datetime.now(UTC),
            certified=certify,
            signature_sha256=signature_sha256,
            signer=credential.info.common_name,
        )

    def add_fields(self, source: IO[bytes], output: IO[bytes], specs: Sequence[FieldSpec]) -> None:
        """Write ``source`` with empty signature fields added (one incremental update)."""
        try:
            writer = IncrementalPdfFileWriter(source, strict=False)
        except (PdfReadError, PyHankoPdfError, ValueError) as exc:
            raise PdfError(f"not a readable PDF: {exc}") from None
        if writer.prev.encrypted:
            raise PdfError("the PDF is encrypted; remove the password before signing")
        page_count = _page_count(writer)
        for spec in specs:
            fields.append_signature_field(writer, _field_spec(spec, page_count))
        writer.write(output)  # type: ignore[no-untyped-call]


class _ReserveTooSmall(Exception):
    pass


def _run_signer(
    pdf_signer: signers.PdfSigner,
    writer: IncrementalPdfFileWriter,
    output: IO[bytes],
    reserve: int | None,
    params: dict[str, Any],
) -> None:
    try:
        pdf_signer.sign_pdf(
            writer,
            bytes_reserved=reserve,
            output=output,
            appearance_text_params=params or None,
        )
    except TimestampRequestError as exc:
        raise TimestampError(f"the time-stamping authority did not answer: {exc}") from None
    except PyHankoSigningError as exc:
        message = str(exc)
        lowered = message.lower()
        # pyHanko: "Final ByteRange payload larger than expected: allocated ..."
        if reserve is not None and (
            "larger than expected" in lowered or "reserved" in lowered or "too small" in lowered
        ):
            raise _ReserveTooSmall from None
        if "revoked" in lowered:
            raise SignerRevoked(f"the signer's certificate is revoked: {message}") from None
        if "revocation" in lowered or "ocsp" in lowered or "crl" in lowered:
            raise RevocationError(f"revocation data could not be gathered: {message}") from None
        raise SigningError(f"the PDF could not be signed: {message}") from None
    except (PdfReadError, PyHankoPdfError) as exc:
        raise PdfError(f"the PDF could not be signed: {exc}") from None


def _page_count(writer: IncrementalPdfFileWriter) -> int:
    try:
        count = writer.root["/Pages"]["/Count"]
        return int(count)
    except (KeyError, TypeError, ValueError, PdfReadError) as exc:
        raise PdfError(f"the PDF has no readable page tree ({exc})") from None


def _has_signatures(reader: PdfFileReader) -> bool:
    return any(value is not None for _, value, _ in fields.enumerate_sig_fields(reader))


def _next_field_name(existing: set[str]) -> str:
    number = 1
    while f"Signature{number}" in existing:
        number += 1
    return f"Signature{number}"


def _field_spec(spec: FieldSpec, page_count: int) -> fields.SigFieldSpec:
    if spec.placement is None:
        return fields.SigFieldSpec(sig_field_name=spec.name)
    page = spec.placement.page
    index = page if page >= 0 else page_count + page
    if not 0 <= index < page_count:
        raise SigningError(f"page {page} does not exist: the PDF has {page_count} pages")
    x1, y1, x2, y2 = spec.placement.box
    return fields.SigFieldSpec(
        sig_field_name=spec.name,
        on_page=index,
        box=(int(x1), int(y1), int(x2), int(y2)),
    )


def cms_der(contents: bytes) -> bytes:
    """The DER of a signature's CMS without the zero padding of /Contents."""
    der: bytes = core.load(contents, strict=False).dump()
    return der


def _last_signature_digest(output: IO[bytes], name: str) -> str:
    """SHA-256 of the CMS (DER, without padding) in the field just signed."""
    output.seek(0)
    reader = PdfFileReader(output, strict=False)
    for sig in reversed(reader.embedded_signatures):
        if sig.field_name == name:
            return hashlib.sha256(cms_der(sig.pkcs7_content)).hexdigest()
    raise SigningError(f"the signature field {name!r} is missing after signing")
