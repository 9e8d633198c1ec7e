"""Delegations: who stands in for whom, and when.

A delegation covers whole days, ``starts_on`` to ``ends_on`` inclusive, in the
registry's time zone (``default_timezone``). Ended early, it stops applying at
``ended_at``. A user has at most one delegation at any moment (overlaps are
refused), so "the deputy of X at T" has one answer.

Delegation is followed one level only: ``deputy_for`` gives X's deputy Y even
when Y is away too and has named a deputy Z; Y's delegation is not followed
to Z. Chains would let tasks wander to people the user never chose and could
loop (X -> Y -> X). A deputy whose account has been deactivated stands in for
no one: ``deputy_for`` answers None and the tasks stay with the user.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from edms.audit import services as audit
from edms.auth.models import User
from edms.db import db, utcnow
from edms.delegations.models import Delegation
from edms.errors import Conflict, NotFound, PermissionDenied, ValidationError
from edms.validators import text_problem

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 500
#: The longest delegation, in days: longer absences are a change of post, not a deputy.
MAX_DAYS = 366


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["EDMS"]["default_timezone"])


def local_date(at: datetime) -> date:
    """The registry's calendar day at the moment ``at``."""
    if at.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed")
    return at.astimezone(_zone()).date()


def today() -> date:
    return local_date(utcnow())


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=_zone()).astimezone(UTC)


def _interval(delegation: Delegation) -> tuple[datetime, datetime]:
    """When the delegation applies: [start, end).

    Never before it was made: one made at noon for today applies from noon, so it
    does not overlap one that was ended early this morning.
    """
    start = max(_start_of(delegation.starts_on), delegation.created_at or utcnow())
    end = _start_of(delegation.ends_on + timedelta(days=1))
    if delegation.ended_at is not None:
        end = min(end, delegation.ended_at)
    return start, end


def status(delegation: Delegation, now: datetime | None = None) -> str:
    """``upcoming``, ``active``, ``over`` (ran its course) or ``ended`` (ended early)."""
    now = now or utcnow()
    start, end = _interval(delegation)
    if now >= end:
        return "ended" if delegation.ended_at is not None and end == delegation.ended_at else "over"
    return "upcoming" if now < start else "active"


def active_delegation(user: User, at: datetime) -> Delegation | None:
    """The user's delegation that applies at ``at``, if any."""
    day = local_date(at)
    candidates = db.session.scalars(
        select(Delegation)
        .options(joinedload(Delegation.deputy))
        .where(
            Delegation.user_id == user.id,
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
        )
        .order_by(Delegation.starts_on.desc(), Delegation.id.desc())
    )
    for delegation in candidates:
        start, end = _interval(delegation)
        if start <= at < end:
            return delegation
    return None


def deputy_for(user: User, at: datetime) -> User | None:
    """The user's active deputy at ``at``, or None.

    One level only: the deputy's own deputy is not followed (see the module's
    docstring). An inactive deputy counts as none.
    """
    delegation = active_delegation(user, at)
    if delegation is None or not delegation.deputy.is_active:
        return None
    return delegation.deputy


def acting_for(deputy: User, at: datetime) -> list[User]:
    """The users whose deputy ``deputy`` is at ``at`` ("on behalf of" in an inbox)."""
    day = local_date(at)
    rows = db.session.scalars(
        select(Delegation)
        .options(joinedload(Delegation.user))
        .where(
            Delegation.deputy_id == deputy.id,
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
        )
        .order_by(Delegation.id)
    )
    users = []
    for delegation in rows:
        start, end = _interval(delegation)
        if start <= at < end and delegation.user.is_active:
            users.append(delegation.user)
    return users


def list_for(user: User) -> list[Delegation]:
    """The user's own delegations, latest first."""
    return list(
        db.session.scalars(
            select(Delegation)
            .options(joinedload(Delegation.deputy))
            .where(Delegation.user_id == user.id)
            .order_by(Delegation.starts_on.desc(), Delegation.id.desc())
        )
    )


def standing_in_for(deputy: User) -> list[Delegation]:
    """Delegations naming ``deputy`` that apply now or later, soonest first."""
    now = utcnow()
    rows = db.session.scalars(
        select(Delegation)
        .options(joinedload(Delegation.user))
        .where(Delegation.deputy_id == deputy.id, Delegation.ends_on >= local_date(now))
        .order_by(Delegation.starts_on, Delegation.id)
    )
    return [d for d in rows if status(d, now) in ("upcoming", "active")]


def get_for(user: User, delegation_id: int) -> Delegation:
    """One of the user's own delegations; another user's answers 404, as a missing one does."""
    delegation = db.session.get(Delegation, delegation_id)
    if delegation is None or delegation.user_id != user.id:
        raise NotFound("No such delegation.")
    return delegation


