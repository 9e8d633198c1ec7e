"""A test certificate authority for tests of signing and verification. TEST ONLY.

:class:`TestPKI` serves a complete PKI built with certomancer on ``127.0.0.1``: a
root CA, an intermediate CA, signers, an OCSP responder, CRLs and an RFC 3161
time-stamping authority. Its private keys ship in ``keys/`` and are public, so
nothing it signs means anything outside a test.

certomancer (with its ``web-api`` extra) is a development dependency only: it is
imported when a :class:`TestPKI` is created, never by ``import signing``.

Trusting the test PKI in pyHanko::

    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko_certvalidator import ValidationContext

    [root] = load_certs_from_pemder_data(pki.root_pem)
    [intermediate] = load_certs_from_pemder_data(pki.intermediate_pem)
    context = ValidationContext(
        trust_roots=[root], other_certs=[intermediate], allow_fetching=True
    )

The intermediate need not be passed: the PKCS#12 files carry it and pyHanko embeds
it in the signature. For the AdES API, build a ``SimpleTrustManager`` from the same
root.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from wsgiref.simple_server import WSGIServer

    from certomancer.registry import PKIArchitecture

__all__ = ["CONFIG_FILE", "SIGNERS", "TestPKI"]

logger = logging.getLogger(__name__)

CONFIG_FILE = Path(__file__).resolve().with_name("pki.yml")
"""The certomancer configuration both PKIs are built from."""

SIGNERS = ("signer1", "signer2", "signer3", "signer4", "revoked", "expired")
"""Names of the signers of the main test PKI, for :meth:`TestPKI.pkcs12`.

