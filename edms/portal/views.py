"""The applicant's pages of the single-window portal.

The catalogue and each service's page are public. Everything else is an applicant's
own: drafts (the form drawn from the service's JSON Schema, its attachments, "apply
as"), the confirmation after submitting, the list of applications and each one's
status page (history, the open request for more information and its answer, the
signed decision). Another person's application answers 404 whoever asks, staff
included; identifiers (TIN, PINFL, e-mail) never appear in a URL.

The views are thin: ``edms.portal.services`` checks and changes; these parse the
request, call it, and render. Messages of the services are written in English and
translated here (``translate``) when the catalogue knows them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import flask_babel
import flask_login
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from edms.auth.login import get_user
from edms.auth.models import Role, User
from edms.db import db
from edms.documents import services as documents
from edms.documents.download import send_version
from edms.errors import Conflict, NotFound, PermissionDenied, ValidationError
from edms.labels import label_filters
from edms.main.views import translate_message
from edms.portal import catalogue, forms, services, tables
from edms.portal.models import (
    Application,
    ApplicationEvent,
    ApplicationFile,
    ApplicationStatus,
    ServiceDefinition,
)

bp = Blueprint("portal", __name__, url_prefix="/portal")

F = TypeVar("F", bound=Callable[..., Any])
#: flask-login's decorator, typed.
login_required = cast(Callable[[F], F], flask_login.login_required)


def _(string: str, /, **values: Any) -> str:
    """gettext, typed."""
    return str(flask_babel.gettext(string, **values))


def ngettext(singular: str, plural: str, num: int, /, **values: Any) -> str:
    """ngettext, typed."""
    return str(flask_babel.ngettext(singular, plural, num, **values))


Page = Response | tuple[str, int]

#: The error table of a statistical report shows at most this many rows.
TABLE_ROWS = 1000

STATUS_LABELS: dict[str, Any] = {
    ApplicationStatus.DRAFT: _l("Draft"),
    ApplicationStatus.SUBMITTED: _l("Under review"),
    ApplicationStatus.INFORMATION_REQUESTED: _l("More information needed from you"),
    ApplicationStatus.DECIDING: _l("The decision is being prepared"),
    ApplicationStatus.GRANTED: _l("Granted"),
    ApplicationStatus.REFUSED: _l("Refused"),
    ApplicationStatus.WITHDRAWN: _l("Withdrawn"),
}
APPLICANT_LABELS = {
    "organisation": _l("Organisations (identified by their TIN)"),
    "person": _l("Individuals (identified by their PINFL)"),
}
_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/tiff": (".tif", ".tiff"),
    catalogue.CSV: (".csv",),
    catalogue.XLSX: (".xlsx",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "text/plain": (".txt",),
}
_TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
    catalogue.CSV: "CSV",
    catalogue.XLSX: "XLSX",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
}

label_filters(bp, {"portal_status": STATUS_LABELS})


# Messages of the portal's services, in the user's language ---------------------------------


def N_(message: str) -> str:
    return message


#: Messages of edms.portal (services, forms, tables) and edms.applicants.acting_for that
#: the catalogue translates.
MESSAGES = frozenset(
    {
        N_("enter a value"),
        N_("enter a whole number"),
        N_("enter a number"),
        N_("must be true or false"),
        N_("choose one of the options"),
        N_("tick this box to continue"),
        N_("enter an e-mail address like name@example.uz"),
        N_("unknown field"),
        N_("too many unknown fields"),
        N_("is not in the expected format"),
        N_("is not the expected value"),
        N_("is not valid"),
        N_("attach this file"),
        N_("this service asks for no such attachment"),
        N_("the report could not be read"),
        N_("write an answer or attach a file"),
        N_("to apply as a person, add your PINFL on your account page first"),
        N_("you do not act for this organisation"),
        N_("choose to apply as a person or for one of your organisations"),
        N_("this service is for an organisation"),
        N_("this service is for a person"),
        N_("this service is for an organisation or a person"),
        N_("this service is for a person or an organisation"),
        N_("formulas are not accepted; enter the value"),
        N_("the file is not a readable XLSX workbook; save it again from Excel"),
        N_("the file is not a table: send it as CSV or XLSX"),
        N_("There is no such application."),
        N_("There is no such service."),
        N_("There is no such file."),
        N_("There is no decision on this application yet."),
        N_("This application has been submitted; it can no longer be changed."),
        N_("This service is no longer offered."),
        N_("Nothing has been asked of this application."),
        N_("This request has been answered already."),
    }
)

_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"a (.+) file is needed; this one is (.+)"),
        lambda m: _("a %(wanted)s file is needed; this one is %(found)s", wanted=m[1], found=m[2]),
    ),
    (
        re.compile(r"the file is larger than (\d+) MB"),
        lambda m: _("the file is larger than the limit of %(size)s MB", size=m[1]),
    ),
    (
        re.compile(r"the report has (\d+) error\(s\); see the table of errors"),
        lambda m: ngettext(
            "the report has %(num)s error; see the table of errors",
            "the report has %(num)s errors; see the table of errors",
            int(m[1]),
        ),
    ),
    (
        re.compile(r"an application holds at most (\d+) files"),
        lambda m: _("an application holds at most %(num)s files", num=m[1]),
    ),
    (
        re.compile(r"must be at least (-?[\d.]+)"),
        lambda m: _("must be at least %(min)s", min=m[1]),
    ),
    (
        re.compile(r"must be at most (-?[\d.]+)"),
        lambda m: _("must be at most %(max)s", max=m[1]),
    ),
    (
        re.compile(r"must be at least (\d+) characters"),
        lambda m: _("must be at least %(min)s characters", min=m[1]),
    ),
    (
        re.compile(r"must be more than (-?[\d.]+)"),
        lambda m: _("must be more than %(min)s", min=m[1]),
    ),
    (
        re.compile(r"must be less than (-?[\d.]+)"),
        lambda m: _("must be less than %(max)s", max=m[1]),
    ),
)


@bp.app_template_filter("portal_message")
def translate(message: Any) -> str:
    """A message of the portal's services in the user's language when the catalogue knows
    it (plain text: templates escape it)."""
    text = str(message)
    if text in MESSAGES:
        return _(text)
    for pattern, translated in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return translated(match)
    return translate_message(text)


# Helpers -----------------------------------------------------------------------------------


def _lang() -> str:
    locale = get_locale()
    return str(locale.language) if locale is not None else "uz"


def _applicant() -> User:
    """The logged-in applicant; staff and others get a 403 page that says why."""
    user = get_user()
    if not user.has_role(Role.APPLICANT):
        raise PermissionDenied(
            _(
                "The portal is for applicants: citizens and businesses applying for public "
                "services. Staff accounts work in the registry."
            )
        )
    return user


def _own(user: User, key: Any) -> Application:
    """The user's application by id or tracking number; 404 (in words) for anyone else's."""
    try:
        return services.get_own(user, key)
    except NotFound as exc:
        raise NotFound(translate(exc.message)) from None


def _service_or_404(code: str) -> ServiceDefinition:
    try:
        return services.get_service(code)
    except NotFound as exc:
        raise NotFound(translate(exc.message)) from None


def _upload(value: FileStorage | None) -> documents.Upload | None:
    """The file of a file input, or None when none was chosen."""
    if value is None or not value.filename:
        return None
    return documents.Upload(value.filename, value.stream)


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


def field_id(name: str) -> str:
    return f"field-{_safe_id(name)}"


def attachment_id(code: str) -> str:
    return f"attachment-{_safe_id(code)}"


def _attachment_key(code: str) -> str:
    """The form name of an attachment's input, as the services name its errors."""
    return f"attachment.{code}"


