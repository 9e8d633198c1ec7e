"""Benchmark: PAdES signatures and verifications per second, ``signing`` against raw pyHanko.

In one run, for B-B and B-T on a one-page PDF:

- invisible signatures through ``signing.PdfSigner`` (credential loaded once, as
  ``CredentialCache`` keeps it; no trust store, so the pre-signing check is the validity
  dates) and through pyHanko's ``PdfSigner`` used the fast way: the private key parsed
  once (stock ``SimpleSigner`` parses its DER key in every signature, about 40 ms for
  RSA-2048, so the baseline subclasses it) and ``bytes_reserved`` set to what ours
  reserves;
- verifications of the same signed PDF through ``signing.verify(offline=True)`` and
  through the EN 319 102-1 process ``signing.verify`` picks for that level, called on
  pyHanko directly (``ades_basic_validation`` for B-B, ``ades_with_time_validation``
  for B-T), with the same document integrity (diff) analysis and validation settings.

Raw and ours take turns one operation at a time (raw, ours, ours, raw, ...), so a busy
moment of the machine falls on both; each side's rate is one over its median time per
operation, and the ratio ours/raw is printed (target: >= 0.9). Stock
pyHanko (``SimpleSigner`` loaded once; and its defaults: the key read from PKCS#12 per
signature, no reserve) is printed for context.

Keys: a throw-away RSA-2048 CA, signer and time-stamping authority made with
``signing.new_authority``; time stamps come from pyHanko's ``DummyTimeStamper`` with the
local TSA key on both sides, so there is no network. This is a benchmark, not a test:
it exits 0 whatever the figures.

Usage: ``.venv/bin/python bench/signing.py [--iterations 200] [--iterations-t 100]
[--context 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms, core
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import as_signing_certificate, simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.ades import ades_basic_validation, ades_with_time_validation
from pyhanko.sign.validation.policy_decl import PdfSignatureValidationSpec
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import signing  # noqa: E402

PASSPHRASE = b"bench"
TARGET = 0.9


def minimal_pdf(text: str = "Bench document") -> bytes:
    """A valid one-page A4 PDF with a line of Helvetica (as tests/signing/pdfs.py)."""
    stream = f"BT /F1 24 Tf 72 760 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1,
        xref,
    )
    return bytes(out)


def rsa_key(signer: signers.SimpleSigner) -> RSAPrivateKey:
    key = serialization.load_der_private_key(signer.signing_key.dump(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


class KeyOnceSigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner with the key parsed once.

    SimpleSigner parses its DER key in every ``sign_raw``, and cryptography checks an
    RSA key while parsing it (about 40 ms for RSA-2048): loading the key once takes
    this much in raw pyHanko.
    """

    def __init__(self, base: signers.SimpleSigner) -> None:
        super().__init__(
            signing_cert=base.signing_cert,
            signing_key=base.signing_key,
            cert_registry=base.cert_registry,
        )
        self.key = rsa_key(base)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        return self.key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


class KeyOnceTimeStamper(DummyTimeStamper):
    """pyHanko's DummyTimeStamper with the TSA key parsed once (same reason)."""

    def __init__(self, tsa: signing.Credential) -> None:
        super().__init__(
            tsa_cert=tsa.certificate,
            tsa_key=tsa.signer.signing_key,
            certs_to_embed=tsa.signer.cert_registry,
        )
        self.key = rsa_key(tsa.signer)

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt: Any) -> Any:
        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                simple_cms_attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
                simple_cms_attribute("message_digest", md.finalize()),
            ]
        )
        hash_algo = get_pyca_cryptography_hash(md_algorithm.upper())
        return self.key.sign(signed_attrs.dump(), PKCS1v15(), hash_algo), signed_attrs


@dataclass
class Keys:
    signer_p12: bytes
    credential: signing.Credential  #: ours, loaded once (as CredentialCache keeps it)
    raw_signer: signers.SimpleSigner  #: raw, loaded once from PKCS#12
    tsa: signing.Credential
    trust: signing.TrustStore


def make_keys() -> Keys:
    authority = signing.new_authority("Bench Root CA", organisation="EDMS bench", country="UZ")
    signer_p12 = authority.issue("Bench Signer", organisation="EDMS bench").pkcs12(PASSPHRASE)
    tsa_p12 = authority.issue("Bench TSA", purpose="timestamping").pkcs12(PASSPHRASE)
    raw_signer = signers.SimpleSigner.load_pkcs12_data(
        signer_p12, other_certs=(), passphrase=PASSPHRASE
    )
    assert raw_signer is not None
    return Keys(
        signer_p12=signer_p12,
        credential=signing.load_pkcs12(signer_p12, PASSPHRASE),
        raw_signer=raw_signer,
        tsa=signing.load_pkcs12(tsa_p12, PASSPHRASE),
        trust=signing.TrustStore.from_data([authority.cert_pem]),
    )


