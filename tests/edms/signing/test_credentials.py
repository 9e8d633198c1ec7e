"""Signing credentials: upload, demo issuance, revocation, sealing at rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import signing
from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.signing import services
from edms.signing.models import SigningCredential
from tests.conftest import csrf_token, login
from tests.edms.signing.conftest import PASSPHRASE, upload
from tests.edms.ui.conftest import Page
from tests.edms.ui.test_accessibility import check_page

URL = "/account/signing"


def _post(client: FlaskClient, data: bytes, passphrase: str = PASSPHRASE) -> tuple[int, str]:
    reply = client.post(
        URL,
        data={
            "csrf_token": csrf_token(client, URL),
            "file": upload(data, "me.p12"),
            "passphrase": passphrase,
        },
        content_type="multipart/form-data",
    )
    return reply.status_code, reply.get_data(as_text=True)


def _field_errors(html: str, name: str) -> str:
    page = Page(html)
    assert page.find("input", id=name, **{"aria-invalid": "true"}), f"{name} is not marked invalid"
    start = html.index(f'id="{name}-error"')
    return html[start : html.index("</p>", start)]


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def signer_client(client: FlaskClient, make_user: Callable[..., User]) -> tuple[FlaskClient, User]:
    user = make_user(Role.APPROVER)
    login(client, user)
    return client, user


def test_the_page_needs_a_login(client: FlaskClient) -> None:
    reply = client.get(URL)
    assert reply.status_code == 302
    assert "/login" in reply.headers["Location"]


def test_a_good_pkcs12_becomes_the_credential(
    signer_client: tuple[FlaskClient, User], p12s: list[bytes]
) -> None:
    client, user = signer_client
    assert "no signing credential yet" in client.get(URL).get_data(as_text=True)
    status, _html = _post(client, p12s[0])
    assert status == 302
    page = client.get(URL).get_data(as_text=True)
    check_page(page, "en")
    row = services.active_credential(user)
    assert row is not None
    assert row.source == "uploaded"
    assert row.common_name == "Signer 1"
    assert row.organisation == "Ministry (demo)"
    assert row.fingerprint in page
    assert row.serial in page
    assert services.credential_for(user).info.fingerprint == row.fingerprint
    [event] = [e for e in _events("signing.credential.uploaded") if e.actor_id == user.id]
    assert event.details["fingerprint"] == row.fingerprint
    text = repr(event.details)
    assert PASSPHRASE not in text
    assert "PRIVATE" not in text


@pytest.mark.parametrize(
    ("which", "field", "words"),
    [
        ("wrong passphrase", "passphrase", "wrong passphrase"),
        ("garbage", "file", "not a PKCS#12 file"),
        ("untrusted", "file", "not issued by an authority we trust"),
        ("expired", "file", "expired on"),
    ],
)
def test_unusable_files_are_refused_naming_the_field(
    signer_client: tuple[FlaskClient, User],
    p12s: list[bytes],
    stranger_p12: bytes,
    expired_p12: bytes,
    which: str,
    field: str,
    words: str,
) -> None:
    client, user = signer_client
    data, passphrase = {
        "wrong passphrase": (p12s[0], "not-the-passphrase"),
        "garbage": (b"this is not a PKCS#12 file at all", PASSPHRASE),
        "untrusted": (stranger_p12, PASSPHRASE),
        "expired": (expired_p12, PASSPHRASE),
    }[which]
    status, html = _post(client, data, passphrase)
    assert status == 422
    assert words in _field_errors(html, field)
    assert services.active_credential(user) is None


def test_an_empty_form_names_the_file(signer_client: tuple[FlaskClient, User]) -> None:
    client, _user = signer_client
    reply = client.post(URL, data={"csrf_token": csrf_token(client, URL)})
    assert reply.status_code == 422
    assert "a file is required" in _field_errors(reply.get_data(as_text=True), "file")


def test_demo_issuance_replaces_and_revocation_ends_the_credential(
    signer_client: tuple[FlaskClient, User], p12s: list[bytes], demo_pki: signing.Authority
) -> None:
    client, user = signer_client
    assert _post(client, p12s[1])[0] == 302
    first = services.active_credential(user)
    assert first is not None
    page = client.get(URL).get_data(as_text=True)
    assert "Issue me a demo certificate" in page
    reply = client.post(f"{URL}/demo", data={"csrf_token": csrf_token(client, URL)})
    assert reply.status_code == 302
    second = services.active_credential(user)
    assert second is not None
    assert second.id != first.id
    assert second.source == "demo_ca"
    assert second.common_name == user.display_name
    assert db.session.get(SigningCredential, first.id, populate_existing=True).revoked_at  # type: ignore[union-attr]
    assert "Earlier certificates" in client.get(URL).get_data(as_text=True)

    reply = client.post(f"{URL}/{second.id}/revoke", data={"csrf_token": csrf_token(client, URL)})
    assert reply.status_code == 302
    assert services.active_credential(user) is None
    with pytest.raises(services.SigningUnavailable, match="no signing credential"):
        services.credential_for(user)
    assert [e.details["credential"] for e in _events("signing.credential.revoked")] == [second.id]


def test_another_users_credential_cannot_be_revoked(
    client: FlaskClient, make_signer: Callable[..., User], make_user: Callable[..., User]
) -> None:
    owner = make_signer()
    row = services.active_credential(owner)
    assert row is not None
    login(client, make_user(Role.APPROVER))
    client.post(f"{URL}/{row.id}/revoke", data={"csrf_token": csrf_token(client, URL)})
    assert services.active_credential(owner) is not None


def test_without_the_demo_pki_issuance_says_what_to_run(
    ctx: Flask, make_user: Callable[..., User], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ctx.config["EDMS"], "signing_pki_dir", str(tmp_path / "none"))
    with pytest.raises(services.SigningUnavailable, match="run `edms pki init`"):
        services.issue_demo_credential(make_user(Role.APPROVER))


def test_credentials_are_sealed_at_rest(
    ctx: Flask, make_signer: Callable[..., User], p12s: list[bytes]
) -> None:
    user = make_signer()
    row = services.active_credential(user)
    assert row is not None
    key, _cert, _chain = pkcs12.load_key_and_certificates(p12s[0], PASSPHRASE.encode())
    assert key is not None
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stored = db.session.scalar(
        select(SigningCredential.sealed).where(SigningCredential.id == row.id)
    )
    assert stored is not None
    assert der not in stored
    assert der[-64:] not in stored
    assert b"PRIVATE KEY" not in stored
    # Opened with the credential key it is a PKCS#12 without a passphrase; another key fails.
    assert signing.load_pkcs12(signing.unseal(stored, services.credential_key()), None)
    with pytest.raises(signing.CredentialError, match="wrong key"):
        signing.unseal(stored, b"another-key-of-enough-length")


def test_a_credential_sealed_with_another_key_is_refused_clearly(
    ctx: Flask, make_signer: Callable[..., User]
) -> None:
    user = make_signer()
    row = services.active_credential(user)
    assert row is not None
    row.sealed = signing.seal(b"whatever", b"another-key-of-enough-length")
    row.fingerprint = "0" * 64  # a new cache key: nothing loaded before counts
    db.session.flush()
    with pytest.raises(services.SigningUnavailable, match="cannot be read"):
        services.credential_for(user)


def test_an_applicant_has_no_signing_page(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    login(client, make_user(Role.APPLICANT))
    assert client.get(URL).status_code == 403


def test_the_api_tells_the_token_owner_their_credential(
    client: FlaskClient, make_signer: Callable[..., User], make_user: Callable[..., User]
) -> None:
    from edms.auth.services import create_token
    from tests.conftest import bearer

    user = make_signer()
    _, token = create_token(user, "tests")
    nobody = make_user(Role.APPROVER)
    _, other = create_token(nobody, "tests")
    db.session.commit()
    reply = client.get("/api/v1/me/signing-credential", headers=bearer(token))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["common_name"] == "Signer 1"
    assert body["source"] == "uploaded"
    assert "sealed" not in body
    reply = client.get("/api/v1/me/signing-credential", headers=bearer(other))
    assert reply.status_code == 404
    assert reply.mimetype == "application/problem+json"


def test_an_expired_credential_says_so(ctx: Flask, make_signer: Callable[..., User]) -> None:
    from datetime import UTC, datetime

    user = make_signer()
    row = services.active_credential(user)
    assert row is not None
    row.not_after = datetime(2026, 1, 31, tzinfo=UTC)
    db.session.flush()
    with pytest.raises(services.SigningUnavailable, match="expired on 2026-01-31"):
        services.credential_for(user)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (signing.CredentialError("the signing certificate expired on 2026-01-31"), 422),
        (signing.SignerRevoked("the certificate of X is revoked; nothing was signed"), 409),
        (signing.PdfError("the PDF is encrypted"), 422),
        (signing.TimestampError("the time-stamping authority did not answer"), 503),
        (signing.RevocationError("no OCSP answer"), 503),
        (signing.ConversionError("LibreOffice failed"), 422),
        (signing.ConverterMissing("install LibreOffice"), 503),
    ],
)
def test_library_errors_become_http_answers(error: signing.SigningError, status: int) -> None:
    from edms.errors import from_signing_error

    mapped = from_signing_error(error)
    assert mapped.status == status
    assert mapped.message[0].isupper()