def type_names(types: Iterable[str]) -> str:
    names = [_TYPE_NAMES.get(t, _("text") if t == "text/plain" else t) for t in types]
    return ", ".join(dict.fromkeys(names))


def _accept(types: Iterable[str]) -> str:
    out: list[str] = []
    for media_type in types:
        out.extend(_EXTENSIONS.get(media_type, ()))
        out.append(media_type)
    return ",".join(dict.fromkeys(out))


def number_text(value: float) -> str:
    """A bound of a field for a reader: 2026 as is (a year), larger numbers grouped."""
    if isinstance(value, int) and abs(value) < 10_000:
        return str(value)
    return str(format_decimal(value))


def fee_text(spec: catalogue.ServiceSpec) -> str:
    if spec.fee is None or spec.fee.free:
        return _("Free")
    return _(
        "%(amount)s %(currency)s",
        amount=format_decimal(spec.fee.amount),
        currency=spec.fee.currency,
    )


def _account_url() -> str:
    if "applicants.account" in current_app.view_functions:
        return url_for("applicants.account")
    return "/portal/account"


def _register_url() -> str:
    if "applicants.register" in current_app.view_functions:
        return url_for("applicants.register")
    return ""


@bp.app_template_filter("application_event")
def event_sentence(event: ApplicationEvent) -> str:
    """What an event of an application's public history means, in words."""
    details: Mapping[str, Any] = event.details or {}
    kind = event.kind
    if kind == "submitted":
        number = details.get("registration_number")
        if number:
            return _("The application was submitted and registered as %(number)s.", number=number)
        return _("The application was submitted and registered.")
    if kind == "information_requested":
        return _("More information was asked of you.")
    if kind == "answered":
        files = int(details.get("files") or 0)
        if files:
            return ngettext(
                "You answered the request for information (%(num)s file).",
                "You answered the request for information (%(num)s files).",
                files,
            )
        return _("You answered the request for information.")
    if kind == "route_finished":
        return _("The review is finished; the decision is being prepared.")
    if kind == "decided":
        number = details.get("registration_number", "")
        if details.get("outcome") == "granted":
            return _(
                "The decision %(number)s was made: your application is granted.", number=number
            )
        return _("The decision %(number)s was made: your application is refused.", number=number)
    return str(kind)


