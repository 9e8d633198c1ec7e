"""Verification of PDF signatures with reports in ETSI EN 319 102-1 terms."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.diff_analysis import ModificationLevel

# Reads the DSS into validation knowledge; private in pyHanko (pinned < 0.39).
from pyhanko.sign.validation.ades import (
    AdESBasicValidationResult,
    _dss_to_local_knowledge,
    ades_basic_validation,
    ades_lta_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import PdfSignatureValidationSpec
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from signing._keys import CertificateInfo, certificate_info
from signing._sign import cms_der
from signing._trust import TrustStore

__all__ = ["SignatureReport", "VerificationReport", "verify"]

logger = logging.getLogger(__name__)

_INDICATION = {
    AdESStatus.PASSED: "TOTAL_PASSED",
    AdESStatus.INDETERMINATE: "INDETERMINATE",
    AdESStatus.FAILED: "TOTAL_FAILED",
}
_RANK = {"TOTAL_PASSED": 0, "INDETERMINATE": 1, "TOTAL_FAILED": 2}


@dataclass
class SignatureReport:
    """The verdict on one signature, in ETSI EN 319 102-1 / EU DSS terms.

    ``indication`` is TOTAL_PASSED, INDETERMINATE or TOTAL_FAILED;
    ``sub_indication`` the standard reason (HASH_FAILURE, REVOKED,
    NO_CERTIFICATE_CHAIN_FOUND, ...) when it did not pass. ``coverage`` says what
    the signature covers (ENTIRE_FILE, ENTIRE_REVISION, PARTIAL) and
    ``modifications`` what changed after it (NONE, DSS_AND_TIMESTAMPS,
    FORM_FILLING, ANNOTATIONS, OTHER).
    """

    field_name: str
    indication: str
    sub_indication: str | None
    signer: CertificateInfo | None
    claimed_time: datetime | None
    best_time: datetime | None
    timestamped: bool
    level: str
    certification: str | None  #: DocMDP permissions of a certification signature
    coverage: str
    modifications: str
    message: str | None
    signature_sha256: str
    xml: str | None = None

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL_PASSED"

    @property
    def changed_after(self) -> bool:
        """Whether the document changed after this signature beyond signing and
        time-stamping (later signatures and filled-in fields count as allowed)."""
        return self.modifications in ("ANNOTATIONS", "OTHER")

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field_name,
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "signer": self.signer.as_dict() if self.signer else None,
            "claimed_signing_time": _iso(self.claimed_time),
            "best_signing_time": _iso(self.best_time),
            "timestamped": self.timestamped,
            "level": self.level,
            "certification": self.certification,
            "coverage": self.coverage,
            "modifications_after": self.modifications,
            "changed_after": self.changed_after,
            "message": self.message,
            "signature_sha256": self.signature_sha256,
        }


@dataclass
class VerificationReport:
    """The verdict on a whole PDF: one report per signature, in document order.

    ``problem`` is set when the file could not be checked at all (not a PDF, an
    encrypted PDF, no signature); ``indication`` is then None.
    """

    sha256: str
    size: int
    signatures: list[SignatureReport] = field(default_factory=list)
    problem: str | None = None
    problem_code: str | None = None

    @property
    def indication(self) -> str | None:
        """The worst indication over all signatures."""
        if not self.signatures:
            return None
        return max((s.indication for s in self.signatures), key=_RANK.__getitem__)

    @property
    def certified(self) -> bool:
        return any(s.certification for s in self.signatures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "indication": self.indication,
            "certified": self.certified,
            "problem": self.problem_code,
            "detail": self.problem,
            "signatures": [s.as_dict() for s in self.signatures],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _digest(source: IO[bytes]) -> tuple[str, int]:
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return digest.hexdigest(), size


def verify(
    source: IO[bytes],
    trust: TrustStore,
    *,
    offline: bool = False,
    xml: bool = False,
) -> VerificationReport:
    """Verify every signature of the PDF in ``source`` (seekable, read in chunks).

    Validation follows EN 319 102-1 for PAdES (basic, with time, long-term): the
    certificate must chain to a root in ``trust``; revocation is checked through
    OCSP/CRL fetched online, or only against the data embedded in the document
    when ``offline``. ``xml`` adds the ETSI TS 119 102-2 validation report of each
    signature. Never raises for a bad file: the report names the problem.
    """
    sha256, size = _digest(source)
    report = VerificationReport(sha256=sha256, size=size)
    try:
        reader = PdfFileReader(source, strict=False)
        if reader.encrypted:
            report.problem_code = "ENCRYPTED"
            report.problem = "the PDF is encrypted; signatures cannot be checked"
            return report
        signatures = list(reader.embedded_signatures)
    except (PdfReadError, PyHankoPdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        report.problem_code = "NOT_A_PDF"
        report.problem = f"not a readable PDF ({exc})"
        return report
    if not signatures:
        report.problem_code = "NO_SIGNATURE"
        report.problem = "the PDF carries no signature"
        return report
    spec = trust.pdf_validation_spec(fetch=not offline)
    for index, sig in enumerate(signatures):
        if sig.sig_object_type == "/DocTimeStamp":
            continue
        report.signatures.append(_verify_one(sig, spec, signatures[index + 1 :], xml))
    if not report.signatures:
        report.problem_code = "NO_SIGNATURE"
        report.problem = "the PDF carries only document time stamps, no signature"
    return report


def _verify_one(
    sig: EmbeddedPdfSignature,
    spec: PdfSignatureValidationSpec,
    later: list[EmbeddedPdfSignature],
    xml: bool,
) -> SignatureReport:
    name = str(sig.field_name)
    try:
        digest = hashlib.sha256(cms_der(sig.pkcs7_content)).hexdigest()
    except ValueError:
        digest = hashlib.sha256(sig.pkcs7_content).hexdigest()
    try:
        # The with-time and LTA processes require a signature time stamp and report a
        # B-B signature as SIG_CONSTRAINTS_FAILURE: a B-B gets the basic process.
        result: AdESBasicValidationResult[Any] = asyncio.run(_validate(sig, spec, later))
    except Exception as exc:  # a hostile file must give a verdict, not a 500
        logger.warning("signature %s could not be validated: %s", name, type(exc).__name__)
        return SignatureReport(
            field_name=name,
            indication="INDETERMINATE",
            sub_indication="FORMAT_FAILURE" if isinstance(exc, ValueError) else "GENERIC",
            signer=_signer(sig, None),
            claimed_time=_claimed(sig),
            best_time=None,
            timestamped=_timestamped(sig),
            level=_level(sig, later),
            certification=_certification(sig),
            coverage="UNKNOWN",
            modifications="UNKNOWN",
            message=f"the signature could not be processed: {exc}",
            signature_sha256=digest,
        )
    status = result.api_status
    signer = _signer(sig, status)
    indication = _INDICATION[result.ades_subindic.status]
    sub = None if indication == "TOTAL_PASSED" else result.ades_subindic.standard_name
    coverage, modifications, docmdp_ok = _integrity(sig, status)
    message = result.failure_msg
    if indication == "TOTAL_PASSED" and docmdp_ok is False:
        # pyHanko's AdES process leaves document modification checks to the caller:
        # a change the certification did not allow breaks the document's integrity.
        indication, sub = "TOTAL_FAILED", "HASH_FAILURE"
        message = "the document was changed in a way its certification does not allow"
    xml_report = None
    if xml:
        try:
            from pyhanko.sign.validation.report.tools import generate_report

            xml_report = generate_report(sig, result)
        except (ImportError, NotImplementedError, ValueError) as exc:
            logger.info("no ETSI XML report for %s: %s", name, exc)
    return SignatureReport(
        field_name=name,
        indication=indication,
        sub_indication=sub,
        signer=signer,
        claimed_time=_claimed(sig),
        best_time=getattr(result, "best_signature_time", None),
        timestamped=_timestamped(sig),
        level=_level(sig, later),
        certification=_certification(sig),
        coverage=coverage,
        modifications=modifications,
        message=message,
        signature_sha256=digest,
        xml=xml_report,
    )


async def _validate(
    sig: EmbeddedPdfSignature,
    spec: PdfSignatureValidationSpec,
    later: list[EmbeddedPdfSignature],
) -> AdESBasicValidationResult[Any]:
    """The EN 319 102-1 process that fits the signature.

    LTA (§ 5.6.3) when a document time stamp follows the signature; "with time"
    (§ 5.5) for a time-stamped signature, fed with the revocation data of the
    document's DSS when it has one (B-LT); basic (§ 5.3) otherwise. pyHanko's time
    processes report a signature without a time stamp as SIG_CONSTRAINTS_FAILURE,
    and its LTA process demands proof of existence that only a document time
    stamp gives.
    """
    if any(s.sig_object_type == "/DocTimeStamp" for s in later):
        return await ades_lta_validation(sig, spec)
    if not _timestamped(sig):
        return await _basic_validation(sig, spec)
    signature_spec = spec.signature_validation_spec
    if "/DSS" in sig.reader.root:
        known = signature_spec.local_knowledge
        dss = _dss_to_local_knowledge(reader=sig.reader)
        signature_spec = dataclasses.replace(
            signature_spec,
            local_knowledge=dataclasses.replace(
                known,
                known_ocsps=known.known_ocsps + dss.known_ocsps,
                known_crls=known.known_crls + dss.known_crls,
                known_certs=known.known_certs + dss.known_certs,
            ),
        )
    sig.compute_integrity_info(diff_policy=spec.diff_policy)  # type: ignore[no-untyped-call]
    return await ades_with_time_validation(
        sig.signed_data,
        signature_spec,
        raw_digest=sig.compute_digest(),
        extra_status_kwargs=sig.summarise_integrity_info(),
        status_cls=PdfSignatureStatus,
    )


async def _basic_validation(
    sig: EmbeddedPdfSignature, spec: PdfSignatureValidationSpec
) -> AdESBasicValidationResult[Any]:
    """EN 319 102-1 basic validation (§ 5.3) of a PDF signature.

    The document-integrity facts (coverage, changes after signing) are computed
    here and read by :func:`_integrity`: pyHanko's basic process builds a plain CMS
    status, which has no room for them.
    """
    sig.compute_integrity_info(diff_policy=spec.diff_policy)  # type: ignore[no-untyped-call]
    return await ades_basic_validation(
        sig.signed_data,
        spec.signature_validation_spec,
        raw_digest=sig.compute_digest(),
    )


def _signer(sig: EmbeddedPdfSignature, status: Any) -> CertificateInfo | None:
    """The signer's certificate facts, taken from the validation status when there is
    one: finding the certificate in the CMS again costs about a fifth of a basic
    validation (name comparisons)."""
    try:
        cert = getattr(status, "signing_cert", None)
        return certificate_info(sig.signer_cert if cert is None else cert)
    except (ValueError, KeyError, TypeError):
        return None


def _claimed(sig: EmbeddedPdfSignature) -> datetime | None:
    try:
        return sig.self_reported_timestamp
    except (ValueError, KeyError):
        return None


def _timestamped(sig: EmbeddedPdfSignature) -> bool:
    """Whether the signature carries a signature time stamp (PAdES B-T and up)."""
    attrs = sig.signer_info["unsigned_attrs"]
    if not attrs:
        return False
    return any(attr["type"].native == "signature_time_stamp_token" for attr in attrs)


def _certification(sig: EmbeddedPdfSignature) -> str | None:
    level = sig.docmdp_level
    return level.name if level is not None else None


def _level(sig: EmbeddedPdfSignature, later: list[EmbeddedPdfSignature]) -> str:
    if not _timestamped(sig):
        return "PAdES-BASELINE-B"
    root = sig.reader.root
    has_dss = "/DSS" in root
    if has_dss and any(s.sig_object_type == "/DocTimeStamp" for s in later):
        return "PAdES-BASELINE-LTA"
    if has_dss:
        return "PAdES-BASELINE-LT"
    return "PAdES-BASELINE-T"


_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "ENTIRE_FILE",
    SignatureCoverageLevel.ENTIRE_REVISION: "ENTIRE_REVISION",
}
_MODIFICATIONS = {
    ModificationLevel.NONE: "NONE",
    ModificationLevel.LTA_UPDATES: "DSS_AND_TIMESTAMPS",
    ModificationLevel.FORM_FILLING: "FORM_FILLING",
    ModificationLevel.ANNOTATIONS: "ANNOTATIONS",
    ModificationLevel.OTHER: "OTHER",
}


def _integrity(sig: EmbeddedPdfSignature, status: Any) -> tuple[str, str, bool | None]:
    """Coverage, changes after the signature, and whether DocMDP allowed them."""
    if isinstance(status, PdfSignatureStatus):
        coverage_level = status.coverage
        level = status.modification_level
        docmdp_ok = status.docmdp_ok
    else:
        try:
            facts = sig.summarise_integrity_info()
        except (ValueError, KeyError, AttributeError):
            return "UNKNOWN", "UNKNOWN", None
        coverage_level = facts.get("coverage")
        diff = facts.get("diff_result")
        level = getattr(diff, "modification_level", None)
        if level is None and diff is not None:
            level = ModificationLevel.OTHER  # a suspicious modification
        docmdp_ok = facts.get("docmdp_ok")
    coverage = _COVERAGE.get(coverage_level, "PARTIAL") if coverage_level else "UNKNOWN"
    modifications = _MODIFICATIONS.get(level, "OTHER") if level is not None else "UNKNOWN"
    if coverage == "ENTIRE_FILE":
        modifications = "NONE"
    return coverage, modifications, docmdp_ok