def timestamper(tsa: signing.Credential) -> DummyTimeStamper:
    """pyHanko's local time stamper as the quick start builds it."""
    return DummyTimeStamper(
        tsa_cert=tsa.certificate,
        tsa_key=tsa.signer.signing_key,
        certs_to_embed=tsa.signer.cert_registry,
    )


def raw_metadata() -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )


def reserved_by_ours(signed: bytes) -> int:
    """What ``signing`` reserved for the CMS, in pyHanko's unit (hex digits of /Contents)."""
    sig = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures[0]
    return 2 * len(sig.pkcs7_content)


class Case:
    """Signing and verifying at one level: raw pyHanko and ``signing``."""

    def __init__(self, keys: Keys, level: signing.Level, pdf: bytes) -> None:
        self.keys = keys
        self.level = level
        self.pdf = pdf
        stamped = level.timestamped
        self.ours = signing.PdfSigner(
            signing.SigningPolicy(level=level, tsa_credential=keys.tsa if stamped else None)
        )
        self.raw = signers.PdfSigner(
            raw_metadata(),
            signer=KeyOnceSigner(keys.raw_signer),
            timestamper=KeyOnceTimeStamper(keys.tsa) if stamped else None,
        )
        self.stock = signers.PdfSigner(
            raw_metadata(),
            signer=keys.raw_signer,
            timestamper=timestamper(keys.tsa) if stamped else None,
        )
        self.signed = self.sign_ours()
        self.reserve = reserved_by_ours(self.signed)
        self.spec = keys.trust.pdf_validation_spec(fetch=False)
        assert self.verify_raw(self.sign_raw()) == "PASSED"
        assert self.verify_raw(self.signed) == "PASSED"
        assert self.verify_ours(self.signed) == "TOTAL_PASSED"

    # --- signing ---

    def _sign_with(self, pdf_signer: signers.PdfSigner, reserve: int | None) -> bytes:
        output = io.BytesIO()
        pdf_signer.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(self.pdf), strict=False),
            bytes_reserved=reserve,
            output=output,
        )
        return output.getvalue()

    def sign_raw(self) -> bytes:
        """Raw pyHanko at its best: key parsed once, size reserved (as much as ours)."""
        return self._sign_with(self.raw, self.reserve)

    def sign_stock(self) -> bytes:
        """Stock SimpleSigner loaded once (it parses the key per signature), size reserved."""
        return self._sign_with(self.stock, self.reserve)

    def sign_defaults(self) -> bytes:
        """pyHanko as its quick start shows it: the key read from PKCS#12 per signature,
        the size estimated by a dry run."""
        signer = signers.SimpleSigner.load_pkcs12_data(
            self.keys.signer_p12, other_certs=(), passphrase=PASSPHRASE
        )
        assert signer is not None
        tsa = timestamper(self.keys.tsa) if self.level.timestamped else None
        return self._sign_with(signers.PdfSigner(raw_metadata(), signer, timestamper=tsa), None)

    def sign_ours(self) -> bytes:
        output = io.BytesIO()
        self.ours.sign(io.BytesIO(self.pdf), output, self.keys.credential)
        return output.getvalue()

    # --- verifying (the same signed PDF on both sides) ---

    def verify_raw(self, pdf: bytes) -> str:
        """The process ``signing.verify`` runs for this level, on pyHanko directly."""
        sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
        return asyncio.run(_raw_validate(sig, self.spec, self.level.timestamped))

    def verify_ours(self, pdf: bytes) -> str | None:
        return signing.verify(io.BytesIO(pdf), self.keys.trust, offline=True).indication


async def _raw_validate(sig: Any, spec: PdfSignatureValidationSpec, timestamped: bool) -> str:
    # Coverage and changes after signing: signing.verify reports them, so both do it.
    sig.compute_integrity_info(diff_policy=spec.diff_policy)
    if timestamped:  # EN 319 102-1 § 5.5, validation with time
        result = await ades_with_time_validation(
            sig.signed_data,
            spec.signature_validation_spec,
            raw_digest=sig.compute_digest(),
            extra_status_kwargs=sig.summarise_integrity_info(),
            status_cls=PdfSignatureStatus,
        )
    else:  # § 5.3, basic validation
        result = await ades_basic_validation(
            sig.signed_data, spec.signature_validation_spec, raw_digest=sig.compute_digest()
        )
    return str(result.ades_subindic.status.name)


