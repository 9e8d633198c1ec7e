"""A small certificate authority for the embedded default and for demos.

Production deployments import certificates issued by the national CA; this
module only makes the demo work out of the box: an organisation CA, a
time-stamping authority and per-user signing certificates, all with the
``cryptography`` package.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing._errors import CredentialError

__all__ = ["Authority", "Issued", "new_authority"]

Purpose = Literal["signing", "timestamping"]


def _name(common_name: str, organisation: str | None, country: str | None) -> x509.Name:
    parts = []
    if country:
        parts.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Issued:
    """A key and the certificate issued for it, with the chain up to the root."""

    key_pem: bytes
    cert_pem: bytes
    chain_pem: bytes

    def pkcs12(self, passphrase: bytes, friendly_name: str = "signing") -> bytes:
        """The key, certificate and chain as a PKCS#12 archive encrypted with ``passphrase``."""
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        chain = x509.load_pem_x509_certificates(self.chain_pem) if self.chain_pem else []
        if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - we only make RSA
            raise CredentialError("only RSA keys are issued here")
        return pkcs12.serialize_key_and_certificates(
            friendly_name.encode(),
            key,
            cert,
            chain,
            serialization.BestAvailableEncryption(passphrase),
        )


class Authority:
    """A self-signed certificate authority that issues end-entity certificates."""

    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialError("the CA key must be an RSA key")
        self._key = key
        self.key_pem = key_pem
        self.cert_pem = cert_pem
        self.certificate = x509.load_pem_x509_certificate(cert_pem)

    def issue(
        self,
        common_name: str,
        *,
        organisation: str | None = None,
        title: str | None = None,
        purpose: Purpose = "signing",
        days: int = 730,
    ) -> Issued:
        """Issue a certificate for a new key: document signing or time stamping."""
        key = _new_key()
        now = datetime.now(UTC)
        attributes = []
        country = self.certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
        if country:
            attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, str(country[0].value)))
        if organisation:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
        if title:
            attributes.append(x509.NameAttribute(NameOID.TITLE, title))
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + timedelta(days=days), self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if purpose == "timestamping":
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
        else:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(
            key_pem=_key_pem(key),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            chain_pem=self.cert_pem,
        )


def new_authority(
    common_name: str,
    *,
    organisation: str | None = None,
    country: str | None = None,
    days: int = 3650,
) -> Authority:
    """Create a new self-signed root CA."""
    key = _new_key()
    now = datetime.now(UTC)
    name = _name(common_name, organisation, country)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))
