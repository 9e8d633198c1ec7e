"""Signing document versions: certification, approvals, the stored result, verification."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from sqlalchemy import select

import signing
from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.signing import services
from edms.signing.models import DocumentSignature
from tests.edms.signing.conftest import version_bytes

PDFSIG = shutil.which("pdfsig")


def _cms_digests(data: bytes) -> dict[str, str]:
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return {
        str(sig.field_name): hashlib.sha256(
            core.load(sig.pkcs7_content, strict=False).dump()
        ).hexdigest()
        for sig in reader.embedded_signatures
    }


def test_the_seal_certifies_before_the_first_signature(
    ctx: Flask, pdf_document: Document, make_signer: Callable[..., User]
) -> None:
    signer = make_signer()
    before = documents.get_version(pdf_document)
    version, row = services.sign_version(
        signer, pdf_document, role_label="Director", certify_fields=["Visa", "Approval"]
    )
    db.session.commit()
    assert version.number == before.number + 1
    assert version.media_type == "application/pdf"
    assert version.original_filename == "order.pdf"
    assert version.comment == f"Signed by {signer.display_name}"
    data = version_bytes(pdf_document)
    assert hashlib.sha256(data).hexdigest() == version.sha256
    # The signer fills the first field the seal laid out.
    assert (row.field_name, row.certified, row.level) == ("Visa", False, "B-T")
    assert row.version_id == version.id
    assert row.signer_id == signer.id
    digests = _cms_digests(data)
    assert row.signature_sha256 == digests["Visa"]
    code = pdf_document.verification_code
    assert code is not None
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){2}", code)
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    fields = {str(name): value for name, value, _ref in enumerate_sig_fields(reader)}
    assert set(fields) == {"Certification", "Visa", "Approval"}
    assert fields["Approval"] is None
    report = signing.verify(io.BytesIO(data), services.trust_store())
    seal, visa = report.signatures
    assert seal.certification == "FILL_FORMS"
    assert seal.signer is not None
    assert seal.signer.common_name == "Ministry (demo) (e-seal)"
    assert (seal.indication, visa.indication) == ("TOTAL_PASSED", "TOTAL_PASSED")
    [event] = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "document.signed", AuditEvent.object_id == str(pdf_document.id)
        )
    )
    assert event.actor_id == signer.id
    assert event.details["field"] == "Visa"
    assert event.details["certified"] is False
    assert event.details["sealed"] == {
        "field": "Certification",
        "signature_sha256": digests["Certification"],
    }


@pytest.mark.usefixtures("no_seal")
def test_without_a_seal_the_first_signer_certifies(
    ctx: Flask, pdf_document: Document, make_signer: Callable[..., User]
) -> None:
    signer = make_signer()
    _version, row = services.sign_version(
        signer, pdf_document, role_label="Director", certify_fields=["Visa", "Approval"]
    )
    db.session.commit()
    assert (row.field_name, row.certified) == ("Certification", True)
    data = version_bytes(pdf_document)
    assert row.signature_sha256 == _cms_digests(data)["Certification"]
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    fields = {str(name): value for name, value, _ref in enumerate_sig_fields(reader)}
    assert set(fields) == {"Certification", "Visa", "Approval"}
    assert fields["Visa"] is None
    assert fields["Approval"] is None


def test_three_approvals_after_certification_all_verify(
    ctx: Flask,
    pdf_document: Document,
    make_signer: Callable[..., User],
    tmp_path: Path,
) -> None:
    head, *approvers = [make_signer() for _ in range(4)]
    deputy_for = approvers[0]
    services.sign_version(
        head, pdf_document, role_label="Head", certify_fields=["Visa1", "Visa2", "Visa3"]
    )
    db.session.commit()
    for n, approver in enumerate(approvers):
        services.sign_version(
            approver,
            pdf_document,
            role_label="Approver",
            task_id=None,
            on_behalf_of=deputy_for if n == 2 else None,
        )
        db.session.commit()
    data = version_bytes(pdf_document)
    report = signing.verify(io.BytesIO(data), services.trust_store())
    assert [s.field_name for s in report.signatures] == [
        "Certification",  # the organisation's seal
        "Visa1",
        "Visa2",
        "Visa3",
        "Signature1",  # no free field was left: an invisible one, certification intact
    ]
    for sig in report.signatures:
        assert sig.indication == "TOTAL_PASSED", (sig.field_name, sig.sub_indication, sig.message)
        assert not sig.changed_after
    assert report.certified
    rows = services.signatures_of(pdf_document)
    assert [r.field_name for r in rows] == [s.field_name for s in report.signatures[1:]]
    digests = _cms_digests(data)
    assert all(r.signature_sha256 == digests[r.field_name] for r in rows)
    assert rows[-1].on_behalf_of_id == deputy_for.id
    assert len(documents.get_version(pdf_document).document.versions) == 5

    if PDFSIG is not None:
        path = tmp_path / "signed.pdf"
        path.write_bytes(data)
        shown = subprocess.run(
            [PDFSIG, "-nocert", str(path)], capture_output=True, text=True, timeout=60, check=False
        ).stdout
        assert shown.count("Signature Validation: Signature is Valid.") == 5, shown


def test_a_signed_pdf_without_certification_gets_visible_fields(
    ctx: Flask, make_user: Callable[..., User], make_document: Any, make_signer: Callable[..., User]
) -> None:
    """A PDF signed elsewhere (not certified): later signatures get boxes in the grid."""
    outside = services.pdf_signer()
    credential = signing.load_pkcs12(
        signing.new_authority("Outside CA").issue("Outsider").pkcs12(b"pw"), b"pw"
    )
    from tests.signing.pdfs import minimal_pdf

    signed = io.BytesIO()
    # An approval signature by someone we do not trust (no pre-signing check).
    signing.PdfSigner(signing.SigningPolicy(level=signing.Level.B_B, check_signer=False)).sign(
        io.BytesIO(minimal_pdf()), signed, credential, field_name="Outside"
    )
    assert outside is services.pdf_signer()  # kept per application
    doc = make_document(make_user(Role.CLERK), content=signed.getvalue(), filename="in.pdf")
    _version, row = services.sign_version(make_signer(), doc, role_label="Registrar")
    assert (row.field_name, row.certified) == ("Signature1", False)
    reader = PdfFileReader(io.BytesIO(version_bytes(doc)), strict=False)
    widget = reader.root["/AcroForm"]["/Fields"][-1]
    assert [int(x) for x in widget["/Rect"]] == [298, 36, 548, 116]  # the grid's second slot


def test_only_pdfs_are_signed(
    ctx: Flask, make_user: Callable[..., User], make_document: Any, make_signer: Callable[..., User]
) -> None:
    doc = make_document(make_user(Role.CLERK), content=b"Plain text\n", filename="memo.txt")
    with pytest.raises(services.NotAPdf) as caught:
        services.sign_version(make_signer(), doc)
    assert caught.value.status == 422
    assert "not a PDF" in caught.value.message


def test_without_a_credential_nothing_is_signed(
    ctx: Flask, pdf_document: Document, make_user: Callable[..., User]
) -> None:
    with pytest.raises(services.SigningUnavailable, match="Signing credential page"):
        services.sign_version(make_user(Role.APPROVER), pdf_document)
    assert documents.get_version(pdf_document).number == 1
    assert pdf_document.verification_code is None
    assert db.session.scalar(select(DocumentSignature.id)) is None


def test_without_a_tsa_the_message_names_the_setting(
    ctx: Flask,
    pdf_document: Document,
    make_signer: Callable[..., User],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = make_signer()
    monkeypatch.setitem(ctx.config["EDMS"], "signing_pki_dir", str(tmp_path))
    monkeypatch.setitem(ctx.config["EDMS"], "signing_tsa_url", "")
    from edms.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="signing_tsa_url"):
        services.sign_version(signer, pdf_document)


def test_stamps_carry_the_code_and_a_link_to_the_verify_page(
    ctx: Flask, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    signer, boss = make_user(Role.APPROVER), make_user(Role.APPROVER)
    monkeypatch.setitem(ctx.config["EDMS"], "mail_base_url", "https://edms.example.uz")
    stamp = services._stamp(signer, "Head of department", boss, "7KQ2-M9XD-4TNB")
    assert list(stamp.lines) == [
        signer.display_name,
        f"On behalf of {boss.display_name}",
        "Head of department",
        ctx.config["EDMS"]["signing_organisation"],
        "Verification code: 7KQ2-M9XD-4TNB",
    ]
    assert stamp.url == "https://edms.example.uz/verify?code=7KQ2-M9XD-4TNB"
    monkeypatch.setitem(ctx.config["EDMS"], "mail_base_url", "")
    assert services._stamp(signer, None, None, "7KQ2-M9XD-4TNB").url is None


def test_verification_codes() -> None:
    alphabet = set(services.CODE_ALPHABET)
    assert not alphabet & set("ILOU")
    assert services.normalise_code("7kq2 m9xd 4tnb") == "7KQ2-M9XD-4TNB"
    assert services.normalise_code("OIL0-1111-2222") == "0110-1111-2222"
    assert services.normalise_code("7KQ2-M9XD-4TN") is None
    assert services.normalise_code("7KQ2-M9XD-4TNU") is None
    assert services.normalise_code("") is None


@given(st.text(alphabet=services.CODE_ALPHABET, min_size=12, max_size=12))
def test_every_code_survives_the_ways_people_type_it(raw: str) -> None:
    code = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
    typed = code.lower().replace("0", "o").replace("1", "l").replace("-", " ")
    assert services.normalise_code(typed) == code
    assert services.normalise_code(raw) == code


def test_new_codes_are_unique_and_well_formed(ctx: Flask) -> None:
    codes = {services.new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(services.normalise_code(code) == code for code in codes)
