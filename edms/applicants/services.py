"""Applicant accounts of the single-window portal.

An applicant is a ``User`` with the ``applicant`` role and no department, plus an
``ApplicantProfile`` (``edms.portal.models``): the PINFL of the person, a phone
number, when the e-mail address was confirmed. The user name is the e-mail address
in lower case, so an address longer than 64 characters cannot be used. A user may
act for organisations (``Organisation``, identified by its TIN) through
``Membership`` rows.

Two ways in:

- ``register``: anyone registers; the account is made inactive and a link that
  confirms the e-mail address is mailed. ``confirm`` activates the account.
- ``create_applicant`` (the admin page, ``edms applicant create``): the account is
  made inactive *without* a password, and a link to choose one is mailed (or handed
  over when this site sends no e-mail). ``set_password`` activates the account and
  confirms the address, which the link reached.

Links are signed with the secret key (itsdangerous, a salt per purpose) and expire
after ``portal_confirm_hours``. Each carries the user id and a keyed fingerprint of
the account's state that using the link changes (confirmation, password hash), so a
link works once. Errors (``LinkError`` and its subclasses): ``LinkInvalid`` (400:
tampered or unknown), ``LinkExpired`` (410), ``LinkUsed`` (410: used, or the account
changed since). ``resend`` mails a fresh link.

Nothing tells a visitor whether an address has an account: registering with a known
address mails its owner instead and answers as for a new one (the password is hashed
either way, so timing does not tell either); asking for a new link answers alike
whether anything was sent or not. Registrations and link requests are counted per
client address and mails per account (``MAX_REQUESTS_PER_CLIENT``,
``MAX_MAILS_PER_ACCOUNT`` an hour) so the portal cannot be used to flood a mailbox.

TIN and PINFL are personal data: they never go into audit details, log records or
URLs (forms post them; organisations are named by their id). Pages show them
``mask``-ed; ``Acting.identifier`` keeps the whole value for the registered document.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from flask import current_app
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, func, or_, select

from edms.audit import services as audit
from edms.auth.models import LoginThrottle, Role, User, UserRole
from edms.auth.services import check_password_strength, hash_password
from edms.db import db, utcnow
from edms.errors import EDMSError, NotFound, TooManyRequests, ValidationError
from edms.portal.models import ApplicantProfile, Membership, Organisation
from edms.validators import pinfl_problem, tin_problem

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_ORGANISATION_NAME_LENGTH = 300
MAX_EMAIL_LENGTH = 254
#: The user name is the address, and a user name has at most 64 characters.
MAX_USERNAME_LENGTH = 64
MAX_PHONE_LENGTH = 32
MAX_PASSWORD_LENGTH = 1024
#: Longer than any link this module signs; longer ones are not even parsed.
MAX_TOKEN_LENGTH = 300

#: Registrations and requests for a new link from one client address, per hour.
MAX_REQUESTS_PER_CLIENT = 10
#: Confirmation, password and "address in use" mails to one account, per hour.
MAX_MAILS_PER_ACCOUNT = 3
_HOUR = timedelta(hours=1)

_CONFIRM = "edms.applicants.confirm"
_PASSWORD = "edms.applicants.set-password"  # noqa: S105 - a salt's name, not a secret

EMAIL_RE = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]+")
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()-]*[0-9]")


class LinkError(EDMSError):
    """An e-mailed link that cannot be used; ``reason`` says why for the page."""

    status = 400
    title = "Invalid link"
    reason = "invalid"


class LinkInvalid(LinkError):
    """Tampered with, cut short, or for an account that no longer exists."""


class LinkExpired(LinkError):
    status = 410
    title = "Expired link"
    reason = "expired"


class LinkUsed(LinkError):
    status = 410
    title = "Used link"
    reason = "used"


@dataclass(frozen=True)
class Acting:
    """Whom an applicant applies for: themselves (``person``) or an organisation.

    ``identifier`` is the whole PINFL or TIN, for the registered document only; show
    ``masked``. ``value`` is what a form or the API sends back (``acting_for``).
    """

    kind: Literal["person", "organisation"]
    organisation_id: int | None
    label: str
    identifier: str = field(repr=False)
    masked: str

    @property
    def value(self) -> str:
        return "person" if self.kind == "person" else f"organisation:{self.organisation_id}"


@dataclass(frozen=True)
class ApplicantRow:
    """One applicant in the administrators' list (no TIN or PINFL)."""

    user: User
    confirmed: bool
    organisations: int


