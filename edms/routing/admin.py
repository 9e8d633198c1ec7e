"""Administration of workflow definitions: versions, their pictures, new versions, activation.

Administrators only. Every text goes through ``services.check_version`` /
``services.new_version`` (the same loading and validation as config/workflows, plus
the departments that exist); an invalid text never loads and each of its problems is
listed with its path, line and fix. Saving makes a new version: routes already
running stay on theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response
from wtforms import HiddenField, TextAreaField

import workflows
from edms.auth.login import get_user, roles_required
from edms.auth.models import Role
from edms.db import db
from edms.errors import EDMSError, NotFound, PermissionDenied, ValidationError
from edms.routing import services
from edms.routing.forms import DECISION_LABELS, translate
from edms.routing.models import WorkflowDefinition

logger = logging.getLogger(__name__)
bp = Blueprint("workflow_admin", __name__, url_prefix="/admin/workflows")

Page = Response | tuple[str, int]
F = TypeVar("F", bound=Callable[..., Any])

MAX_BYTES = workflows.MAX_TEXT_BYTES
STARTER = """\
# A new route: see docs/WORKFLOWS.md for every field.
code: new_route
name: {en: New route, ru: Новый маршрут, uz: Yangi marshrut}
stages:
  - id: review
    name: {en: Review, ru: Рассмотрение, uz: Ko‘rib chiqish}
    assignees:
      - {head_of: owner}
    decisions: [approve, reject, return]
    deadline_days: 3
