"""Signing and verification against a real PKI (certomancer on loopback) and pdfsig."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import signing
from signing import FieldSpec, Level, PdfSigner, Placement, SigningPolicy, Stamp, TrustStore
from signing.testing import TestPKI
from tests.signing.pdfs import big_pdf, encrypted_pdf, minimal_pdf
from tests.signing.pdfsig import CERTUTIL, PDFSIG, pdfsig

PDFTOTEXT = shutil.which("pdftotext")


@pytest.fixture(scope="module")
def trust(test_pki: TestPKI) -> TrustStore:
    return TrustStore.from_data([test_pki.root_pem], [test_pki.intermediate_pem])


@pytest.fixture(scope="module")
def credentials(test_pki: TestPKI) -> dict[str, signing.Credential]:
    return {
        name: signing.load_pkcs12(test_pki.pkcs12(name), b"secret")
        for name in ("signer1", "signer2", "signer3", "signer4", "revoked", "expired")
    }


def _signer(test_pki: TestPKI, trust: TrustStore, level: Level, **kwargs: object) -> PdfSigner:
    return PdfSigner(SigningPolicy(level=level, tsa_url=test_pki.tsa_url, trust=trust, **kwargs))  # type: ignore[arg-type]


def _sign(
    signer: PdfSigner, data: bytes, credential: signing.Credential, **kwargs: object
) -> bytes:
    out = io.BytesIO()
    signer.sign(io.BytesIO(data), out, credential, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Level.B_B, "PAdES-BASELINE-B"),
        (Level.B_T, "PAdES-BASELINE-T"),
        (Level.B_LT, "PAdES-BASELINE-LT"),
        (Level.B_LTA, "PAdES-BASELINE-LTA"),
    ],
)
def test_each_level_verifies_total_passed(
    test_pki: TestPKI,
    trust: TrustStore,
    credentials: dict[str, signing.Credential],
    level: Level,
    expected: str,
) -> None:
    signed = _sign(_signer(test_pki, trust, level), minimal_pdf(), credentials["signer1"])
    report = signing.verify(io.BytesIO(signed), trust)
    [sig] = report.signatures
    assert (sig.indication, sig.sub_indication) == ("TOTAL_PASSED", None), sig.message
    assert sig.level == expected
    assert sig.signer is not None
    assert sig.signer.common_name == "Test Signer One"
    assert sig.coverage == "ENTIRE_FILE" or level.long_term
    assert sig.timestamped is level.timestamped
    if level.timestamped:
        assert sig.best_time is not None
        assert sig.claimed_time is not None
        assert abs((sig.best_time - sig.claimed_time).total_seconds()) < 60


def test_long_term_signature_verifies_offline_from_embedded_data(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    lt = _sign(_signer(test_pki, trust, Level.B_LT), minimal_pdf(), credentials["signer1"])
    assert signing.verify(io.BytesIO(lt), trust, offline=True).indication == "TOTAL_PASSED"
    # A B-B signature carries no revocation data: offline, its status cannot be known.
    bb = _sign(_signer(test_pki, trust, Level.B_B), minimal_pdf(), credentials["signer1"])
    [sig] = signing.verify(io.BytesIO(bb), trust, offline=True).signatures
    assert sig.indication == "INDETERMINATE"


def test_approval_chain_keeps_every_signature_valid(
    test_pki: TestPKI,
    trust: TrustStore,
    credentials: dict[str, signing.Credential],
    tmp_path: Path,
) -> None:
    """Certification with pre-created fields, then three approvals: all stay valid."""
    signer = _signer(test_pki, trust, Level.B_T)
    fields = [
        FieldSpec(f"Approval{n}", Placement(page=-1, box=(36, 36 + 90 * n, 286, 116 + 90 * n)))
        for n in range(1, 4)
    ]
    url = "https://edms.example/verify?code=ABCD-EFGH-JKMN"
    out = io.BytesIO()
    certification = signer.sign(
        io.BytesIO(minimal_pdf(2)),
        out,
        credentials["signer1"],
        field_name="Certification",
        certify=True,
        new_fields=fields,
        placement=Placement(page=0, box=(300, 700, 560, 800)),
        stamp=Stamp(["Test Signer One", "Вазир ўринбосари", "Code: ABCD-EFGH-JKMN"], url=url),
    )
    assert certification.certified
    data = out.getvalue()
    hashes = {"Certification": certification.signature_sha256}
    # Four different signers: poppler's pdfsig (NSS) reports "Unknown issue with
    # Certificate" for a certificate it met earlier in the same file, whatever pyHanko
    # says (seen with one signer certifying and approving).
    for n, name in enumerate(("signer2", "signer3", "signer4"), 1):
        out = io.BytesIO()
        result = signer.sign(
            io.BytesIO(data),
            out,
            credentials[name],
            field_name=f"Approval{n}",
            stamp=Stamp([credentials[name].info.common_name, "Oʻzbekiston gʻalla"]),
        )
        hashes[result.field_name] = result.signature_sha256
        data = out.getvalue()

    report = signing.verify(io.BytesIO(data), trust, xml=True)
    assert [s.field_name for s in report.signatures] == [
        "Certification",
        "Approval1",
        "Approval2",
        "Approval3",
    ]
    for sig in report.signatures:
        assert sig.indication == "TOTAL_PASSED", (sig.field_name, sig.sub_indication, sig.message)
        assert not sig.changed_after
        assert sig.signature_sha256 == hashes[sig.field_name]
        assert sig.xml is not None
        assert "total-passed" in sig.xml.lower()
    assert report.certified
    assert report.signatures[0].certification == "FILL_FORMS"
    assert report.signatures[0].modifications == "FORM_FILLING"
    assert report.signatures[-1].coverage == "ENTIRE_FILE"
    assert report.indication == "TOTAL_PASSED"

    if PDFSIG is not None:
        text = pdfsig(data, tmp_path, test_pki.root_pem)
        assert text.count("Signature Validation: Signature is Valid.") == 4, text
        if CERTUTIL is not None:
            assert text.count("Certificate Validation: Certificate is Trusted.") == 4, text
        assert "Total document signed" in text
    if PDFTOTEXT is not None:
        path = tmp_path / "chain.pdf"
        path.write_bytes(data)
        shown = subprocess.run(
            [PDFTOTEXT, str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        # Stamps are form XObjects pdftotext does not always read; the Cyrillic role
        # text is checked through the content of the appearance streams instead.
        assert "Test document" in shown


def test_stamp_draws_cyrillic_and_uzbek_text_with_a_unicode_font(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    signer = _signer(test_pki, trust, Level.B_B)
    signed = _sign(
        signer,
        minimal_pdf(),
        credentials["signer1"],
        placement=Placement(box=(36, 600, 336, 700)),
        stamp=Stamp(["Алишер Навоий", "Oʻzbekiston"], url="https://edms.example/verify"),
    )
    reader = PdfFileReader(io.BytesIO(signed))
    [sig] = reader.embedded_signatures
    widget = sig.sig_field["/Kids"][0] if "/Kids" in sig.sig_field else sig.sig_field
    appearance = widget["/AP"]["/N"]
    fonts = re.findall(rb"/BaseFont\s*/(\S+)", signed)
    assert any(b"DejaVu" in f or b"Liberation" in f for f in fonts), fonts
    assert appearance is not None


def test_revoked_signer_is_refused_and_reported(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    with pytest.raises(signing.SignerRevoked, match="revoked"):
        _sign(_signer(test_pki, trust, Level.B_T), minimal_pdf(), credentials["revoked"])
    # Signed anyway by someone who skipped the check: verification says REVOKED.
    unchecked = _signer(test_pki, trust, Level.B_T, check_signer=False)
    signed = _sign(unchecked, minimal_pdf(), credentials["revoked"])
    [sig] = signing.verify(io.BytesIO(signed), trust).signatures
    assert sig.indication in ("TOTAL_FAILED", "INDETERMINATE")
    assert sig.sub_indication in ("REVOKED", "REVOKED_NO_POE"), sig.message


def test_expired_signer_is_refused(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    with pytest.raises(signing.CredentialError, match="expired"):
        _sign(_signer(test_pki, trust, Level.B_B), minimal_pdf(), credentials["expired"])


def test_unknown_root_is_indeterminate(
    test_pki: TestPKI, unknown_pki: TestPKI, trust: TrustStore
) -> None:
    stranger = signing.load_pkcs12(unknown_pki.pkcs12("stranger"), b"secret")
    with pytest.raises(signing.CredentialError, match="trusted"):
        _sign(_signer(test_pki, trust, Level.B_B), minimal_pdf(), stranger)
    unchecked = _signer(test_pki, trust, Level.B_B, check_signer=False)
    signed = _sign(unchecked, minimal_pdf(), stranger)
    [sig] = signing.verify(io.BytesIO(signed), trust).signatures
    assert (sig.indication, sig.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")


def test_one_flipped_byte_is_a_hash_failure(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    signed = bytearray(
        _sign(_signer(test_pki, trust, Level.B_B), minimal_pdf(), credentials["signer1"])
    )
    where = signed.index(b"(Test document 1)")
    signed[where + 1] ^= 0x01  # "Test" -> "Uest" in the page's text
    [sig] = signing.verify(io.BytesIO(bytes(signed)), trust).signatures
    assert (sig.indication, sig.sub_indication) == ("TOTAL_FAILED", "HASH_FAILURE")


def test_changes_after_a_signature_are_reported(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = _sign(_signer(test_pki, trust, Level.B_B), minimal_pdf(), credentials["signer1"])
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    [sig] = signing.verify(io.BytesIO(out.getvalue()), trust).signatures
    assert sig.coverage == "ENTIRE_REVISION"
    assert sig.changed_after
    assert sig.modifications == "OTHER"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (minimal_pdf(), "NO_SIGNATURE"),
        (b"%PDF-1.7\nthis is not really a PDF", "NOT_A_PDF"),
        (b"\x00" * 100, "NOT_A_PDF"),
        (b"", "NOT_A_PDF"),
        (encrypted_pdf(), "ENCRYPTED"),
    ],
    ids=["unsigned", "broken", "zeros", "empty", "encrypted"],
)
def test_files_that_cannot_be_verified_get_a_clear_answer(
    trust: TrustStore, data: bytes, code: str
) -> None:
    report = signing.verify(io.BytesIO(data), trust)
    assert report.problem_code == code
    assert report.problem
    assert report.indication is None
    assert report.as_dict()["problem"] == code


def test_broken_and_encrypted_pdfs_are_refused_for_signing(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    signer = _signer(test_pki, trust, Level.B_B)
    with pytest.raises(signing.PdfError, match="not a readable PDF"):
        _sign(signer, b"%PDF-1.4 garbage", credentials["signer1"])
    with pytest.raises(signing.PdfError, match="encrypted"):
        _sign(signer, encrypted_pdf(), credentials["signer1"])


def test_certification_must_come_first(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    signer = _signer(test_pki, trust, Level.B_B)
    once = _sign(signer, minimal_pdf(), credentials["signer1"])
    with pytest.raises(signing.SigningError, match="first signature"):
        _sign(signer, once, credentials["signer2"], certify=True)


def test_unreachable_tsa_is_a_timestamp_error(
    trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    policy = SigningPolicy(
        level=Level.B_T, tsa_url="http://127.0.0.1:9/tsa", trust=trust, timeout=2
    )
    with pytest.raises(signing.TimestampError):
        _sign(PdfSigner(policy), minimal_pdf(), credentials["signer1"])


@pytest.mark.slow
def test_a_100_mb_pdf_is_signed_and_verified_in_bounded_memory(
    test_pki: TestPKI,
    trust: TrustStore,
    credentials: dict[str, signing.Credential],
    tmp_path: Path,
) -> None:
    import psutil

    source = big_pdf(tmp_path / "big.pdf", 100 * 1024 * 1024)
    process = psutil.Process()
    before = process.memory_info().rss
    signer = _signer(test_pki, trust, Level.B_B)
    with source.open("rb") as fh, (tmp_path / "signed.pdf").open("w+b") as out:
        signer.sign(fh, out, credentials["signer1"])
        out.seek(0)
        report = signing.verify(out, trust)
    grown = process.memory_info().rss - before
    assert report.indication == "TOTAL_PASSED"
    assert report.size > 100 * 1024 * 1024
    assert grown < 64 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MiB"


def test_policy_needs_a_tsa_and_trust_for_higher_levels() -> None:
    with pytest.raises(signing.SigningError, match="time-stamping"):
        SigningPolicy(level=Level.B_T)
    with pytest.raises(signing.SigningError, match="trust store"):
        SigningPolicy(level=Level.B_LT, tsa_url="http://127.0.0.1:9/")
    assert Level.parse("pades-b-lta") is Level.B_LTA
    with pytest.raises(signing.SigningError, match="unknown PAdES level"):
        Level.parse("B-X")


def test_a_too_small_reserve_falls_back_to_measuring(
    test_pki: TestPKI, trust: TrustStore, credentials: dict[str, signing.Credential]
) -> None:
    signer = _signer(test_pki, trust, Level.B_T, signature_reserve=1000)
    signed = _sign(signer, minimal_pdf(), credentials["signer1"], certify=True)
    [sig] = signing.verify(io.BytesIO(signed), trust).signatures
    assert sig.indication == "TOTAL_PASSED"
    assert sig.certification == "FILL_FORMS"


def test_credentials_load_and_seal(test_pki: TestPKI) -> None:
    data = test_pki.pkcs12("signer1", b"pass")
    with pytest.raises(signing.CredentialError, match="wrong passphrase"):
        signing.load_pkcs12(data, b"nope")
    with pytest.raises(signing.CredentialError, match="not a readable PKCS#12"):
        signing.load_pkcs12(b"\x30\x03garbage", b"pass")
    credential = signing.load_pkcs12(data, b"pass")
    assert credential.info.common_name == "Test Signer One"
    sealed = signing.seal(data, b"a key of sixteen+ bytes")
    assert data not in sealed
    assert signing.unseal(sealed, b"a key of sixteen+ bytes") == data
    with pytest.raises(signing.CredentialError, match="cannot be decrypted"):
        signing.unseal(sealed, b"another key, also long")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(signing.CredentialError, match="cannot be decrypted"):
        signing.unseal(bytes(tampered), b"a key of sixteen+ bytes")
    cache = signing.CredentialCache(size=1)
    loads: list[int] = []

    def load() -> signing.Credential:
        loads.append(1)
        return credential

    assert cache.get("a", load) is cache.get("a", load)
    assert len(loads) == 1
