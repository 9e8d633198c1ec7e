"""`edms pki init | issue | trust-list` and the demo data's signing credentials."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

import signing
from edms.auth.models import Role, User
from edms.db import db
from edms.signing import pki, services


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pki_init_writes_the_demo_authorities_once(
    ctx: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "pki"
    monkeypatch.setitem(ctx.config["EDMS"], "signing_pki_dir", str(directory))
    runner = ctx.test_cli_runner()
    result = runner.invoke(args=["pki", "init"])
    assert result.exit_code == 0, result.output
    for name in (pki.CA_KEY, pki.CA_CERT, pki.TSA_P12, pki.TSA_PASS):
        assert f"wrote {directory / name}" in result.output
    for name in (pki.CA_KEY, pki.TSA_P12, pki.TSA_PASS):
        assert _mode(directory / name) == 0o600, name
    tsa = pki.load_tsa(directory)
    assert tsa is not None
    assert "demo TSA" in tsa.info.common_name

    cert = (directory / pki.CA_CERT).read_bytes()
    again = runner.invoke(args=["pki", "init"])
    assert again.exit_code == 0
    assert "nothing to do" in again.output
    assert (directory / pki.CA_CERT).read_bytes() == cert

    forced = runner.invoke(args=["pki", "init", "--force"])
    assert forced.exit_code == 0
    assert (directory / pki.CA_CERT).read_bytes() != cert

    listed = runner.invoke(args=["pki", "trust-list"])
    assert listed.exit_code == 0
    [line] = listed.output.splitlines()
    assert line.startswith("demo")
    assert "demo CA" in line


def test_pki_issue_gives_a_user_a_demo_credential(
    ctx: Flask, make_user: Callable[..., User], demo_pki: signing.Authority
) -> None:
    user = make_user(Role.APPROVER)
    result = ctx.test_cli_runner().invoke(args=["pki", "issue", user.username])
    assert result.exit_code == 0, result.output
    assert f"issued to {user.username}" in result.output
    row = services.active_credential(user)
    assert row is not None
    assert row.source == "demo_ca"
    assert "demo CA" in services.credential_for(user).info.issuer

    unknown = ctx.test_cli_runner().invoke(args=["pki", "issue", "nobody-by-that-name"])
    assert unknown.exit_code != 0
    assert "Traceback" not in unknown.output


def test_the_demo_gives_every_demo_user_a_credential(
    ctx: Flask, demo_pki: signing.Authority
) -> None:
    from edms.auth.services import get_user
    from edms.demo import USERS, load_demo

    assert load_demo() > 0
    db.session.commit()
    for username, *_rest in USERS:
        row = services.active_credential(get_user(username))
        assert row is not None, username
        assert row.source == "demo_ca"
    assert load_demo() == 0