@bp.app_context_processor
def _portal_navigation() -> dict[str, Any]:
    """``portal_nav``: "applicant" for applicants (they see the portal's menu, never the
    registry's), "visitor" for anyone not logged in on a portal page, else None."""
    user = current_user
    nav: str | None = None
    if user and user.is_authenticated and isinstance(user, User):
        if user.has_role(Role.APPLICANT) and not user.is_staff:
            nav = "applicant"
    elif request.blueprint == "portal":
        nav = "visitor"
    return {
        "portal_nav": nav,
        "portal_account_url": _account_url() if nav == "applicant" else "",
        "portal_register_url": _register_url() if nav == "visitor" else "",
    }


# The catalogue (public) --------------------------------------------------------------------


@bp.get("/")
def catalogue_page() -> Page:
    lang = _lang()
    rows = [(row, services.spec_of(row)) for row in services.list_services()]
    return render_template(
        "portal/catalogue.html",
        services=[
            {
                "code": row.code,
                "name": catalogue.text(spec.name, lang),
                "description": catalogue.text(spec.description, lang),
                "term_days": spec.term_days,
                "fee": fee_text(spec),
                "applicants": [str(APPLICANT_LABELS[k]) for k in spec.applicants],
            }
            for row, spec in rows
        ],
    ), 200


@bp.get("/services/<code>")
def service(code: str) -> Page:
    row = _service_or_404(code)
    spec = services.spec_of(row)
    lang = _lang()
    user = current_user
    return render_template(
        "portal/service.html",
        code=row.code,
        spec=spec,
        name=catalogue.text(spec.name, lang),
        description=catalogue.text(spec.description, lang),
        fee=fee_text(spec),
        applicants=[str(APPLICANT_LABELS[k]) for k in spec.applicants],
        attachments=[
            {
                "title": catalogue.text(a.title, lang),
                "help": catalogue.text(a.help, lang),
                "required": a.required,
                "types": type_names(a.types),
                "max_mb": a.max_mb,
            }
            for a in spec.attachments
        ],
        fields=forms.fields(spec.form, lang),
        logged_in=bool(user and user.is_authenticated),
    ), 200


@bp.post("/services/<code>/start")
@login_required
def start(code: str) -> Response:
    user = _applicant()
    row = _service_or_404(code)
    application = services.new_application(user, row.code)
    db.session.commit()
    return redirect(url_for("portal.edit", application_id=application.id))


# Drafts ------------------------------------------------------------------------------------


@dataclass
class AttachmentInput:
    """What the edit page shows of one attachment the service asks for."""

    code: str
    key: str
    id: str
    title: str
    help: str
    required: bool
    types: str
    accept: str
    max_mb: int
    file: ApplicationFile | None
    error: str | None


@dataclass(frozen=True)
class ActingOption:
    value: str
    id: str
    label: str
    masked: str
    kind: str


def _acting_options(user: User, spec: catalogue.ServiceSpec) -> list[ActingOption]:
    from edms.applicants import services as applicants

    out: list[ActingOption] = []
    for acting in applicants.acting_options(user):
        if acting.kind not in spec.applicants:
            continue
        value = "person" if acting.kind == "person" else f"organisation:{acting.organisation_id}"
        out.append(
            ActingOption(value, f"acting_for-{len(out)}", acting.label, acting.masked, acting.kind)
        )
    return out


def _acting_value(application: Application, options: list[ActingOption]) -> str:
    if application.organisation_id is not None:
        wanted = f"organisation:{application.organisation_id}"
        if any(o.value == wanted for o in options):
            return wanted
    if any(o.value == "person" for o in options):
        return "person"
    return options[0].value if len(options) == 1 else ""


def _remember_acting(user: User, application: Application, choice: str | None) -> None:
    """Keep the "apply as" choice of a draft (``submit`` checks it again)."""
    from edms.applicants import services as applicants

    if not choice:
        return
    try:
        acting = applicants.acting_for(user, choice)
    except ValidationError:
        return
    application.organisation_id = acting.organisation_id


def _posted(schema: Mapping[str, Any]) -> dict[str, str]:
    """The form's own fields from the request (not the CSRF token, buttons or files)."""
    properties = schema.get("properties") or {}
    return {name: request.form[name] for name in properties if name in request.form}


def _summary(
    errors: Mapping[str, str],
    fields: list[forms.FormField],
    attachments: list[AttachmentInput],
    acting: list[ActingOption],
) -> list[tuple[str | None, str]]:
    """The error summary's items in the order of the page: (link or None, text)."""
    items: list[tuple[str | None, str]] = []
    shown: set[str] = set()
    if "acting_for" in errors:
        target = f"#{acting[0].id}" if acting else None
        items.append((target, _("Apply as: %(message)s", message=errors["acting_for"])))
        shown.add("acting_for")
    for f in fields:
        if f.name in errors:
            items.append((f"#{field_id(f.name)}", f"{f.label}: {errors[f.name]}"))
            shown.add(f.name)
    for a in attachments:
        if a.key in errors:
            items.append((f"#{a.id}", f"{a.title}: {errors[a.key]}"))
            shown.add(a.key)
    for key, message in errors.items():
        if key not in shown:
            items.append((None, message))
    return items


