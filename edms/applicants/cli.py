"""``edms applicant``: applicant accounts opened by an administrator."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from edms.db import db
from edms.errors import EDMSError, ValidationError


@click.group("applicant")
def applicant_group() -> None:
    """Applicant accounts of the portal."""


@applicant_group.command("create")
@click.option("--email", required=True, help="The applicant's address; also their user name.")
@click.option("--name", "full_name", required=True, help="Full name of the applicant.")
@click.option("--pinfl", default="", help="PINFL of the person (14 digits).")
@click.option("--tin", default="", help="TIN of an organisation they act for (9 digits).")
@click.option("--org-name", default="", help="Name of that organisation (with --tin).")
@with_appcontext
def applicant_create(email: str, full_name: str, pinfl: str, tin: str, org_name: str) -> None:
    """Open an applicant account; the applicant chooses the password through a link.

    The link is e-mailed when this site sends e-mail (smtp_host); otherwise it is
    printed, alone on standard output, to be handed to the applicant. It works once,
    for portal_confirm_hours. No password is ever shown or chosen here.
    """
    from edms.applicants import services

    try:
        user, path = services.create_applicant(
            full_name=full_name, email=email, pinfl=pinfl, tin=tin, org_name=org_name
        )
        db.session.commit()
    except ValidationError as exc:
        db.session.rollback()
        # Field by field, and never the values: they may be a TIN or a PINFL.
        problems = "; ".join(
            f"--{name.replace('_', '-')}: {msg}" for name, msg in exc.errors.items()
        )
        raise click.ClickException(problems.replace("--full-name", "--name")) from None
    except EDMSError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    hours = services.link_hours()
    if services.mail_enabled():
        click.echo(
            f"applicant account {user.id} opened; a link to choose a password has been "
            f"e-mailed (it works once, for {hours} hours)",
            err=True,
        )
        return
    click.echo(
        f"applicant account {user.id} opened; this site sends no e-mail, so hand the "
        f"applicant this link (it works once, for {hours} hours):",
        err=True,
    )
    click.echo(current_app.config["EDMS"]["mail_base_url"] + path)
