"""The trust store: configuration files, certificates added by administrators, the demo CA."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import signing
from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.errors import ConfigError, PermissionDenied, ValidationError
from edms.signing import services
from edms.signing.models import TrustedCertificate
from tests.conftest import csrf_token, login
from tests.edms.signing.conftest import upload
from tests.edms.ui.test_accessibility import check_page

URL = "/admin/trust"


def _fingerprint(pem: bytes) -> str:
    [cert] = signing.load_certificates(pem)
    return signing.certificate_info(cert).fingerprint


def _roots() -> set[str]:
    return {signing.certificate_info(c).fingerprint for c in services.trust_store().roots}


def test_the_demo_ca_is_trusted(ctx: Flask, demo_pki: signing.Authority) -> None:
    assert _fingerprint(demo_pki.cert_pem) in _roots()
    assert [a.source for a in services.trust_anchors()] == ["demo"]


def test_an_admin_adds_and_removes_an_authority(
    client: FlaskClient,
    make_user: Callable[..., User],
    other_ca_pem: bytes,
    demo_pki: signing.Authority,
) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin)
    page = client.get(URL)
    assert page.status_code == 200
    check_page(page.get_data(as_text=True), "en")
    fingerprint = _fingerprint(other_ca_pem)
    assert fingerprint not in _roots()

    reply = client.post(
        URL,
        data={
            "csrf_token": csrf_token(client, URL),
            "file": upload(other_ca_pem, "partner.pem"),
            "note": "From the partner's website",
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    html = client.get(URL).get_data(as_text=True)
    assert fingerprint in html
    assert "From the partner" in html
    assert fingerprint in _roots()
    row = db.session.scalar(
        select(TrustedCertificate).where(TrustedCertificate.fingerprint == fingerprint)
    )
    assert row is not None
    assert row.added_by_id == admin.id

    reply = client.post(f"{URL}/{row.id}/remove", data={"csrf_token": csrf_token(client, URL)})
    assert reply.status_code == 302
    assert fingerprint not in _roots()
    assert fingerprint not in client.get(URL).get_data(as_text=True)
    actions = list(
        db.session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "trusted_certificate",
                AuditEvent.object_id == str(row.id),
            )
        )
    )
    assert actions == ["signing.trust.added", "signing.trust.removed"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not a certificate", "not a certificate in PEM or DER form"),
        (b"", "a file is required"),
    ],
)
def test_bad_files_are_refused(
    client: FlaskClient, make_user: Callable[..., User], content: bytes, words: str
) -> None:
    login(client, make_user(Role.ADMIN))
    data: dict[str, object] = {"csrf_token": csrf_token(client, URL)}
    if content:
        data["file"] = upload(content, "ca.pem")
    reply = client.post(URL, data=data, content_type="multipart/form-data")
    assert reply.status_code == 422
    assert words in reply.get_data(as_text=True)


def test_only_authorities_are_added(
    ctx: Flask, make_user: Callable[..., User], demo_pki: signing.Authority
) -> None:
    admin = make_user(Role.ADMIN)
    leaf = demo_pki.issue("Just a signer").cert_pem
    with pytest.raises(ValidationError, match="not the certificate of a certificate authority"):
        services.add_trusted(admin, leaf)
    services.add_trusted(admin, demo_pki.cert_pem)
    with pytest.raises(ValidationError, match="already trusted"):
        services.add_trusted(admin, demo_pki.cert_pem)


def test_others_are_refused_and_the_denial_is_audited(
    client: FlaskClient, make_user: Callable[..., User], other_ca_pem: bytes
) -> None:
    reply = client.get(URL)
    assert reply.status_code == 302
    assert "/login" in reply.headers["Location"]
    clerk = make_user(Role.CLERK)
    login(client, clerk)
    token = csrf_token(client, "/documents")
    assert client.get(URL).status_code == 403
    reply = client.post(
        URL,
        data={"csrf_token": token, "file": upload(other_ca_pem, "ca.pem")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 403
    assert client.post(f"{URL}/1/remove", data={"csrf_token": token}).status_code == 403
    denials = list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.actor_id == clerk.id
            )
        )
    )
    assert len(denials) == 3
    assert _fingerprint(other_ca_pem) not in _roots()
    assert 'href="/admin/trust"' not in client.get("/documents").get_data(as_text=True)
    with pytest.raises(PermissionDenied):
        services.add_trusted(clerk, other_ca_pem)


def test_certificates_from_the_configured_file_or_directory(
    ctx: Flask, other_ca_pem: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "trust"
    directory.mkdir()
    (directory / "partner.pem").write_bytes(other_ca_pem)
    (directory / "README.txt").write_text("not a certificate, and not read")
    monkeypatch.setitem(ctx.config["EDMS"], "signing_trust_store", str(directory))
    assert _fingerprint(other_ca_pem) in _roots()
    assert [a.source for a in services.trust_anchors()] == ["config", "demo"]
    monkeypatch.setitem(ctx.config["EDMS"], "signing_trust_store", str(directory / "partner.pem"))
    assert _fingerprint(other_ca_pem) in _roots()
    (directory / "broken.crt").write_bytes(b"garbage")
    monkeypatch.setitem(ctx.config["EDMS"], "signing_trust_store", str(directory))
    with pytest.raises(ConfigError, match="signing_trust_store"):
        services.trust_store()
