"""Fixtures of the signing tests: the demo PKI of the test app, signers, small PDFs.

The session's application keeps its demo PKI in ``<data_dir>/pki`` (the default
``signing_pki_dir``); it is made once per test worker. RSA keys take tens of
milliseconds each, so the certificates the tests upload are issued once per session.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import Flask

import signing
from edms.auth.models import Role, User
from edms.db import db
from edms.documents.models import Document
from edms.signing import pki, services
from tests.signing.pdfs import minimal_pdf

PASSPHRASE = "correct-p12-passphrase"


@pytest.fixture(scope="session")
def demo_pki(app: Flask) -> signing.Authority:
    """The demo CA of the test application (made by ``edms pki init``'s service)."""
    with app.app_context():
        services.init_demo_pki()
        authority = pki.load_authority(services.pki_dir())
    assert authority is not None
    return authority


@pytest.fixture(scope="session")
def p12s(demo_pki: signing.Authority) -> list[bytes]:
    """Four PKCS#12 files from the demo CA, protected with PASSPHRASE."""
    return [
        demo_pki.issue(f"Signer {n}", organisation="Ministry (demo)").pkcs12(PASSPHRASE.encode())
        for n in range(1, 5)
    ]


@pytest.fixture(scope="session")
def stranger_p12() -> bytes:
    """A PKCS#12 from a CA nobody trusts."""
    authority = signing.new_authority("Stranger CA", organisation="Elsewhere")
    return authority.issue("Stranger").pkcs12(PASSPHRASE.encode())


def _ec_certificate(
    issuer_key: Any, issuer_cert: x509.Certificate, common_name: str, not_after: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=365))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="session")
def expired_p12(demo_pki: signing.Authority) -> bytes:
    """A certificate of the demo CA that expired yesterday (made with cryptography)."""
    ca_key = serialization.load_pem_private_key(demo_pki.key_pem, password=None)
    key, cert = _ec_certificate(
        ca_key, demo_pki.certificate, "Expired Signer", datetime.now(UTC) - timedelta(days=1)
    )
    return pkcs12.serialize_key_and_certificates(
        b"expired",
        key,
        cert,
        [demo_pki.certificate],
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )


@pytest.fixture(scope="session")
def other_ca_pem() -> bytes:
    """The certificate of another CA, for the trust store page."""
    return signing.new_authority("Partner CA", organisation="Partner agency").cert_pem


@pytest.fixture
def make_signer(
    ctx: Flask, make_user: Callable[..., User], p12s: list[bytes]
) -> Callable[..., User]:
    used = iter(p12s)

    def make(role: Role = Role.APPROVER, **kwargs: Any) -> User:
        user = make_user(role, **kwargs)
        services.upload_credential(user, next(used), PASSPHRASE)
        db.session.commit()
        return user

    return make


@pytest.fixture
def pdf_document(ctx: Flask, make_user: Callable[..., User], make_document: Any) -> Document:
    """A registered document whose file is a two-page PDF."""
    clerk = make_user(Role.CLERK)
    doc: Document = make_document(clerk, content=minimal_pdf(2), filename="order.pdf")
    return doc


def version_bytes(doc: Document) -> bytes:
    from edms.documents import services as documents

    with documents.open_version(documents.get_version(doc)) as fh:
        return fh.read()


@pytest.fixture
def signed_document(pdf_document: Document, make_signer: Callable[..., User]) -> Iterator[Document]:
    """``pdf_document`` certified by the organisation's seal and signed by one signer."""
    signer = make_signer()
    services.sign_version(signer, pdf_document, role_label="Director", certify_fields=["Visa"])
    db.session.commit()
    return pdf_document


def flip_byte(data: bytes, marker: bytes = b"Test document") -> bytes:
    """``data`` with one byte of the signed page content changed."""
    at = data.index(marker)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def upload(content: bytes, filename: str = "signed.pdf") -> tuple[io.BytesIO, str]:
    return io.BytesIO(content), filename


@pytest.fixture
def no_seal(ctx: Flask) -> Iterator[None]:
    """The demo PKI without its organisation seal, for as long as the test runs (tests of
    one worker run one after another, so moving the files aside is safe)."""
    base = services.pki_dir()
    moved = []
    for name in (pki.SEAL_P12, pki.SEAL_PASS):
        path = base / name
        if path.exists():
            path.rename(path.with_name(path.name + ".aside"))
            moved.append(path)
    try:
        yield
    finally:
        for path in moved:
            path.with_name(path.name + ".aside").rename(path)