@dataclass
class ApplicantPage:
    rows: list[ApplicantRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# Small helpers -------------------------------------------------------------------------


def mask(identifier: str) -> str:
    """``identifier`` with all but its last four characters hidden: ``**********1234``."""
    return "*" * max(0, len(identifier) - 4) + identifier[-4:]


def mail_enabled() -> bool:
    """Whether this site sends e-mail (self-registration needs it)."""
    return bool(current_app.config["EDMS"]["smtp_host"])


def link_hours() -> int:
    return int(current_app.config["EDMS"]["portal_confirm_hours"])


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def _line(
    value: Any, name: str, max_length: int, errors: dict[str, str], *, required: bool = True
) -> str:
    """One line of text, stripped; a problem goes into ``errors[name]``."""
    text = str(value or "").strip()
    if _has_control(text):
        errors[name] = "must not contain control characters"
    elif len(text) > max_length:
        errors[name] = f"must be at most {max_length} characters"
    elif required and not text:
        errors[name] = "is required"
    return text


def normalize_email(value: Any, errors: dict[str, str], name: str = "email") -> str:
    """The address in lower case (it is the user name), or a problem in ``errors``."""
    address = _line(value, name, MAX_EMAIL_LENGTH, errors).lower()
    if name in errors:
        return address
    if not EMAIL_RE.fullmatch(address):
        errors[name] = "an e-mail address looks like name@example.uz"
    elif len(address) > MAX_USERNAME_LENGTH:
        errors[name] = "is longer than 64 characters, the longest user name: use a shorter address"
    return address


def _password(password: Any, again: Any, errors: dict[str, str]) -> str:
    text = str(password or "")
    if not text:
        errors["password"] = "is required"  # noqa: S105 - a message, not a password
    elif len(text) > MAX_PASSWORD_LENGTH:
        errors["password"] = f"must be at most {MAX_PASSWORD_LENGTH} characters"
    else:
        try:
            check_password_strength(text)
        except ValidationError as exc:
            errors.update(exc.errors)
    if "password" not in errors and str(again or "") != text:
        errors["confirm_password"] = "the two passwords are not the same"  # noqa: S105
    return text


def _identifier(value: Any, name: str, check: Any, errors: dict[str, str]) -> str:
    text = str(value or "").strip()
    if text:
        problem = check(text)
        if problem:
            errors[name] = problem
    return text


def _organisation_fields(tin: Any, org_name: Any, errors: dict[str, str]) -> tuple[str, str]:
    number = _identifier(tin, "tin", tin_problem, errors)
    name = _line(org_name, "org_name", MAX_ORGANISATION_NAME_LENGTH, errors, required=False)
    if number and not name and "org_name" not in errors:
        errors["org_name"] = "is required when a TIN is given"
    if name and not number and "tin" not in errors:
        errors["tin"] = "is required when an organisation name is given"
    return number, name


def _phone(value: Any, errors: dict[str, str]) -> str:
    phone = _line(value, "phone", MAX_PHONE_LENGTH, errors, required=False)
    if phone and "phone" not in errors and not PHONE_RE.fullmatch(phone):
        errors["phone"] = "use digits, spaces, brackets and dashes, optionally after a +"
    return phone


def _pinfl_taken(pinfl: str, except_user_id: int | None = None) -> bool:
    query = select(ApplicantProfile.user_id).where(ApplicantProfile.pinfl == pinfl)
    if except_user_id is not None:
        query = query.where(ApplicantProfile.user_id != except_user_id)
    return db.session.scalar(query.limit(1)) is not None


def _account_with_address(address: str) -> User | None:
    """The account whose user name or e-mail address is ``address``, if any."""
    return db.session.scalar(
        select(User)
        .where(or_(User.username == address, func.lower(User.email) == address))
        .order_by((User.username == address).desc(), User.id)
        .limit(1)
    )


def _profile(user: User) -> ApplicantProfile | None:
    return db.session.get(ApplicantProfile, user.id)


def _profile_for_update(user: User) -> ApplicantProfile:
    """The user's profile, made now for an applicant who has none (``edms user create``)."""
    profile = _profile(user)
    if profile is None:
        profile = ApplicantProfile(user_id=user.id, phone="")
        db.session.add(profile)
        db.session.flush()
    return profile


# Counting requests and mails -----------------------------------------------------------


def _throttle_key(kind: str, value: str) -> str:
    # Keyed with the secret, so the table holds neither addresses nor user ids.
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"portal|{kind}|{value}".encode(), hashlib.sha256).hexdigest()


