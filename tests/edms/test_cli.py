"""The `edms` command, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from edms.auth import services as auth
from edms.auth.models import Department, Role
from edms.db import db

EDMS = str(Path(sys.executable).with_name("edms"))


def _run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDMS, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_upgrade_demo_users_and_tokens(fresh_database_url: str, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDMS_")},
        "EDMS_DATA_DIR": str(tmp_path),
        "EDMS_DATABASE_URL": fresh_database_url,
        "EDMS_DEMO": "true",
        "EDMS_LOG_LEVEL": "WARNING",
    }
    assert _run(env, "db", "upgrade").returncode == 0
    first = _run(env, "demo")
    assert first.returncode == 0, first.stderr
    assert "clerk" in first.stdout
    assert "demo-clerk-2026" in first.stdout
    again = _run(env, "demo")
    assert again.returncode == 0
    assert "(0 new records)" in again.stdout

    made = _run(env, "department", "create", "TAX", "--name", "Tax office", "--parent", "MIN")
    assert made.returncode == 0, made.stderr
    user = _run(
        env,
        "user",
        "create",
        "newclerk",
        "--role",
        "clerk",
        "--department",
        "TAX",
        "--password-stdin",
        stdin="a-long-enough-password\n",
    )
    assert user.returncode == 0, user.stderr
    token = _run(env, "user", "token", "newclerk")
    assert token.returncode == 0
    assert token.stdout.startswith("edms_")
    assert token.stdout.count("\n") == 1

    duplicate = _run(env, "department", "create", "TAX", "--name", "Again")
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["user", "create", "x y", "--role", "clerk", "--department", "D1"], "username"),
        (["user", "create", "bob", "--role", "wizard"], "wizard"),
        (["user", "create", "bob", "--role", "clerk"], "department"),
        (["user", "create", "bob", "--role", "clerk", "--department", "NOPE"], "NOPE"),
        (["user", "token", "nobody"], "nobody"),
        (["department", "create", "KID", "--name", "Kid", "--parent", "NOPE"], "NOPE"),
        (["journal", "create", "J", "--prefix", "J", "--name", "J", "--direction", "up"], "up"),
    ],
)
def test_bad_arguments_get_a_clear_message(app, db_conn, make_department, args, message) -> None:
    make_department("D1")
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_weak_password_from_stdin_is_refused(app, db_conn) -> None:
    result = app.test_cli_runner().invoke(
        args=["user", "create", "weak", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert "password" in result.output


def test_cli_creates_what_it_says(app, db_conn) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["department", "create", "ROOTX", "--name", "Root"]).exit_code == 0
    assert (
        runner.invoke(
            args=["department", "create", "KIDX", "--name", "Kid", "--parent", "ROOTX"]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        args=[
            "user",
            "create",
            "Clerk.One",
            "--role",
            "clerk",
            "--role",
            "approver",
            "--department",
            "KIDX",
            "--password-stdin",
        ],
        input="another-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = auth.get_user("clerk.one")
        assert user.roles == {Role.CLERK, Role.APPROVER}
        kid = db.session.scalar(select(Department).where(Department.code == "KIDX"))
        assert kid is not None
        assert kid.parent is not None
        assert kid.parent.code == "ROOTX"
        assert auth.verify_password(user, "another-long-password")