"""


def _lang() -> str:
    return str(get_locale() or "en").split("_")[0]


class DefinitionForm(FlaskForm):
    yaml = TextAreaField(
        _l("Definition (YAML)"),
        render_kw={
            "rows": 28,
            "spellcheck": "false",
            "autocapitalize": "none",
            "autocomplete": "off",
            "class": "hash",  # the monospace face of edms.css
        },
    )
    file = FileField(_l("Or upload a .yaml file"), render_kw={"accept": ".yaml,.yml"})


class ActiveForm(FlaskForm):
    active = HiddenField()


# The route in words -----------------------------------------------------------------------


@dataclass
class StageText:
    """One stage of a definition in words: the text alternative of its picture."""

    id: str
    name: str
    lines: list[str] = field(default_factory=list)


def _department(code: str | None) -> str:
    if code in (None, "owner"):
        return _("the document’s department")
    return str(code)


def _assignee(spec: workflows.AssigneeSpec) -> str:
    if spec.user is not None:
        text = _("the user %(name)s", name=spec.user)
    elif spec.role is not None:
        text = _(
            "everyone with the role %(role)s in %(department)s",
            role=spec.role,
            department=_department(spec.department),
        )
    else:
        text = _("the head of %(department)s", department=_department(spec.head_of))
    if spec.when is not None:
        text += " " + _("(if %(condition)s)", condition=spec.when.text)
    return text


def _policy(stage: workflows.Stage) -> str:
    policy = stage.policy
    if policy.kind == "all":
        text = _("everyone must approve")
    elif policy.kind == "any":
        text = _("one approval is enough")
    elif policy.kind == "quorum":
        n = policy.value or 1
        text = ngettext("%(num)s approval is needed", "%(num)s approvals are needed", n)
    else:
        text = _("%(percent)s per cent of them must approve", percent=policy.value or 100)
    if stage.veto and policy.kind != "all":
        text += "; " + _("one rejection ends the stage")
    return text


def describe(definition: workflows.Definition, lang: str) -> list[StageText]:
    """Each stage of ``definition`` in words, in the interface language."""
    out = []
    for stage in definition.stages:
        mode = _("one after another") if stage.mode == "sequential" else _("in parallel")
        lines = [
            _("Who: %(people)s", people="; ".join(_assignee(s) for s in stage.assignees)),
            _("How: %(mode)s; %(policy)s", mode=mode, policy=_policy(stage)),
            _(
                "Decisions: %(decisions)s",
                decisions=", ".join(str(DECISION_LABELS.get(d, d)) for d in stage.decisions),
            ),
        ]
        if stage.signature:
            lines.append(_("A signature is required."))
        if stage.deadline_days:
            lines.append(
                ngettext(
                    "Deadline: %(num)s working day",
                    "Deadline: %(num)s working days",
                    stage.deadline_days,
                )
            )
        if stage.when is not None:
            lines.append(_("Only if: %(condition)s", condition=stage.when.text))
        if stage.on_reject != "end":
            try:
                back = definition.stage(stage.on_reject).label(lang)
            except KeyError:
                back = stage.on_reject
            lines.append(_("A rejection sends it back to “%(stage)s”.", stage=back))
        out.append(StageText(stage.id, stage.label(lang), lines))
    return out


def picture(definition: workflows.Definition, lang: str) -> Markup:
    """The route as SVG (the library escapes every text it draws)."""
    return Markup(workflows.render_svg(definition, None, lang))  # noqa: S704 - escaped by the library


def problem_text(problem: workflows.Problem) -> str:
    """One problem of a definition: where (path and line), what, and how to fix it."""
    where = problem.path or _("the whole text")
    if problem.line is not None:
        where = _("%(path)s, line %(line)s", path=where, line=problem.line)
    text = _("%(where)s: %(message)s", where=where, message=problem.message)
    if problem.hint:
        if not text.endswith((".", "!", "?")):
            text += "."
        text += " " + _("How to fix: %(hint)s.", hint=problem.hint.rstrip("."))
    return text


# Pages ------------------------------------------------------------------------------------


def _admin_only(view: F) -> F:
    """Logged-in administrators only: others get 403 (anonymous visitors the login page)."""
    return cast(F, login_required(roles_required(Role.ADMIN)(view)))


@bp.get("")
@_admin_only
def index() -> Page:
    """Every definition: its latest version, whether it can be started, its routes in progress."""
    rows = services.list_definitions(active_only=False)
    counts = services.open_route_counts()
    running: dict[str, list[tuple[int, int]]] = {}
    for (code, version), number in sorted(counts.items(), key=lambda kv: -kv[0][1]):
        running.setdefault(code, []).append((version, number))
    return render_template(
        "routing/admin/index.html", rows=rows, running=running, lang=_lang()
    ), 200


@bp.get("/<code>/versions")
@bp.get("/<code>/versions/<int:version>")
@_admin_only
def versions(code: str, version: int | None = None) -> Page:
    """A definition's versions (who saved each, when) and one of them: its text and picture."""
    rows = services.definition_versions(code)
    chosen = rows[0] if version is None else next((r for r in rows if r.version == version), None)
    if chosen is None:
        raise NotFound("No such version of the workflow definition.")
    definition = services.parse(chosen)
    lang = _lang()
    form = ActiveForm(formdata=None)
    form.active.data = "0" if rows[0].active else "1"
    return render_template(
        "routing/admin/versions.html",
        rows=rows,
        latest=rows[0],
        chosen=chosen,
        name=rows[0].display_name(lang),
        counts=services.open_route_counts(code),
        svg=picture(definition, lang),
        stages=describe(definition, lang),
        description=definition.description,
        lang=lang,
        form=form,
    ), 200


@bp.post("/<code>/active")
@_admin_only
def active(code: str) -> Response:
    """Let the definition be started, or stop it (its running routes go on)."""
    user = get_user()
    latest = services.definition_versions(code)[0]
    form = ActiveForm()
    if form.validate() and form.active.data in ("0", "1"):
        wanted = form.active.data == "1"
        services.set_active(user, code, wanted)
        db.session.commit()
        name = latest.display_name(_lang())
        if wanted:
            flash(_("“%(route)s” can be started again.", route=name), "success")
        else:
            flash(
                _(
                    "“%(route)s” can no longer be started. Routes already running go on.",
                    route=name,
                ),
                "success",
            )
    else:
        flash(_("The change was not made: reload the page and try again."), "error")
    return redirect(url_for("workflow_admin.versions", code=code))