def _count(kind: str, value: str, limit: int, window: timedelta) -> bool:
    """Count one more event of ``kind`` for ``value``; whether it is within ``limit``."""
    key = _throttle_key(kind, value)
    now = utcnow()
    row = db.session.scalar(select(LoginThrottle).where(LoginThrottle.key == key))
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_failure_at=now)
        db.session.add(row)
    elif now - row.first_failure_at > window:
        row.failures = 0
        row.first_failure_at = now
        row.locked_until = None
    row.failures += 1
    if row.failures > limit:
        row.locked_until = row.first_failure_at + window
    db.session.flush()
    return row.failures <= limit


def _count_client(client_addr: str | None) -> None:
    if not _count("client", client_addr or "", MAX_REQUESTS_PER_CLIENT, _HOUR):
        logger.warning("portal: too many registrations or link requests from one address")
        raise TooManyRequests(
            "Too many requests from your address. Try again in an hour.", retry_after=3600
        )


def _may_mail(user: User) -> bool:
    if _count("mail", str(user.id), MAX_MAILS_PER_ACCOUNT, _HOUR):
        return True
    logger.warning("portal: mail to user %s not sent: too many this hour", user.id)
    return False


# Signed links --------------------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def _fingerprint(user: User, profile: ApplicantProfile) -> str:
    """Changes when the link is used: confirmed, password set; or the address changed."""
    state = "|".join(
        (
            str(user.id),
            user.username,
            user.password_hash or "",
            str(user.session_version),
            "confirmed" if profile.confirmed_at is not None else "unconfirmed",
        )
    )
    # Keyed: the payload of a signed link is readable by whoever holds it.
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, state.encode(), hashlib.sha256).hexdigest()[:24]


def _token(user: User, profile: ApplicantProfile, purpose: str) -> str:
    return str(_serializer(purpose).dumps([user.id, _fingerprint(user, profile)]))


def _path(endpoint: str, **values: Any) -> str:
    """A path of this site, outside a request too (the CLI)."""
    adapter = current_app.url_map.bind("localhost")
    return str(adapter.build(endpoint, values))


def confirmation_path(user: User) -> str:
    """The path of a fresh link that confirms ``user``'s address (``/portal/confirm/…``)."""
    profile = _profile_for_update(user)
    return _path("applicants.confirm", token=_token(user, profile, _CONFIRM))


def password_path(user: User) -> str:
    """The path of a fresh link with which ``user`` chooses a password."""
    profile = _profile_for_update(user)
    return _path("applicants.set_password", token=_token(user, profile, _PASSWORD))


def _load(token: str, purpose: str) -> tuple[User, ApplicantProfile]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkInvalid("This link is not valid.")
    try:
        data = _serializer(purpose).loads(token, max_age=link_hours() * 3600)
    except SignatureExpired:
        raise LinkExpired("This link has expired.") from None
    except BadSignature:
        raise LinkInvalid("This link is not valid.") from None
    if (
        not isinstance(data, list)
        or len(data) != 2
        or not isinstance(data[0], int)
        or not isinstance(data[1], str)
    ):
        raise LinkInvalid("This link is not valid.")
    user = db.session.get(User, data[0])
    profile = db.session.get(ApplicantProfile, data[0]) if user is not None else None
    if user is None or profile is None or not user.has_role(Role.APPLICANT):
        raise LinkInvalid("This link is not valid.")
    if not hmac.compare_digest(data[1], _fingerprint(user, profile)):
        raise LinkUsed("This link has been used already.")
    return user, profile


