"""The ``edms`` command: database, demo data, departments, users and tokens."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from edms.db import db
from edms.errors import EDMSError


def _create_app() -> Flask:
    from edms import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """EDMS: electronic document management."""


def _fail(exc: EDMSError) -> None:
    db.session.rollback()
    raise click.ClickException(exc.message)


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(department_group)
    app.cli.add_command(user_group)
    app.cli.add_command(journal_group)


# Database --------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the database to REVISION (default: head)."""
    from edms import migrate

    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the database to REVISION ('base' empties it)."""
    from edms import migrate

    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database downgraded to {revision}")


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from edms import migrate

    migrate.check(current_app.config["DATABASE_URL"])
    click.echo("models and migrations agree")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the difference between models and database."""
    from alembic import command

    from edms import migrate

    cfg = migrate.alembic_config(current_app.config["DATABASE_URL"])
    command.revision(cfg, message=message, autogenerate=True)


# Demo ------------------------------------------------------------------------


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load demo departments, users, journals and documents (safe to run again)."""
    from edms.demo import DEMO_LOGINS, load_demo

    try:
        created = load_demo()
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    click.echo(f"demo data ready ({created} new records)")
    click.echo("demo logins (user / password / role):")
    for username, password, role in DEMO_LOGINS:
        click.echo(f"  {username:<10} {password:<22} {role}")


# Departments -----------------------------------------------------------------


@click.group("department")
def department_group() -> None:
    """Departments (a tree)."""


@department_group.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Full name of the department.")
@click.option("--parent", "parent_code", help="Code of the parent department.")
@with_appcontext
def department_create(code: str, name: str, parent_code: str | None) -> None:
    """Create department CODE."""
    from edms.auth import services

    try:
        dept = services.create_department(code, name, parent_code)
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    click.echo(f"department {dept.code} created")


# Users -----------------------------------------------------------------------


@click.group("user")
def user_group() -> None:
    """User accounts and API tokens."""


@user_group.command("create")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["admin", "clerk", "approver", "records_officer", "applicant"]),
    help="Role of the user; repeat for several.",
)
@click.option("--department", "department_code", help="Code of the user's department.")
@click.option("--full-name", default="", help="Name shown in the interface.")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_create(
    username: str,
    roles: tuple[str, ...],
    department_code: str | None,
    full_name: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Create user USERNAME. Without --password-stdin the account cannot log in yet."""
    from edms.auth import services

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = services.create_user(
            username,
            list(roles),
            password=password,
            department_code=department_code,
            full_name=full_name,
            email=email,
        )
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    click.echo(f"user {user.username} created", err=True)


@user_group.command("token")
@click.argument("username")
@click.option("--name", default="CLI token", help="A name to recognise the token by.")
@with_appcontext
def user_token(username: str, name: str) -> None:
    """Make an API token for USERNAME and print only the token."""
    from edms.auth import services

    try:
        user = services.get_user(username)
        _, plain = services.create_token(user, name)
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    click.echo(plain)


# Journals --------------------------------------------------------------------


@click.group("journal")
def journal_group() -> None:
    """Registration journals."""


@journal_group.command("create")
@click.argument("code")
@click.option("--prefix", required=True, help="Prefix of the numbers, e.g. IN for IN-2026/000001.")
@click.option("--name", required=True)
@click.option("--direction", required=True, type=click.Choice(["incoming", "outgoing", "internal"]))
@click.option("--department", "department_code", default=None)
@with_appcontext
def journal_create(
    code: str, prefix: str, name: str, direction: str, department_code: str | None
) -> None:
    """Create journal CODE."""
    from edms.registry import services

    try:
        journal = services.create_journal(code, prefix, name, direction, department_code)
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    click.echo(f"journal {journal.code} created")