def _date(value: Any, field: str, errors: dict[str, str]) -> date | None:
    if value is None or value == "":
        errors[field] = "is required"
        return None
    if isinstance(value, datetime):
        errors[field] = "must be a date like 2026-01-31"
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = "must be a date like 2026-01-31"
        return None


def _deputy(user: User, username: Any, errors: dict[str, str]) -> User | None:
    name = str(username or "").strip().lower()
    if not name:
        errors["deputy"] = "is required"
        return None
    deputy = db.session.scalar(select(User).where(User.username == name))
    if deputy is None:
        errors["deputy"] = "no user with this user name"
    elif deputy.id == user.id:
        errors["deputy"] = "you cannot be your own deputy"
    elif not (deputy.is_active and deputy.is_staff):
        errors["deputy"] = "must be an active staff member"
    else:
        return deputy
    return None


def _overlapping(user: User, starts_on: date, ends_on: date) -> Delegation | None:
    start = max(_start_of(starts_on), utcnow())
    end = _start_of(ends_on + timedelta(days=1))
    candidates = db.session.scalars(
        select(Delegation)
        .where(
            Delegation.user_id == user.id,
            Delegation.starts_on <= ends_on,
            Delegation.ends_on >= starts_on,
        )
        .order_by(Delegation.starts_on)
    )
    for other in candidates:
        other_start, other_end = _interval(other)
        if other_start < other_end and other_start < end and start < other_end:
            return other
    return None


def create_delegation(
    user: User,
    deputy_username: str,
    starts_on: date | str | None,
    ends_on: date | str | None,
    reason: str = "",
) -> Delegation:
    """Name a deputy of ``user`` from ``starts_on`` to ``ends_on`` (inclusive); audited.

    Dates may be ``date`` objects or ISO text (as forms and the API send them).
    Every problem is reported at once, by field: ``deputy``, ``starts_on``,
    ``ends_on``, ``reason``.
    """
    if not user.is_staff:
        raise PermissionDenied("Only staff members name deputies.")
    errors: dict[str, str] = {}
    deputy = _deputy(user, deputy_username, errors)
    start = _date(starts_on, "starts_on", errors)
    end = _date(ends_on, "ends_on", errors)
    reason = str(reason or "").strip()
    problem = text_problem(reason, MAX_REASON_LENGTH)
    if problem:
        errors["reason"] = problem
    if start is not None and start < today():
        errors["starts_on"] = "must be today or later"
    if start is not None and end is not None:
        if end < start:
            errors["ends_on"] = "must not be before the start date"
        elif (end - start).days >= MAX_DAYS:
            errors["ends_on"] = "a delegation lasts at most a year"
        elif "starts_on" not in errors and _overlapping(user, start, end) is not None:
            errors["starts_on"] = "overlaps another of your delegations"
    if errors or deputy is None or start is None or end is None:
        raise ValidationError(errors)
    delegation = Delegation(
        user_id=user.id, deputy_id=deputy.id, starts_on=start, ends_on=end, reason=reason
    )
    db.session.add(delegation)
    db.session.flush()
    audit.record(
        "delegation.create",
        "delegation",
        delegation.id,
        {"deputy": deputy.username, "starts_on": start.isoformat(), "ends_on": end.isoformat()},
        actor=user,
    )
    logger.info("delegation %s: user %s to user %s", delegation.id, user.id, deputy.id)
    _tell_deputy(delegation, user, deputy, ended=False)
    return delegation


def end_delegation(user: User, delegation_id: int) -> Delegation:
    """End one of the user's delegations now (or cancel it before it starts); audited."""
    delegation = get_for(user, delegation_id)
    now = utcnow()
    if status(delegation, now) in ("over", "ended"):
        raise Conflict("This delegation is already over.")
    delegation.ended_at = now
    db.session.flush()
    audit.record("delegation.end", "delegation", delegation.id, actor=user)
    logger.info("delegation %s ended early", delegation.id)
    _tell_deputy(delegation, user, delegation.deputy, ended=True)
    return delegation


def _tell_deputy(delegation: Delegation, user: User, deputy: User, *, ended: bool) -> None:
    from edms.notifications.services import notify, recipient_locale

    with recipient_locale(deputy):
        names = {
            "name": user.display_name,
            "start": delegation.starts_on.isoformat(),
            "end": delegation.ends_on.isoformat(),
        }
        if ended:
            kind = "delegation.ended"
            subject = gettext("%(name)s no longer needs you as deputy", **names)
            body = gettext(
                "%(name)s has ended the delegation of %(start)s to %(end)s early. "
                "New tasks go to them again.",
                **names,
            )
        else:
            kind = "delegation.created"
            subject = gettext("You are the deputy of %(name)s", **names)
            body = gettext(
                "%(name)s has named you deputy from %(start)s to %(end)s. "
                "Their tasks of that time come to you.",
                **names,
            )
            if delegation.reason:
                body += "\n\n" + gettext("Reason: %(reason)s", reason=delegation.reason)
    notify(deputy, kind, subject, body, "/delegations")