# Mails ---------------------------------------------------------------------------------


def _mail_link(user: User) -> None:
    """Mail a fresh link: to confirm the address, or to choose a password if there is none."""
    from edms.notifications.services import notify, recipient_locale

    if not mail_enabled() or not _may_mail(user):
        return
    hours = link_hours()
    with recipient_locale(user):
        if user.password_hash is None:
            kind, link = "applicant.password", password_path(user)
            subject = gettext("Choose the password of your portal account")
            body = gettext(
                "An account of the single-window portal has been opened for you. Your "
                "user name is this e-mail address.\n\nOpen the link below within "
                "%(hours)s hours to choose your password. The link works once.",
                hours=hours,
            )
        else:
            kind, link = "applicant.confirm", confirmation_path(user)
            subject = gettext("Confirm your e-mail address")
            body = gettext(
                "Someone, probably you, registered an account of the single-window portal "
                "with this e-mail address.\n\nOpen the link below within %(hours)s hours "
                "to confirm the address and activate the account. The link works once.\n\n"
                "If it was not you, ignore this message: the account stays inactive.",
                hours=hours,
            )
    notify(user, kind, subject, body, link, to_inactive=True)


def _mail_address_in_use(user: User) -> None:
    from edms.notifications.services import notify, recipient_locale

    if not mail_enabled() or not _may_mail(user):
        return
    with recipient_locale(user):
        subject = gettext("Someone tried to register with your e-mail address")
        body = gettext(
            "Someone, perhaps you, tried to register a new account of the single-window "
            "portal with this e-mail address. It already belongs to an account, so no new "
            "account was made.\n\nIf it was you, log in with your existing account. If it "
            "was not, you may ignore this message."
        )
    notify(user, "applicant.address_in_use", subject, body, "/login")


# Registration and confirmation ---------------------------------------------------------


def _new_applicant(
    address: str, full_name: str, password_hash: str | None, pinfl: str, locale: str | None
) -> tuple[User, ApplicantProfile]:
    user = User(
        username=address,
        email=address,
        full_name=full_name,
        is_active=False,
        locale=locale,
        password_hash=password_hash,
        password_changed_at=utcnow() if password_hash else None,
    )
    user.role_links = [UserRole(role=Role.APPLICANT.value)]
    db.session.add(user)
    db.session.flush()
    profile = ApplicantProfile(user_id=user.id, pinfl=pinfl or None, phone="")
    db.session.add(profile)
    db.session.flush()
    return user, profile


def register(
    *,
    full_name: Any,
    email: Any,
    password: Any,
    confirm_password: Any,
    pinfl: Any = "",
    tin: Any = "",
    org_name: Any = "",
    consent: bool = False,
    locale: str | None = None,
    client_addr: str | None = None,
) -> User | None:
    """Register an applicant: an inactive account, and a link mailed to confirm it.

    Returns the user, or None when the address belongs to an account in use (its owner
    is mailed instead; the caller must answer exactly as for a new one). A registration
    of the address that was never confirmed is redone with these details: the last one
    wins, and the links of the earlier one stop working. (Else whoever registered
    someone else's address first would choose the password of the account its owner
    activates.) An account an administrator opened is never changed this way: its
    owner is mailed a new link to choose the password. Every input
    problem is reported at once, by field: ``full_name``, ``email``, ``password``,
    ``confirm_password``, ``pinfl``, ``tin``, ``org_name``, ``consent``. Raises
    ``TooManyRequests`` after ``MAX_REQUESTS_PER_CLIENT`` an hour from one client.

    When it raises ``ValidationError`` or ``TooManyRequests``, the only change made is
    the client's count: commit it, so failing requests count too.

    With a TIN the user acts for that organisation, made if the TIN is new. Whether
    the user really represents it is taken on trust: proof of representation would
    come from the national registry of legal entities, which is out of scope here.
    """
    errors: dict[str, str] = {}
    name = _line(full_name, "full_name", MAX_NAME_LENGTH, errors)
    address = normalize_email(email, errors)
    secret = _password(password, confirm_password, errors)
    person = _identifier(pinfl, "pinfl", pinfl_problem, errors)
    number, org = _organisation_fields(tin, org_name, errors)
    if not consent:
        errors["consent"] = "you must agree to continue"
    if errors:
        raise ValidationError(errors)
    _count_client(client_addr)
    # Hashed before looking the address up, so a known address answers no faster.
    password_hash = hash_password(secret)
    existing = _account_with_address(address)
    pending = existing is not None and _pending_registration(existing)
    if existing is not None and not pending:
        _address_in_use(existing)
        return None
    if person and _pinfl_taken(person, except_user_id=existing.id if existing else None):
        raise ValidationError({"pinfl": "this PINFL belongs to another account"})
    if existing is not None:
        user = _redo_registration(existing, name, password_hash, person, locale)
    else:
        user, _profile_row = _new_applicant(address, name, password_hash, person, locale)
    if number:
        _join(user, number, org)
    details: dict[str, Any] = {
        "pinfl": "given" if person else "none",
        "organisations": 1 if number else 0,
    }
    if pending:
        details["again"] = True
    audit.record("applicant.register", "user", user.id, details, actor=user)
    logger.info("applicant %s registered", user.id)
    _mail_link(user)
    return user


