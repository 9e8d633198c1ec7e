"""The test PKI works with plain pyHanko (not our signing code) and with poppler."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.report import AdESIndeterminate, AdESPassed
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from signing.testing import SIGNERS, TestPKI


def _cert(pem: bytes) -> Any:
    [cert] = load_certs_from_pemder_data(pem)
    return cert


def _blank_pdf() -> bytes:
    writer = PdfFileWriter()
    content = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (EDMS) Tj ET")
    writer.insert_page(PageObject(writer.add_object(content), (0, 0, 595, 842)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _validation_context(pki: TestPKI) -> ValidationContext:
    return ValidationContext(
        trust_roots=[_cert(pki.root_pem)],
        other_certs=[_cert(pki.intermediate_pem)],
        allow_fetching=True,
        revocation_mode="hard-fail",
    )


def _sign(pki: TestPKI, name: str, *, lta: bool = False) -> bytes:
    """Sign a one-page PDF as ``name``: PAdES B-LTA if ``lta``, else B-B."""
    signer = signers.SimpleSigner.load_pkcs12_data(
        pki.pkcs12(name), other_certs=[], passphrase=b"secret"
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=lta,
        use_pades_lta=lta,
        validation_context=_validation_context(pki) if lta else None,
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(_blank_pdf())),
        meta,
        signer=signer,
        timestamper=HTTPTimeStamper(pki.tsa_url) if lta else None,
    )
    return bytes(out.getvalue())


@pytest.fixture(scope="module")
def lta_pdf(test_pki: TestPKI) -> bytes:
    return _sign(test_pki, "signer1", lta=True)


def _ocsp_status(pki: TestPKI, name: str) -> ocsp.OCSPResponse:
    cert = x509.load_pem_x509_certificate(pki.certificate_pem(name))
    issuer = x509.load_pem_x509_certificate(pki.intermediate_pem)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    reply = requests.post(
        pki.ocsp_url,
        data=request.public_bytes(serialization.Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
        timeout=10,
    )
    reply.raise_for_status()
    return ocsp.load_der_ocsp_response(reply.content)


def test_pkcs12_carries_key_certificate_and_chain(test_pki: TestPKI) -> None:
    key, cert, chain = pkcs12.load_key_and_certificates(test_pki.pkcs12("signer2"), b"secret")
    assert key is not None
    assert cert is not None
    assert cert.public_bytes(serialization.Encoding.PEM) == test_pki.certificate_pem("signer2")
    assert [c.public_bytes(serialization.Encoding.PEM) for c in chain] == [
        test_pki.intermediate_pem,
        test_pki.root_pem,
    ]
    assert test_pki.base_url.startswith("http://127.0.0.1:")
    assert test_pki.tsa_url.startswith(test_pki.base_url)
    with pytest.raises(KeyError, match="stranger"):
        test_pki.pkcs12("stranger")


def test_validity_of_signers(test_pki: TestPKI) -> None:
    now = datetime.now(UTC)
    for name in SIGNERS:
        cert = x509.load_pem_x509_certificate(test_pki.certificate_pem(name))
        current = cert.not_valid_before_utc <= now < cert.not_valid_after_utc
        assert current is (name != "expired"), name
        urls = [
            d.access_location.value
            for d in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ]
        assert urls == [test_pki.ocsp_url]


@pytest.mark.parametrize(
    ("name", "status"),
    [("signer1", ocsp.OCSPCertStatus.GOOD), ("revoked", ocsp.OCSPCertStatus.REVOKED)],
)
def test_ocsp_and_crl_tell_revocation(test_pki: TestPKI, name: str, status: Any) -> None:
    response = _ocsp_status(test_pki, name)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == status
    # responses are made now, not at some configured time
    assert response.this_update_utc is not None
    assert abs((response.this_update_utc - datetime.now(UTC)).total_seconds()) < 60

    cert = x509.load_pem_x509_certificate(test_pki.certificate_pem(name))
    crl = x509.load_der_x509_crl(requests.get(test_pki.crl_url, timeout=10).content)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert (entry is not None) is (name == "revoked")
    if entry is not None:
        assert entry.revocation_date_utc == datetime(2026, 6, 1, tzinfo=UTC)


def test_pades_lta_signature_is_valid_from_embedded_data_alone(
    test_pki: TestPKI, lta_pdf: bytes
) -> None:
    reader = PdfFileReader(io.BytesIO(lta_pdf))
    [signature, _doc_timestamp] = reader.embedded_signatures
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=[_cert(test_pki.root_pem)]),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            # the DSS must hold everything: no fetching
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    result = asyncio.run(ades_lta_validation(signature, spec))
    assert result.ades_subindic == AdESPassed.OK, result.failure_msg
    status = result.api_status
    assert status is not None
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted
    assert reader.root["/DSS"]["/OCSPs"]
    assert reader.root["/DSS"]["/CRLs"]


def test_signature_by_revoked_signer_is_reported_revoked(test_pki: TestPKI) -> None:
    signature = PdfFileReader(io.BytesIO(_sign(test_pki, "revoked"))).embedded_signatures[0]
    status = validate_pdf_signature(signature, _validation_context(test_pki))
    assert status.intact
    assert status.valid
    assert status.revoked
    assert not status.trusted
    assert not status.bottom_line


def test_signature_by_expired_signer_fails(test_pki: TestPKI) -> None:
    signature = PdfFileReader(io.BytesIO(_sign(test_pki, "expired"))).embedded_signatures[0]
    status = validate_pdf_signature(signature, _validation_context(test_pki))
    assert status.intact
    assert status.valid
    assert not status.trusted
    assert status.trust_problem_indic == AdESIndeterminate.OUT_OF_BOUNDS_NO_POE
    assert not status.bottom_line


def test_signature_from_unknown_root_is_not_trusted(
    test_pki: TestPKI, unknown_pki: TestPKI
) -> None:
    assert unknown_pki.root_pem != test_pki.root_pem
    signature = PdfFileReader(io.BytesIO(_sign(unknown_pki, "stranger"))).embedded_signatures[0]
    status = validate_pdf_signature(signature, _validation_context(test_pki))
    assert status.intact
    assert status.valid
    assert not status.trusted
    assert status.trust_problem_indic == AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    # ... while its own root does trust it
    own = validate_pdf_signature(signature, _validation_context(unknown_pki))
    assert own.bottom_line


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler's pdfsig is not installed")
def test_pdfsig_accepts_the_signature(test_pki: TestPKI, lta_pdf: bytes, tmp_path: Path) -> None:
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(lta_pdf)
    command = ["pdfsig"]
    certutil = shutil.which("certutil")
    if certutil:
        # an NSS database that trusts our root, so pdfsig can judge the chain too
        nss = tmp_path / "nss"
        nss.mkdir()
        (tmp_path / "root.pem").write_bytes(test_pki.root_pem)
        subprocess.run([certutil, "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
        subprocess.run(
            [
                certutil,
                "-A",
                "-d",
                f"sql:{nss}",
                "-n",
                "edms-test-root",
                "-t",
                "C,C,C",
                "-i",
                str(tmp_path / "root.pem"),
            ],
            check=True,
        )
        command += ["-nssdir", f"sql:{nss}"]
    report = subprocess.run(
        [*command, str(pdf)], capture_output=True, text=True, check=False, timeout=60
    ).stdout
    assert "Signature Validation: Signature is Valid." in report, report
    if certutil:
        assert "Certificate Validation: Certificate is Trusted." in report, report