def _render_edit(
    user: User,
    application: Application,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    table: tables.TableResult | None = None,
    acting_choice: str | None = None,
    note: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    spec = services.spec_of(application.service)
    lang = _lang()
    errors = {key: translate(message) for key, message in (errors or {}).items()}
    data: dict[str, Any] = dict(application.data or {})
    if values:
        data.update(values)
    fields = forms.fields(spec.form, lang, data)
    properties: Mapping[str, Any] = spec.form.get("properties") or {}
    formats = {name: str(prop.get("format", "")) for name, prop in properties.items()}
    files = {f.attachment: f for f in application.files if f.attachment}
    attachments = [
        AttachmentInput(
            code=a.code,
            key=_attachment_key(a.code),
            id=attachment_id(a.code),
            title=catalogue.text(a.title, lang),
            help=catalogue.text(a.help, lang),
            required=a.required,
            types=type_names(a.types),
            accept=_accept(a.types),
            max_mb=a.max_mb,
            file=files.get(a.code),
            error=errors.get(_attachment_key(a.code)),
        )
        for a in spec.attachments
    ]
    acting = _acting_options(user, spec)
    report_column = None
    if spec.report is not None:
        report_column = {c.name: catalogue.text(c.title, lang) for c in spec.report.columns}
    return render_template(
        "portal/edit.html",
        application=application,
        name=catalogue.text(spec.name, lang),
        spec=spec,
        fields=fields,
        formats=formats,
        field_id=field_id,
        number_text=number_text,
        errors=errors,
        summary=_summary(errors, fields, attachments, acting),
        attachments=attachments,
        acting=acting,
        acting_value=acting_choice
        if acting_choice is not None
        else _acting_value(application, acting),
        acting_kinds=[str(APPLICANT_LABELS[k]) for k in spec.applicants],
        table=table,
        table_rows=table.errors[:TABLE_ROWS] if table is not None else [],
        report_columns=report_column or {},
        note=note,
        account_url=_account_url(),
    ), status


def _typed_problems(errors: Mapping[str, str], raw: Mapping[str, str]) -> dict[str, str]:
    """The problems of what was typed: on "Save draft", an empty field is no problem yet."""
    return {k: v for k, v in errors.items() if str(raw.get(k, "")).strip()}


@bp.route("/applications/<application_id>/edit", methods=["GET", "POST"])
@login_required
def edit(application_id: str) -> Page:
    user = get_user()
    application = _own(user, application_id)
    if application.status != ApplicationStatus.DRAFT:
        return redirect(url_for("portal.status", number=application.tracking_number))
    if request.method == "GET":
        return _render_edit(user, application)

    spec = services.spec_of(application.service)
    action = request.form.get("action", "save")
    remove = request.form.get("remove")
    choice = request.form.get("acting_for")
    raw = _posted(spec.form)
    draft_errors = services.save_draft(user, application, raw)
    _remember_acting(user, application, choice)
    problems: dict[str, str] = {}
    table: tables.TableResult | None = None
    for wanted in spec.attachments:
        upload = _upload(request.files.get(_attachment_key(wanted.code)))
        if upload is None:
            continue
        try:
            services.add_attachment(user, application, wanted.code, upload)
        except services.ReportProblems as exc:
            # The table was stored to be read: do not keep it as the draft's report.
            problems.update(exc.errors)
            table = exc.table
            for row in [f for f in application.files if f.attachment == wanted.code]:
                services.remove_attachment(user, application, row.id)
        except ValidationError as exc:
            problems.update(exc.errors)
    removed: str | None = None
    if remove:
        for row in application.files:
            if str(row.id) == remove:
                removed = row.original_filename
        try:
            services.remove_attachment(user, application, remove)
        except NotFound:
            removed = None
    db.session.commit()

    if action == "submit" and not remove:
        if not problems:
            try:
                services.submit(user, application, choice)
            except services.ReportProblems as exc:
                db.session.rollback()
                problems = dict(exc.errors)
                table = exc.table
            except ValidationError as exc:
                db.session.rollback()
                problems = dict(exc.errors)
            except Conflict as exc:  # e.g. the service is no longer offered
                db.session.rollback()
                problems = {"_": exc.message}
            else:
                db.session.commit()
                return redirect(url_for("portal.submitted", number=application.tracking_number))
        else:
            application = _own(user, application.id)
            problems = {**services.check_complete(application), **problems}
        errors = {**problems, **draft_errors}
        return _render_edit(
            user,
            application,
            values=raw,
            errors=errors,
            table=table,
            acting_choice=choice,
            note=_("Your draft has been saved. Correct the problems below to submit it."),
            status=422,
        )

    errors = {**_typed_problems(draft_errors, raw), **problems}
    if errors:
        return _render_edit(
            user,
            application,
            values=raw,
            errors=errors,
            table=table,
            acting_choice=choice,
            note=_("Your draft has been saved, but some answers need correcting."),
            status=422,
        )
    if removed:
        flash(_("%(name)s has been removed.", name=removed), "success")
    else:
        flash(_("Your draft has been saved."), "success")
    return redirect(url_for("portal.edit", application_id=application.id))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Page:
    """A request over the upload limit cannot even be read: say so on the form."""
    from edms.errors import handle_http_exception

    limit = int(current_app.config["EDMS"]["max_upload_mb"])
    message = _(
        "The files you chose are larger than %(size)s MB together: choose smaller files.",
        size=limit,
    )
    user = current_user
    args = request.view_args or {}
    key = args.get("application_id") or args.get("number")
    if request.endpoint not in ("portal.edit", "portal.answer") or not key:
        return handle_http_exception(exc)
    if not (user and user.is_authenticated):
        return handle_http_exception(exc)
    try:
        application = services.get_own(user._get_current_object(), key)
    except NotFound:
        return handle_http_exception(exc)
    if request.endpoint == "portal.answer":
        return _render_status(application, errors={"files": message}, status=413)
    if application.status != ApplicationStatus.DRAFT:
        return handle_http_exception(exc)
    spec = services.spec_of(application.service)
    target = _attachment_key(spec.attachments[0].code) if spec.attachments else "_"
    return _render_edit(
        user._get_current_object(), application, errors={target: message}, status=413
    )


# After submitting ----------------------------------------------------------------------------


def _submitted_own(number: str) -> Application:
    user = get_user()
    application = _own(user, number)
    if application.tracking_number is None:
        raise NotFound(_("There is no such application."))
    return application


@bp.get("/applications/<number>/submitted")
@login_required
def submitted(number: str) -> Page:
    application = _submitted_own(number)
    spec = services.spec_of(application.service)
    return render_template(
        "portal/submitted.html",
        application=application,
        name=catalogue.text(spec.name, _lang()),
        term_days=spec.term_days,
        email=bool(application.applicant.email),
    ), 200


@bp.get("/applications")
@login_required
def applications() -> Page:
    user = _applicant()
    lang = _lang()
    rows = [
        (a, catalogue.text(services.spec_of(a.service).name, lang)) for a in services.list_own(user)
    ]
    return render_template("portal/list.html", rows=rows), 200


def _render_status(
    application: Application,
    *,
    errors: Mapping[str, str] | None = None,
    answer_text: str = "",
    status: int = 200,
) -> tuple[str, int]:
    lang = _lang()
    state = services.status_of(application)
    errors = {key: translate(message) for key, message in (errors or {}).items()}
    labels = {"answer": _("Your answer"), "files": _("Files"), "file": _("Files")}
    targets = {"answer": "#answer", "files": "#answer-files", "file": "#answer-files"}
    summary: list[tuple[str | None, str]] = []
    for key, message in errors.items():
        if key.startswith("files."):
            key = "files"
        if key in labels:
            summary.append((targets[key], f"{labels[key]}: {message}"))
        else:
            summary.append((None, message))
    file_errors = [m for k, m in errors.items() if k == "file" or k.startswith("files")]
    return render_template(
        "portal/status.html",
        application=application,
        state=state,
        name=catalogue.text(state.service_name, lang),
        step=catalogue.text(state.current_step, lang) if state.current_step else "",
        errors=errors,
        file_errors=file_errors,
        summary=summary,
        answer_text=answer_text,
        max_upload_mb=int(current_app.config["EDMS"]["max_upload_mb"]),
        today=documents.today(),
    ), status


@bp.get("/applications/<number>")
@login_required
def status(number: str) -> Page:
    application = _own(get_user(), number)
    if application.status == ApplicationStatus.DRAFT:
        return redirect(url_for("portal.edit", application_id=application.id))
    return _render_status(application)


@bp.post("/applications/<number>/answer")
@login_required
def answer(number: str) -> Page:
    user = get_user()
    application = _submitted_own(number)
    text = request.form.get("answer", "")
    uploads = [u for u in (_upload(f) for f in request.files.getlist("files")) if u is not None]
    try:
        services.answer(user, application, text, uploads)
    except ValidationError as exc:
        db.session.rollback()
        return _render_status(_own(user, number), errors=exc.errors, answer_text=text, status=422)
    except Conflict as exc:
        db.session.rollback()
        flash(translate(exc.message), "error")
    else:
        db.session.commit()
        flash(_("Thank you: your answer has been sent."), "success")
    return redirect(url_for("portal.status", number=application.tracking_number))


@bp.get("/applications/<number>/decision")
@login_required
def decision(number: str) -> Response:
    user = get_user()
    application = _submitted_own(number)
    try:
        version = services.decision_version(user, application)
    except NotFound as exc:
        raise NotFound(translate(exc.message)) from None
    return send_version(version)