def _pending_registration(user: User) -> bool:
    """A self-registration that was never confirmed (nor used: it cannot log in)."""
    profile = _profile(user)
    return (
        profile is not None
        and profile.confirmed_at is None
        and user.password_hash is not None
        and not user.is_active
        and user.last_login_at is None
        and user.has_role(Role.APPLICANT)
    )


def _redo_registration(
    user: User, full_name: str, password_hash: str, pinfl: str, locale: str | None
) -> User:
    profile = _profile_for_update(user)
    user.full_name = full_name
    user.password_hash = password_hash  # changes the fingerprint: earlier links stop working
    user.password_changed_at = utcnow()
    user.locale = locale
    profile.pinfl = pinfl or None
    for membership in db.session.scalars(select(Membership).where(Membership.user_id == user.id)):
        db.session.delete(membership)
    db.session.flush()
    return user


def _address_in_use(user: User) -> None:
    profile = _profile(user)
    opened_by_admin = (
        profile is not None
        and profile.confirmed_at is None
        and user.password_hash is None
        and user.has_role(Role.APPLICANT)
    )
    audit.record("applicant.register_existing", "user", user.id)
    logger.info("registration with the address of user %s", user.id)
    if opened_by_admin:
        _mail_link(user)  # the link to choose the password, which they may have lost
    else:
        _mail_address_in_use(user)


def confirm(token: str) -> User:
    """Confirm the address a link was mailed to and activate the account; audited."""
    user, profile = _load(token, _CONFIRM)
    profile.confirmed_at = utcnow()
    user.is_active = True
    db.session.flush()
    audit.record("applicant.confirm", "user", user.id, actor=user)
    logger.info("applicant %s confirmed their address", user.id)
    return user


def check_password_link(token: str) -> User:
    """The user a password link is for, if it is still good (``LinkError`` otherwise)."""
    return _load(token, _PASSWORD)[0]


def set_password(token: str, password: Any, confirm_password: Any) -> User:
    """Choose the password through a mailed link; activates the account and confirms
    the address (the link reached it). Problems by field: ``password``,
    ``confirm_password``."""
    user, profile = _load(token, _PASSWORD)
    errors: dict[str, str] = {}
    secret = _password(password, confirm_password, errors)
    if errors:
        raise ValidationError(errors)
    user.password_hash = hash_password(secret)
    user.password_changed_at = utcnow()
    user.session_version += 1
    user.is_active = True
    newly_confirmed = profile.confirmed_at is None
    if newly_confirmed:
        profile.confirmed_at = utcnow()
    db.session.flush()
    audit.record("user.password_change", "user", user.id, actor=user)
    if newly_confirmed:
        audit.record("applicant.confirm", "user", user.id, {"by": "password link"}, actor=user)
    logger.info("applicant %s chose a password", user.id)
    return user


