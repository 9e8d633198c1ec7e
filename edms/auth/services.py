"""Accounts: passwords, departments, roles, API tokens, login throttling."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import Select, delete, select

from edms.audit import services as audit
from edms.auth.models import ApiToken, Department, LoginThrottle, Role, User, UserRole
from edms.db import db, utcnow
from edms.errors import Conflict, NotFound, TooManyRequests, ValidationError

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
TOKEN_PREFIX = "edms_"  # noqa: S105 - a marker, not a secret
MIN_PASSWORD_LENGTH = 10
# A dummy hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError({field: f"must be at least {MIN_PASSWORD_LENGTH} characters long"})
    if password.strip() != password or not password.strip():
        raise ValidationError({field: "must not start or end with spaces"})


def verify_password(user: User | None, password: str) -> bool:
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if ok and user is not None and user.password_hash and _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return ok and user is not None and user.password_hash is not None


# Departments -----------------------------------------------------------------


def get_department(code: str) -> Department:
    dept = db.session.scalar(select(Department).where(Department.code == code.upper()))
    if dept is None:
        raise NotFound(f"department {code!r} does not exist")
    return dept


def create_department(code: str, name: str, parent_code: str | None = None) -> Department:
    code = code.strip().upper()
    if not CODE_RE.fullmatch(code):
        raise ValidationError({"code": "use 1-32 letters, digits, '-' or '_'"})
    if not name.strip():
        raise ValidationError({"name": "is required"})
    if db.session.scalar(select(Department.id).where(Department.code == code)):
        raise Conflict(f"department {code} already exists")
    parent = get_department(parent_code) if parent_code else None
    dept = Department(code=code, name=name.strip(), parent=parent)
    db.session.add(dept)
    db.session.flush()
    audit.record("department.create", "department", dept.id, {"code": code})
    return dept


def set_department_head(code: str, username: str | None) -> Department:
    """Make ``username`` the head of department ``code`` (None: the department has none).

    The head is an active staff member of the department itself; audited.
    """
    dept = get_department(code)
    head = None
    if username is not None:
        head = get_user(username)
        if not (head.is_active and head.is_staff):
            raise ValidationError({"username": "must be an active staff member"})
        if head.department_id != dept.id:
            raise ValidationError({"username": f"must belong to department {dept.code}"})
    if dept.head_id != (head.id if head else None):
        dept.head = head
        db.session.flush()
        audit.record(
            "department.head",
            "department",
            dept.id,
            {"code": dept.code, "head": head.username if head else None},
        )
    return dept


def subtree_ids(department_id: int) -> Select[tuple[int]]:
    """A query of the department's id and all of its descendants' ids."""
    tree = select(Department.id).where(Department.id == department_id).cte(recursive=True)
    tree = tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))
    return select(tree.c.id)


# Users -----------------------------------------------------------------------


def get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def create_user(
    username: str,
    roles: list[str] | list[Role],
    *,
    password: str | None = None,
    department_code: str | None = None,
    full_name: str = "",
    email: str | None = None,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            {
                "username": "use 2-64 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit"
            }
        )
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"user {username} already exists")
    try:
        role_set = {Role(r) for r in roles}
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValidationError({"role": f"unknown role; use one of {known}"}) from None
    if not role_set:
        raise ValidationError({"role": "at least one role is required"})
    department = get_department(department_code) if department_code else None
    if department is None and role_set - {Role.APPLICANT, Role.ADMIN, Role.RECORDS_OFFICER}:
        raise ValidationError({"department": "clerks and approvers belong to a department"})
    if password is not None:
        check_password_strength(password)
    user = User(
        username=username,
        full_name=full_name.strip(),
        email=email,
        department=department,
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=utcnow() if password is not None else None,
    )
    user.role_links = [UserRole(role=r.value) for r in sorted(role_set)]
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, {"roles": sorted(r.value for r in role_set)})
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user, current):
        raise ValidationError({"current_password": "is not correct"})
    check_password_strength(new, "new_password")
    if new == current:
        raise ValidationError({"new_password": "must differ from the current password"})
    set_password(user, new)


def set_password(user: User, new: str) -> None:
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.session_version += 1
    db.session.flush()
    audit.record("user.password_change", "user", user.id, actor=user)


# Login throttling ------------------------------------------------------------


def _throttle_key(kind: str, value: str) -> str:
    # Hashed so the table holds neither user names nor addresses.
    secret = current_app.config["SECRET_KEY"]
    return hashlib.sha256(f"{secret}|{kind}|{value}".encode()).hexdigest()


@dataclass
class LoginResult:
    user: User | None
    locked_minutes: int = 0


def _throttles(keys: list[str]) -> list[LoginThrottle]:
    return list(db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))))


#: Failures from one client address may be this many times the per-account limit:
#: a whole office behind one NAT address must not lock itself out.
ADDRESS_FACTOR = 5


def authenticate(username: str, password: str, client_addr: str | None) -> User:
    """Check a login; raise ``TooManyRequests`` while locked, ``ValidationError`` when wrong."""
    settings = current_app.config["EDMS"]
    max_failures = settings["login_max_failures"]
    now = utcnow()
    name = username.strip().lower()
    user_key = _throttle_key("user", name)
    limits = {
        user_key: max_failures,
        _throttle_key("addr", client_addr or ""): max_failures * ADDRESS_FACTOR,
    }
    for row in _throttles(list(limits)):
        if row.locked_until and row.locked_until > now:
            minutes = max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
            audit.record("login.locked", "user", None, {"minutes": minutes})
            raise TooManyRequests(
                f"Too many failed logins. Try again in {minutes} minute(s).",
                retry_after=minutes * 60,
            )
    user = db.session.scalar(select(User).where(User.username == name))
    if user is not None and user.is_active and verify_password(user, password):
        db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_key))
        user.last_login_at = now
        audit.record("login.success", "user", user.id, actor=user)
        return user
    _count_failure(limits, now, settings["login_lockout_minutes"])
    audit.record("login.failure", "user", user.id if user else None)
    raise ValidationError({"password": "the user name or password is not correct"})


def _count_failure(limits: dict[str, int], now: datetime, lockout: int) -> None:
    existing = {row.key: row for row in _throttles(list(limits))}
    for key, limit in limits.items():
        row = existing.get(key)
        if row is None or now - row.first_failure_at > timedelta(minutes=lockout):
            if row is not None:
                db.session.delete(row)
                db.session.flush()
            row = LoginThrottle(key=key, failures=0, first_failure_at=now)
            db.session.add(row)
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + timedelta(minutes=lockout)
    db.session.flush()


# API tokens ------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Make a token; the plain token is returned once and only its hash is kept."""
    name = name.strip() or "API token"
    if len(name) > 100:
        raise ValidationError({"name": "must be at most 100 characters"})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        token_hash=_token_hash(plain),
        prefix=plain[: len(TOKEN_PREFIX) + 6],
        created_at=utcnow(),
    )
    db.session.add(token)
    db.session.flush()
    audit.record("token.create", "api_token", token.id, {"name": name}, actor=user)
    return token, plain


def user_for_token(plain: str) -> User | None:
    """The active user owning an active token, recording when it was last used."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    now = utcnow()
    # One write a minute at most, not one per request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        db.session.flush()
    return token.user


def revoke_token(user: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("no such token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        audit.record("token.revoke", "api_token", token.id, actor=user)
    return token


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )
