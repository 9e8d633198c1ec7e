"""PAdES signing and verification over pyHanko, free of any web framework.

Sign::

    credential = load_pkcs12(p12_bytes, b"passphrase")
    signer = PdfSigner(SigningPolicy(level=Level.B_T, tsa_url="http://tsa.example/"))
    result = signer.sign(source, output, credential, field_name="Approval1", stamp=Stamp([...]))

Verify::

    report = verify(stream, TrustStore.from_data([root_pem]))
    report.indication  # TOTAL_PASSED, INDETERMINATE or TOTAL_FAILED

Errors are described in :mod:`signing._errors`; ``SigningError`` is their root.
A test PKI (certomancer, served on loopback) lives in :mod:`signing.testing`.
"""

from __future__ import annotations

from signing._convert import Converter
from signing._errors import (
    ConversionError,
    ConversionTimeout,
    ConverterMissing,
    CredentialError,
    PdfError,
    RevocationError,
    SignerRevoked,
    SigningError,
    TemplateError,
    TimestampError,
)
from signing._keys import (
    CertificateInfo,
    Credential,
    CredentialCache,
    certificate_info,
    load_certificates,
    load_pkcs12,
    seal,
    unseal,
)
from signing._pki import Authority, Issued, new_authority
from signing._sign import (
    FieldSpec,
    Level,
    PdfSigner,
    Placement,
    SignatureResult,
    SigningPolicy,
    Stamp,
)
from signing._templates import render_template, template_variables
from signing._trust import TrustStore
from signing._verify import SignatureReport, VerificationReport, verify

__all__ = [
    "Authority",
    "CertificateInfo",
    "ConversionError",
    "ConversionTimeout",
    "Converter",
    "ConverterMissing",
    "Credential",
    "CredentialCache",
    "CredentialError",
    "FieldSpec",
    "Issued",
    "Level",
    "PdfError",
    "PdfSigner",
    "Placement",
    "RevocationError",
    "SignatureReport",
    "SignatureResult",
    "SignerRevoked",
    "SigningError",
    "SigningPolicy",
    "Stamp",
    "TemplateError",
    "TimestampError",
    "TrustStore",
    "VerificationReport",
    "certificate_info",
    "load_certificates",
    "load_pkcs12",
    "new_authority",
    "render_template",
    "seal",
    "template_variables",
    "unseal",
    "verify",
]
