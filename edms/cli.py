"""The ``edms`` command: database, demo data, departments, users and tokens."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from edms.db import db
from edms.errors import EDMSError
from edms.scheduler.runner import worker_command
from edms.search.runner import search_group


def _create_app() -> Flask:
    from edms import create_app

    try:
        return create_app()
    except EDMSError as exc:  # a configuration problem: say it plainly, no traceback
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)


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
    app.cli.add_command(storage_group)
    app.cli.add_command(workflows_group)
    app.cli.add_command(services_group)
    app.cli.add_command(pki_group)
    app.cli.add_command(search_group)
    app.cli.add_command(worker_command)

    from edms.applicants.cli import applicant_group

    app.cli.add_command(applicant_group)


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


@department_group.command("head")
@click.argument("code")
@click.argument("username", required=False)
@click.option("--clear", is_flag=True, help="Leave the department without a head.")
@with_appcontext
def department_head(code: str, username: str | None, clear: bool) -> None:
    """Make USERNAME the head of department CODE (or --clear it)."""
    from edms.auth import services

    if clear == (username is not None):
        raise click.UsageError("give either USERNAME or --clear")
    try:
        dept = services.set_department_head(code, username)
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    if dept.head is None:
        click.echo(f"department {dept.code} has no head now")
    else:
        click.echo(f"{dept.head.username} is the head of department {dept.code}")


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


# Services of the portal ------------------------------------------------------------


def _echo_synced(results: list[tuple[Any, bool]]) -> None:
    """One line per definition a sync loaded, kept or found unchanged."""
    for row, created in results:
        if created:
            state = "loaded as version"
        elif row.created_by_id is not None:
            state = "kept the administrator's version"
        else:
            state = "unchanged, version"
        click.echo(f"{row.code}: {state} {row.version}")


@click.group("services")
def services_group() -> None:
    """The catalogue of the portal's e-services."""


@services_group.command("sync")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of the *.yaml service definitions [config/services].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Load the files even over versions an administrator saved in the application.",
)
@with_appcontext
def services_sync(directory: Path | None, force: bool) -> None:
    """Load the service definitions into the catalogue: a new version of each one whose
    text changed. Applications stay on the version they were made with. If any file is
    invalid (or names a journal, department, route or template that does not exist),
    nothing is loaded and every problem is listed."""
    from edms.portal import services

    try:
        results = services.sync_services(directory, force=force)
        db.session.commit()
    except services.CatalogueInvalid as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException("no service was loaded; fix the files above") from None
    except EDMSError as exc:
        _fail(exc)
    _echo_synced(results)


# Workflows -------------------------------------------------------------------


@click.group("workflows")
def workflows_group() -> None:
    """Workflow definitions (routes of documents)."""


@workflows_group.command("sync")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of the *.yaml definitions [config/workflows].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Load the files even over versions an administrator saved in the application.",
)
@with_appcontext
def workflows_sync(directory: Path | None, force: bool) -> None:
    """Load the definitions into the database: a new version of each one whose text changed.

    Running routes stay on the version they started with. If any file is invalid,
    nothing is loaded and every problem is listed. A definition an administrator
    last edited in the application is kept unless --force is given.
    """
    from edms.routing import services

    try:
        results = services.sync_definitions(directory, force=force)
        db.session.commit()
    except services.DefinitionsInvalid as exc:
        db.session.rollback()
        for error in exc.definition_errors:
            click.echo(str(error), err=True)
        raise click.ClickException("no definition was loaded; fix the files above") from None
    except EDMSError as exc:
        _fail(exc)
    _echo_synced(results)


# Signing PKI -----------------------------------------------------------------


@click.group("pki")
def pki_group() -> None:
    """The demo certificate and time-stamping authorities, and the trust store."""


@pki_group.command("init")
@click.option("--force", is_flag=True, help="Make a new CA and TSA even if they exist.")
@with_appcontext
def pki_init(force: bool) -> None:
    """Write the demo CA and TSA into signing_pki_dir (nothing to do if they exist).

    With --force, signatures and credentials from the old CA no longer verify.
    """
    from edms.signing import services

    made = services.init_demo_pki(force=force)
    where = services.pki_dir()
    if not made:
        click.echo(f"the demo PKI in {where} is ready (nothing to do)")
        return
    for name in made:
        click.echo(f"wrote {where / name}")


@pki_group.command("issue")
@click.argument("username")
@with_appcontext
def pki_issue(username: str) -> None:
    """Issue USERNAME a demo signing certificate (their previous credential is revoked)."""
    from edms.auth import services as auth
    from edms.signing import services

    try:
        row = services.issue_demo_credential(auth.get_user(username))
        db.session.commit()
    except EDMSError as exc:
        _fail(exc)
    click.echo(
        f"issued to {username}: {row.common_name}, serial {row.serial}, "
        f"valid until {row.not_after:%Y-%m-%d}"
    )


