"""poppler's pdfsig as an independent judge of our signatures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")
needs_pdfsig = pytest.mark.skipif(PDFSIG is None, reason="poppler's pdfsig is not installed")


def pdfsig(data: bytes, tmp_path: Path, root_pem: bytes | None = None) -> str:
    """pdfsig's report on ``data``; with ``root_pem`` (and NSS's certutil, Debian
    libnss3-tools), in an NSS database that trusts that root, so the chain is judged
    too (pdfsig then also checks revocation online)."""
    assert PDFSIG is not None
    folder = tmp_path / "pdfsig"
    folder.mkdir(exist_ok=True)
    pdf = folder / "signed.pdf"
    pdf.write_bytes(data)
    command = [PDFSIG]
    if root_pem is not None and CERTUTIL is not None:
        nss = folder / "nss"
        nss.mkdir(exist_ok=True)
        (folder / "root.pem").write_bytes(root_pem)
        subprocess.run([CERTUTIL, "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
        subprocess.run(
            [
                CERTUTIL,
                "-A",
                "-d",
                f"sql:{nss}",
                "-n",
                "edms-test-root",
                "-t",
                "C,C,C",
                "-i",
                str(folder / "root.pem"),
            ],
            check=True,
        )
        command += ["-nssdir", f"sql:{nss}"]
    else:
        command.append("-nocert")
    done = subprocess.run(
        [*command, str(pdf)], capture_output=True, text=True, check=False, timeout=120
    )
    return done.stdout