def resend(email: Any, client_addr: str | None = None) -> None:
    """Mail a fresh link to an applicant who has not confirmed yet.

    Answers alike whether the address has such an account or not; only a malformed
    address is an error (``email``). Counted as ``register`` is.
    """
    errors: dict[str, str] = {}
    address = normalize_email(email, errors)
    if errors:
        raise ValidationError(errors)
    _count_client(client_addr)
    user = _account_with_address(address)
    profile = _profile(user) if user is not None else None
    if user is None or profile is None or profile.confirmed_at is not None:
        return
    if not user.has_role(Role.APPLICANT):
        return
    audit.record("applicant.resend", "user", user.id)
    _mail_link(user)


# Accounts made by an administrator -----------------------------------------------------


def create_applicant(
    *,
    full_name: Any,
    email: Any,
    pinfl: Any = "",
    tin: Any = "",
    org_name: Any = "",
    actor: User | None = None,
) -> tuple[User, str]:
    """Open an applicant account without a password; audited.

    Returns the user and the path of the link with which they choose a password
    (``/portal/password/…``). It is mailed when this site sends e-mail; otherwise the
    caller hands it over (it works once, for ``portal_confirm_hours``). Problems by
    field: ``full_name``, ``email`` (also when the address has an account: an
    administrator may know), ``pinfl``, ``tin``, ``org_name``.
    """
    errors: dict[str, str] = {}
    name = _line(full_name, "full_name", MAX_NAME_LENGTH, errors)
    address = normalize_email(email, errors)
    person = _identifier(pinfl, "pinfl", pinfl_problem, errors)
    number, org = _organisation_fields(tin, org_name, errors)
    if "email" not in errors and _account_with_address(address) is not None:
        errors["email"] = "an account with this e-mail address exists already"
    if person and "pinfl" not in errors and _pinfl_taken(person):
        errors["pinfl"] = "this PINFL belongs to another account"
    if errors:
        raise ValidationError(errors)
    user, profile = _new_applicant(address, name, None, person, None)
    if number:
        _join(user, number, org, actor=actor)
    audit.record(
        "applicant.create",
        "user",
        user.id,
        {"pinfl": "given" if person else "none", "organisations": 1 if number else 0},
        actor=actor,
    )
    logger.info("applicant %s created by an administrator", user.id)
    path = _path("applicants.set_password", token=_token(user, profile, _PASSWORD))
    _mail_link(user)
    return user, path


def list_applicants(page: int = 1) -> ApplicantPage:
    """Applicants, newest first, a page at a time (``page_size``)."""
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise ValidationError({"page": "must be 1 or more"})
    per_page = int(current_app.config["EDMS"]["page_size"])
    applicants = select(User.id).join(
        UserRole, and_(UserRole.user_id == User.id, UserRole.role == Role.APPLICANT.value)
    )
    total = db.session.scalar(select(func.count()).select_from(applicants.subquery())) or 0
    organisations = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(User, ApplicantProfile.confirmed_at, organisations)
        .join(UserRole, and_(UserRole.user_id == User.id, UserRole.role == Role.APPLICANT.value))
        .outerjoin(ApplicantProfile, ApplicantProfile.user_id == User.id)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return ApplicantPage(
        [ApplicantRow(user, confirmed is not None, int(count)) for user, confirmed, count in rows],
        int(total),
        page,
        per_page,
    )


# The applicant's own account -----------------------------------------------------------


def profile_of(user: User) -> ApplicantProfile | None:
    return _profile(user)


def update_profile(user: User, *, full_name: Any, phone: Any, pinfl: Any = "") -> list[str]:
    """Change the applicant's name, phone, and PINFL (an empty ``pinfl`` keeps it).

    Returns the names of the fields that changed; audited by name, never by value.
    """
    errors: dict[str, str] = {}
    name = _line(full_name, "full_name", MAX_NAME_LENGTH, errors)
    number = _phone(phone, errors)
    person = _identifier(pinfl, "pinfl", pinfl_problem, errors)
    if person and "pinfl" not in errors and _pinfl_taken(person, except_user_id=user.id):
        errors["pinfl"] = "this PINFL belongs to another account"
    if errors:
        raise ValidationError(errors)
    profile = _profile_for_update(user)
    changed = []
    if name != user.full_name:
        user.full_name = name
        changed.append("full_name")
    if number != profile.phone:
        profile.phone = number
        changed.append("phone")
    if person and person != profile.pinfl:
        profile.pinfl = person
        changed.append("pinfl")
    if changed:
        db.session.flush()
        audit.record("applicant.profile", "user", user.id, {"changed": changed}, actor=user)
        logger.info("applicant %s changed %s", user.id, ", ".join(changed))
    return changed