def per_second(action: Callable[[], object], count: int) -> float:
    gc.collect()
    began = time.perf_counter()
    for _ in range(count):
        action()
    return count / (time.perf_counter() - began)


def compare(
    raw: Callable[[], object], ours: Callable[[], object], iterations: int
) -> tuple[float, float]:
    """Operations per second of each side, from the median time of one operation.

    The sides take turns one operation at a time (raw, ours, ours, raw, ...), so a
    busy moment of the machine falls on both, and the median leaves it out.
    """
    for _ in range(3):  # warm-up
        raw()
        ours()
    times: dict[Callable[[], object], list[float]] = {raw: [], ours: []}
    gc.collect()
    for number in range(iterations):
        for action in (raw, ours) if number % 2 == 0 else (ours, raw):
            began = time.perf_counter()
            action()
            times[action].append(time.perf_counter() - began)
    return 1 / statistics.median(times[raw]), 1 / statistics.median(times[ours])


@dataclass
class Row:
    level: str
    reserve: int
    raw_sign: float
    our_sign: float
    raw_verify: float
    our_verify: float
    stock_sign: float = 0.0
    default_sign: float = 0.0


def measure(case: Case, iterations: int, context: int) -> Row:
    raw_sign, our_sign = compare(case.sign_raw, case.sign_ours, iterations)
    raw_verify, our_verify = compare(
        lambda: case.verify_raw(case.signed), lambda: case.verify_ours(case.signed), iterations
    )
    row = Row(case.level.value, case.reserve, raw_sign, our_sign, raw_verify, our_verify)
    if context:
        case.sign_stock()
        row.stock_sign = per_second(case.sign_stock, context)
        case.sign_defaults()
        row.default_sign = per_second(case.sign_defaults, context)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iterations", type=int, default=200, help="signatures and verifications at B-B"
    )
    parser.add_argument(
        "--iterations-t", type=int, default=100, help="signatures and verifications at B-T"
    )
    parser.add_argument(
        "--context",
        type=int,
        default=20,
        help="signatures with stock pyHanko, for context (0 skips them)",
    )
    args = parser.parse_args()

    keys = make_keys()
    pdf = minimal_pdf()
    print("keys: throw-away RSA-2048 CA, signer and TSA made with signing.new_authority")
    print(f"input: a one-page PDF of {len(pdf)} bytes; invisible signatures")
    print("time stamps: pyHanko DummyTimeStamper with the local TSA key on both sides")
    print("raw signing: pyHanko PdfSigner, key parsed once, bytes_reserved = our reserve")
    print(
        "verifying: the same PDF, offline; raw runs the EN 319 102-1 process signing.verify "
        "picks (basic for B-B, with time for B-T) with the same integrity/diff analysis"
    )
    print("raw and ours take turns one operation at a time; per second = 1 / median time")
    print()
    rows = [
        measure(Case(keys, signing.Level.B_B, pdf), args.iterations, args.context),
        measure(Case(keys, signing.Level.B_T, pdf), args.iterations_t, args.context),
    ]

    print(
        f"{'level':<6}{'reserve':>8}{'raw sig/s':>11}{'ours sig/s':>12}{'ratio':>7}"
        f"{'raw ver/s':>11}{'ours ver/s':>12}{'ratio':>7}"
    )
    ratios = []
    for row in rows:
        sign_ratio, verify_ratio = row.our_sign / row.raw_sign, row.our_verify / row.raw_verify
        ratios += [sign_ratio, verify_ratio]
        print(
            f"{row.level:<6}{row.reserve:>8}{row.raw_sign:>11.1f}{row.our_sign:>12.1f}"
            f"{sign_ratio:>7.2f}{row.raw_verify:>11.1f}{row.our_verify:>12.1f}{verify_ratio:>7.2f}"
        )
    print("(reserve: hex digits of /Contents, pyHanko's bytes_reserved)")
    print()
    for row in rows:
        print(
            f"{row.level}: raw {1000 / row.raw_sign:.1f} ms/signature, ours "
            f"{1000 / row.our_sign:.1f} ms; raw {1000 / row.raw_verify:.1f} ms/verification, "
            f"ours {1000 / row.our_verify:.1f} ms"
        )
    if args.context:
        print()
        print(f"context, stock pyHanko ({args.context} signatures each):")
        for row in rows:
            print(
                f"{row.level}: SimpleSigner loaded once + reserve {1000 / row.stock_sign:.1f} "
                f"ms/signature; defaults (PKCS#12 per signature, no reserve) "
                f"{1000 / row.default_sign:.1f} ms/signature"
            )
    print()
    print(
        f"target ratio >= {TARGET}: {'PASS' if min(ratios) >= TARGET else 'FAIL'} "
        f"(lowest {min(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
