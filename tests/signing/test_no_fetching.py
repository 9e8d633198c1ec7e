"""A PDF from anyone must not make the verifier fetch the URLs its certificates name."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

import signing
from signing import Level, PdfSigner, SigningPolicy
from tests.signing.pdfs import minimal_pdf


def _cert(
    subject: str, issuer: str, key: Any, issuer_key: Any, *, ca: bool, aia: str | None = None
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if aia:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia),
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def test_verification_never_fetches_issuers_named_by_the_pdf() -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in "abc")
        root = _cert("Root", "Root", root_key, root_key, ca=True)
        url = f"http://127.0.0.1:{server.server_port}/intermediate.crt"
        leaf = _cert("Signer", "Intermediate", leaf_key, inter_key, ca=False, aia=url)
        # The PKCS#12 carries no chain: the intermediate is nowhere in the PDF.
        p12 = pkcs12.serialize_key_and_certificates(
            b"s", leaf_key, leaf, None, serialization.NoEncryption()
        )
        credential = signing.load_pkcs12(p12)
        signer = PdfSigner(SigningPolicy(level=Level.B_B, check_signer=False))
        out = io.BytesIO()
        signer.sign(io.BytesIO(minimal_pdf()), out, credential)
        trust = signing.TrustStore.from_data([root.public_bytes(serialization.Encoding.PEM)])
        [sig] = signing.verify(io.BytesIO(out.getvalue()), trust).signatures
    finally:
        server.shutdown()
        server.server_close()
    assert (sig.indication, sig.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert hits == []