def organisations_of(user: User) -> list[Organisation]:
    """The organisations the user acts for, by name."""
    return list(
        db.session.scalars(
            select(Organisation)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.user_id == user.id)
            .order_by(Organisation.name, Organisation.id)
        )
    )


def _join(user: User, tin: str, name: str, actor: User | None = None) -> Organisation:
    # Anyone who knows a TIN may say they act for it: real proof of representation would
    # come from the national registry of legal entities, which is out of scope here.
    organisation = db.session.scalar(select(Organisation).where(Organisation.tin == tin))
    if organisation is None:
        organisation = Organisation(tin=tin, name=name)
        db.session.add(organisation)
        db.session.flush()
        audit.record("organisation.create", "organisation", organisation.id, actor=actor or user)
    elif db.session.get(Membership, (user.id, organisation.id)) is not None:
        raise ValidationError({"tin": "you act for this organisation already"})
    db.session.add(Membership(user_id=user.id, organisation_id=organisation.id))
    db.session.flush()
    audit.record(
        "applicant.organisation_join",
        "organisation",
        organisation.id,
        {"user": user.id},
        actor=actor or user,
    )
    logger.info("user %s acts for organisation %s", user.id, organisation.id)
    return organisation


def add_organisation(user: User, tin: Any, org_name: Any) -> Organisation:
    """Let the user act for the organisation with this TIN (made if new); audited.

    A known TIN keeps its organisation's name. Problems by field: ``tin``, ``org_name``.
    """
    errors: dict[str, str] = {}
    number, name = _organisation_fields(tin, org_name, errors)
    if not number and "tin" not in errors:
        errors["tin"] = "is required"
    if errors:
        raise ValidationError(errors)
    return _join(user, number, name)


def leave_organisation(user: User, organisation_id: int) -> Organisation:
    """Stop acting for an organisation (its applications stay); audited."""
    membership = db.session.get(Membership, (user.id, organisation_id))
    if membership is None:
        raise NotFound("No such organisation.")
    organisation = membership.organisation
    db.session.delete(membership)
    db.session.flush()
    audit.record(
        "applicant.organisation_leave",
        "organisation",
        organisation_id,
        {"user": user.id},
        actor=user,
    )
    logger.info("user %s no longer acts for organisation %s", user.id, organisation_id)
    return organisation


# Acting for whom -----------------------------------------------------------------------


def acting_options(user: User) -> list[Acting]:
    """Whom the user may apply for: themselves if their PINFL is known, then their
    organisations by name."""
    options: list[Acting] = []
    profile = _profile(user)
    if profile is not None and profile.pinfl:
        options.append(
            Acting("person", None, user.display_name, profile.pinfl, mask(profile.pinfl))
        )
    for organisation in organisations_of(user):
        options.append(
            Acting(
                "organisation",
                organisation.id,
                organisation.name,
                organisation.tin,
                mask(organisation.tin),
            )
        )
    return options


def acting_for(user: User, choice: Any) -> Acting:
    """The ``Acting`` a form or API value names: ``person`` or ``organisation:<id>``.

    Raises ``ValidationError`` on the field ``acting_for`` when the user may not act so
    (a person whose PINFL is not known cannot apply as a person).
    """
    value = str(choice or "").strip()
    if value == "person":
        profile = _profile(user)
        if profile is None or not profile.pinfl:
            raise ValidationError(
                {"acting_for": "to apply as a person, add your PINFL on your account page first"}
            )
        return Acting("person", None, user.display_name, profile.pinfl, mask(profile.pinfl))
    kind, _sep, raw_id = value.partition(":")
    if kind == "organisation" and raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19:
        for option in acting_options(user):
            if option.organisation_id == int(raw_id):
                return option
        raise ValidationError({"acting_for": "you do not act for this organisation"})
    raise ValidationError(
        {"acting_for": "choose to apply as a person or for one of your organisations"}
    )
