"""Fixtures for the signing library: the test PKI, served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signing.testing import TestPKI


@pytest.fixture(scope="session")
def test_pki() -> Iterator[TestPKI]:
    """The trusted test PKI (root, intermediate, signers, OCSP, CRLs, TSA), started.

    One server per xdist worker, each on a free port of its own.
    """
    with TestPKI() as pki:
        yield pki


@pytest.fixture(scope="session")
def unknown_pki() -> Iterator[TestPKI]:
    """An independent PKI whose root nobody trusts; its signer is "stranger"."""
    with TestPKI.unknown_root() as pki:
        yield pki