``revoked`` has been revoked (key compromise) since 2026-06-01, in OCSP and in the
CRL; ``expired`` was valid in 2024 only; the others are valid 2026-01-01 to
2036-01-01.
"""

_HOST = "127.0.0.1"
_ARCH = "edms-test"
_STRANGER_ARCH = "stranger"
_STRANGER_SIGNERS = ("stranger",)


class TestPKI:
    """A complete test PKI: root CA, intermediate CA, four signers, a revoked signer,
    an expired signer, a TSA, OCSP responder and CRL distribution, served over HTTP on
    127.0.0.1.

    Creating one binds the port (a free one unless ``port`` is given): the
    certificates carry their OCSP and CRL URLs, which include the port. :meth:`start`
    serves certomancer's WSGI app (its "Animator") with the standard library's
    threading WSGI server from a daemon thread; :meth:`stop` (or leaving the ``with``
    block) shuts the server down and frees the port; a PKI that is never stopped
    leaks its socket. OCSP responses and time stamps are made at the current time
    (whole seconds); the CRLs are those of the current day (root: 30-day period).

    Attributes:
        base_url: ``http://127.0.0.1:<port>``.
        tsa_url: the RFC 3161 time-stamping endpoint.
        ocsp_url: the OCSP responder for certificates issued by the intermediate.
        crl_url: the intermediate's current CRL (DER).
        root_pem: the root CA certificate, PEM.
        intermediate_pem: the intermediate CA certificate, PEM.
        signers: the names :meth:`pkcs12` and :meth:`certificate_pem` accept.
    """

    __test__ = False  # a library class, not a pytest test class

    def __init__(self, *, port: int | None = None) -> None:
        """Build the PKI and bind its server on 127.0.0.1 (``port=None``: a free port)."""
        self._setup(_ARCH, SIGNERS, port)

    def _setup(self, arch_label: str, signers: Iterable[str], port: int | None) -> None:
        from certomancer.registry import ArchLabel, CertomancerConfig

        self._thread: threading.Thread | None = None
        self._server = _make_server(port or 0, self._wsgi)
        try:
            self.base_url = f"http://{_HOST}:{self._server.server_port}"
            config = CertomancerConfig.from_file(
                str(CONFIG_FILE),
                key_search_dir=str(CONFIG_FILE.parent),
                allow_external_config=False,
                external_url_prefix=self.base_url,
            )
            arch = config.get_pki_arch(ArchLabel(arch_label))
            # Issue every certificate now: requests come from several threads, and
            # certomancer issues lazily into an unlocked cache.
            for _issuer, specs in arch.enumerate_certs_by_issuer():
                for spec in specs:
                    arch.get_cert(spec.label)
            self._arch: PKIArchitecture = arch
            self._animator: Callable[..., Any] = _animator(arch)
        except BaseException:
            self._server.server_close()
            raise
        self.signers: tuple[str, ...] = tuple(signers)
        self.tsa_url = f"{self.base_url}/{arch_label}/tsa/tsa"
        self.ocsp_url = f"{self.base_url}/{arch_label}/ocsp/interm"
        self.crl_url = f"{self.base_url}/{arch_label}/crls/interm/latest.crl"
        self.root_pem = self._pem("root")
        self.intermediate_pem = self._pem("interm")

    @staticmethod
    def unknown_root() -> TestPKI:
        """A second, independent PKI whose root nobody trusts, with one signer, "stranger".

        It has its own server (start and stop it like any other) and the same shape:
        root, intermediate, OCSP, CRLs and TSA. For "unknown root" tests.
        """
        pki = TestPKI.__new__(TestPKI)
        pki._setup(_STRANGER_ARCH, _STRANGER_SIGNERS, None)
        return pki

    def start(self) -> None:
        """Serve requests from a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"TestPKI {self.base_url}",
            daemon=True,
        )
        self._thread.start()
        logger.info("test PKI serving on %s", self.base_url)

    def stop(self) -> None:
        """Stop serving and free the port. Idempotent; also for a PKI never started."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
            logger.info("test PKI on %s stopped", self.base_url)
        self._server.server_close()

    def __enter__(self) -> TestPKI:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<TestPKI {self._arch.arch_label} at {self.base_url}>"

    def pkcs12(self, name: str, passphrase: bytes = b"secret") -> bytes:
        """The PKCS#12 file of signer ``name``: its key, certificate and the chain
        (intermediate and root), encrypted with ``passphrase`` (unencrypted if empty).
        """
        from certomancer.registry import CertLabel

        return bytes(
            self._arch.package_pkcs12(CertLabel(self._signer(name)), password=passphrase or None)
        )

    def certificate_pem(self, name: str) -> bytes:
        """The certificate of signer ``name``, PEM."""
        return self._pem(self._signer(name))

    def _signer(self, name: str) -> str:
        if name not in self.signers:
            raise KeyError(f"no signer {name!r} in this test PKI; there are {self.signers}")
        return name

    def _pem(self, label: str) -> bytes:
        from certomancer.registry import CertLabel
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        der = bytes(self._arch.get_cert(CertLabel(label)).dump())
        return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # The server exists before the Animator (which needs the port), hence the
        # indirection.
        return self._animator(environ, start_response)


def _animator(arch: PKIArchitecture) -> Callable[..., Any]:
    """certomancer's WSGI app for ``arch``, answering at the current time in whole seconds."""
    from certomancer.integrations.animator import Animator, AnimatorArchStore

    class WholeSecondAnimator(Animator):
        # certomancer stamps OCSP responses (producedAt, thisUpdate) and time stamps
        # with datetime.now(), microseconds included; strict DER parsers (pyca
        # cryptography, hence anything built on it) reject such a GeneralizedTime.
        # This also drops certomancer's X-Certomancer-Fake-Time request header: the
        # answers are always at the current time.
        def at_time(self, request: Any) -> datetime:
            return datetime.now(UTC).replace(microsecond=0)

    return WholeSecondAnimator(AnimatorArchStore({arch.arch_label: arch}), with_web_ui=False)


def _make_server(port: int, app: Any) -> WSGIServer:
    # The standard library's server, not werkzeug's: the libraries must not import
    # werkzeug (tests/test_layering.py); certomancer's own use of it is its business.
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class ThreadingServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        """Request lines go to our logger at DEBUG, not to stderr."""

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

    return make_server(_HOST, port, app, server_class=ThreadingServer, handler_class=QuietHandler)