@pki_group.command("trust-list")
@with_appcontext
def pki_trust_list() -> None:
    """List the trusted certificate authorities (configuration, added, demo)."""
    from edms.signing import services

    try:
        anchors = services.trust_anchors()
    except EDMSError as exc:
        _fail(exc)
    if not anchors:
        click.echo("no certificate authority is trusted", err=True)
    for anchor in anchors:
        info = anchor.info
        click.echo(
            f"{anchor.source:<8} {info.fingerprint[:16]}  until {info.not_after:%Y-%m-%d}  "
            f"{info.subject}"
        )


# Storage ---------------------------------------------------------------------


def _progress(items: Iterable[str], total: int, label: str) -> Iterable[str]:
    from tqdm import tqdm

    return tqdm(items, total=total, desc=label, unit="blob", file=sys.stderr, leave=False)


@click.group("storage")
def storage_group() -> None:
    """Stored files: fixity checks, garbage collection, migration to another backend."""


@storage_group.command("fixity")
@click.option(
    "--sample", type=click.IntRange(min=1), help="Check this many blobs, chosen at random."
)
@click.option(
    "--since",
    "since_days",
    type=click.IntRange(min=0),
    help="Only blobs stored in the last DAYS days.",
)
@with_appcontext
def storage_fixity(sample: int | None, since_days: int | None) -> None:
    """Re-read stored blobs, recompute their SHA-256 and record the result of each.

    Exits with status 1 if any blob is changed, missing or unreadable. Suited to cron
    or a systemd timer (see config/systemd/).
    """
    from datetime import timedelta

    from edms.blobs import services

    since = timedelta(days=since_days) if since_days is not None else None
    report = services.fixity(sample=sample, since=since, progress=_progress)
    click.echo(f"checked {report.checked} blobs: {report.ok} intact, {len(report.damaged)} damaged")
    for key, status in sorted(report.damaged.items()):
        click.echo(f"  {status:<10} {key}")
    if not report.clean:
        sys.exit(1)


@storage_group.command("gc")
@click.option(
    "--grace-hours",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Keep unreferenced blobs younger than this (their upload may still be committing).",
)
@click.option("--delete", "delete_now", is_flag=True, help="Delete; without it, only list.")
@with_appcontext
def storage_gc(grace_hours: int, delete_now: bool) -> None:
    """List (or with --delete remove) blobs that no document refers to."""
    from datetime import timedelta

    from edms.blobs import services

    report = services.gc(timedelta(hours=grace_hours), delete_now=delete_now, progress=_progress)
    verb = "deleted" if delete_now else "would delete"
    for key in report.unreferenced:
        click.echo(f"{verb} blob {key}")
    for name in report.leftovers:
        click.echo(f"{verb} leftover {name}")
    click.echo(
        f"{len(report.unreferenced)} unreferenced blobs and {len(report.leftovers)} leftovers "
        f"{verb}; {report.too_recent} unreferenced blobs kept inside the grace period"
        + ("" if delete_now else " (dry run: add --delete to delete)")
    )


@storage_group.command("migrate")
@click.option("--to", "target_url", required=True, help="Storage URL of the new backend.")
@click.option(
    "--access-key",
    envvar="TARGET_S3_ACCESS_KEY",
    help="S3 access key of the target [TARGET_S3_ACCESS_KEY].",
)
@click.option(
    "--secret-key",
    envvar="TARGET_S3_SECRET_KEY",
    help="S3 secret key of the target [TARGET_S3_SECRET_KEY].",
)
@click.option(
    "--switch",
    is_flag=True,
    help="After a complete copy, point storage_url in the EDMS_CONFIG file at the target.",
)
@with_appcontext
def storage_migrate(
    target_url: str, access_key: str | None, secret_key: str | None, switch: bool
) -> None:
    """Copy every blob to another backend, verifying each copy; resumable.

    The configuration keeps pointing at the old backend unless --switch is given
    and every blob was copied.
    """
    import os

    import storage
    from edms.blobs import services

    try:
        target = storage.from_url(target_url, access_key=access_key, secret_key=secret_key)
        report = services.migrate(target, progress=_progress)
    except storage.StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"copied {report.copied} blobs to {target.describe()}, "
        f"{report.already_there} were there already, {len(report.failed)} failed"
    )
    for key, reason in sorted(report.failed.items()):
        click.echo(f"  failed {key}: {reason}", err=True)
    if report.failed:
        raise click.ClickException("the migration is incomplete; run it again to resume")
    if not switch:
        click.echo(f"the configuration is unchanged; set storage_url = {target_url!r} to switch")
        return
    config = os.environ.get("EDMS_CONFIG")
    if not config:
        raise click.ClickException("--switch needs EDMS_CONFIG to name the configuration file")
    services.switch_storage_url(config, target_url)
    click.echo(f"storage_url in {config} now points at {target.describe()}")
