"""The demo PKI on disk: a certificate authority, a time-stamping authority, a seal.

``edms pki init`` writes into ``signing_pki_dir``:

- ``ca.key.pem`` (0600): the CA's private key, unencrypted;
- ``ca.cert.pem``: its self-signed certificate (trusted while the directory exists);
- ``tsa.p12`` (0600): the TSA's key and certificate, a PKCS#12 archive encrypted with
  the random passphrase kept beside it in ``tsa.pass`` (0600);
- ``seal.p12`` / ``seal.pass`` (0600): the organisation's electronic seal, the same
  way; it certifies documents before their first approval signature.

A plain passphrase file rather than sealing with the credential key: the demo PKI
then survives a change of ``secret_key``, and the file permissions protect it as
they protect the CA key. Nothing here is meant for production, where the national
CA issues certificates and a real TSA stamps the time.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import signing

logger = logging.getLogger(__name__)

CA_KEY = "ca.key.pem"
CA_CERT = "ca.cert.pem"
TSA_P12 = "tsa.p12"
TSA_PASS = "tsa.pass"  # noqa: S105 - a file name, not a password
SEAL_P12 = "seal.p12"
SEAL_PASS = "seal.pass"  # noqa: S105 - a file name, not a password


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` readable by the owner only, replacing it atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def exists(directory: str | Path) -> bool:
    """Whether the demo CA is there (its key and certificate)."""
    base = Path(directory)
    return (base / CA_KEY).is_file() and (base / CA_CERT).is_file()


def init(directory: str | Path, organisation: str, *, force: bool = False) -> list[str]:
    """Make the demo CA and TSA in ``directory``; return the names of the files written.

    Idempotent: files already there are kept (a missing TSA is made with the existing
    CA), unless ``force``, which makes everything anew; signatures and credentials from
    the old CA then no longer verify.
    """
    base = Path(directory)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    made: list[str] = []
    authority = load_authority(base)
    if force or authority is None:
        authority = signing.new_authority(
            f"{organisation} demo CA", organisation=organisation, country="UZ"
        )
        _write_private(base / CA_KEY, authority.key_pem)
        _write_private(base / CA_CERT, authority.cert_pem, 0o644)
        made += [CA_KEY, CA_CERT]
        force = True  # the TSA must come from this CA
    if force or not ((base / TSA_P12).is_file() and (base / TSA_PASS).is_file()):
        issued = authority.issue(
            f"{organisation} demo TSA", organisation=organisation, purpose="timestamping"
        )
        passphrase = secrets.token_urlsafe(32).encode()
        _write_private(base / TSA_PASS, passphrase)
        _write_private(base / TSA_P12, issued.pkcs12(passphrase, friendly_name="tsa"))
        made += [TSA_P12, TSA_PASS]
    if force or not ((base / SEAL_P12).is_file() and (base / SEAL_PASS).is_file()):
        issued = authority.issue(f"{organisation} (e-seal)", organisation=organisation)
        passphrase = secrets.token_urlsafe(32).encode()
        _write_private(base / SEAL_PASS, passphrase)
        _write_private(base / SEAL_P12, issued.pkcs12(passphrase, friendly_name="seal"))
        made += [SEAL_P12, SEAL_PASS]
    if made:
        logger.info("demo PKI written to %s: %s", base, ", ".join(made))
    return made


def load_authority(directory: str | Path) -> signing.Authority | None:
    """The demo CA, or None when ``edms pki init`` has not made one."""
    base = Path(directory)
    if not exists(base):
        return None
    return signing.Authority((base / CA_KEY).read_bytes(), (base / CA_CERT).read_bytes())


def ca_certificate(directory: str | Path) -> bytes | None:
    """The demo CA's certificate (PEM), or None."""
    path = Path(directory) / CA_CERT
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _load(directory: str | Path, archive: str, passphrase_file: str) -> signing.Credential | None:
    base = Path(directory)
    try:
        data = (base / archive).read_bytes()
        passphrase = (base / passphrase_file).read_bytes().strip()
    except FileNotFoundError:
        return None
    return signing.load_pkcs12(data, passphrase)


def load_tsa(directory: str | Path) -> signing.Credential | None:
    """The demo TSA's credential, or None when there is none."""
    return _load(directory, TSA_P12, TSA_PASS)


def load_seal(directory: str | Path) -> signing.Credential | None:
    """The demo organisation seal's credential, or None when there is none."""
    return _load(directory, SEAL_P12, SEAL_PASS)


def state(directory: str | Path) -> tuple[int, ...] | None:
    """A token that changes when the demo PKI is made again (for caches)."""
    try:
        stat = (Path(directory) / CA_CERT).stat()
    except FileNotFoundError:
        return None
    times = [stat.st_mtime_ns]
    for name in (TSA_P12, SEAL_P12):
        path = Path(directory) / name
        times.append(path.stat().st_mtime_ns if path.exists() else 0)
    return tuple(times)