@bp.route("/<code>/versions/new", methods=["GET", "POST"])
@_admin_only
def new_version(code: str) -> Page:
    """A new version of a definition, from the text of the latest one."""
    return _edit(services.definition_versions(code)[0])


@bp.route("/new", methods=["GET", "POST"])
@_admin_only
def new_definition() -> Page:
    """A definition with a code of its own."""
    return _edit(None)


@dataclass
class Preview:
    draft: services.Draft
    svg: Markup
    stages: list[StageText]


def _render_edit(
    form: DefinitionForm,
    latest: WorkflowDefinition | None,
    preview: Preview | None = None,
    status: int = 200,
) -> tuple[str, int]:
    lang = _lang()
    name = latest.display_name(lang) if latest is not None else ""
    return render_template(
        "routing/admin/edit.html",
        form=form,
        latest=latest,
        name=name,
        heading=_("New version of “%(route)s”", route=name)
        if latest
        else _("New route definition"),
        preview=preview,
        max_kb=MAX_BYTES // 1024,
        lang=lang,
    ), status


def _submitted(form: DefinitionForm) -> tuple[str | None, str]:
    """The text to check and its source name: the uploaded file if there is one.

    None when the file cannot be used (the reason is on the file field).
    """
    upload = form.file.data
    if upload is None or not upload.filename:
        return form.yaml.data or "", ""
    name = secure_filename(upload.filename) or "upload.yaml"
    if not name.lower().endswith((".yaml", ".yml")):
        form.file.errors = [_("Choose a file whose name ends in .yaml or .yml.")]
        return None, name
    raw = upload.stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        form.file.errors = [
            _(
                "The file is larger than %(size)s KB: a definition is a few KB.",
                size=MAX_BYTES // 1024,
            )
        ]
        return None, name
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [_("The file is not UTF-8 text: save it as UTF-8 and upload it again.")]
        return None, name
    form.yaml.data = text  # the text area shows what was checked from now on
    return text, name


def _edit(latest: WorkflowDefinition | None) -> Page:
    user = get_user()
    form = DefinitionForm()
    if request.method == "GET":
        form.yaml.data = latest.source if latest is not None else STARTER
        return _render_edit(form, latest)
    if not form.validate():  # the CSRF token
        return _render_edit(form, latest, status=400)
    text, filename = _submitted(form)
    if text is None:
        return _render_edit(form, latest, status=422)
    code = latest.code if latest is not None else None
    save = request.form.get("action") == "save"
    try:
        if not save:
            draft = services.check_version(user, text, code, new=latest is None, source=filename)
            lang = _lang()
            preview = Preview(
                draft, picture(draft.definition, lang), describe(draft.definition, lang)
            )
            return _render_edit(form, latest, preview)
        row, created = services.new_version(user, text, code, new=latest is None, source=filename)
    except services.DefinitionRejected as exc:
        db.session.rollback()
        form.yaml.errors = [problem_text(p) for p in exc.problems]
        return _render_edit(form, latest, status=exc.status)
    except EDMSError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        db.session.rollback()
        if isinstance(exc, ValidationError):
            form.form_errors.extend(translate(m) for m in exc.errors.values())
        else:
            form.form_errors.append(translate(exc.message))
        return _render_edit(form, latest, status=exc.status)
    db.session.commit()
    name = row.display_name(_lang())
    if created:
        flash(
            _(
                "Version %(version)s of “%(route)s” is saved. Routes already running stay on "
                "the version they started with.",
                version=row.version,
                route=name,
            ),
            "success",
        )
    else:
        flash(
            _(
                "The text is the same as version %(version)s of “%(route)s”: no new version "
                "was made.",
                version=row.version,
                route=name,
            ),
            "info",
        )
    return redirect(url_for("workflow_admin.versions", code=row.code, version=row.version))
