"""The drafting page: pick a template, type the text, get a DOCX version."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField, TextAreaField

from edms.auth.login import get_user
from edms.db import db
from edms.documents import services as documents
from edms.documents.forms import set_errors
from edms.drafting import services
from edms.errors import ValidationError

bp = Blueprint("drafting", __name__)

Page = Response | tuple[str, int]

TEMPLATE_LABELS = {
    "letter": _l("Outgoing letter"),
    "licence": _l("Licence"),
    "permit": _l("Permit"),
    "certificate": _l("Certificate (reference letter)"),
    "decision": _l("Decision"),
}


def _form(code: str | None) -> FlaskForm:
    """A form with the template's own fields (dotted names become ``x__y``)."""

    class DraftForm(FlaskForm):
        template = SelectField(_l("Template"))
        body = TextAreaField(_l("Text"), render_kw={"rows": 12, "maxlength": services.MAX_BODY})

    asked = services.asked_fields(code) if code else []
    for name in asked:
        setattr(
            DraftForm,
            name.replace(".", "__"),
            StringField(name, render_kw={"maxlength": services.MAX_FIELD}),
        )
    form = DraftForm()
    form.template.choices = [(c, str(TEMPLATE_LABELS.get(c, c))) for c in services.template_codes()]
    form.asked = asked
    return form


@bp.route("/documents/<doc_id>/draft", methods=["GET", "POST"])
@login_required
def draft(doc_id: str) -> Page:
    user = get_user()
    doc = documents.get_document(user, doc_id)
    documents.require_edit(user, doc)
    code = request.values.get("template") or "letter"
    if code not in services.template_codes():
        code = "letter"
    form = _form(code)
    status = 200
    # "Show fields" only switches the template; "Draft" fills it in.
    if request.method == "POST" and request.form.get("action") == "draft":
        if form.validate():
            extra: dict[str, Any] = {
                name: request.form.get(name.replace(".", "__"), "") for name in form.asked
            }
            try:
                version = services.generate(user, doc, code, form.body.data, extra)
            except ValidationError as exc:
                db.session.rollback()
                set_errors(form, {k.replace(".", "__"): v for k, v in exc.errors.items()})
                status = 422
            else:
                db.session.commit()
                flash(
                    _("Version %(number)s drafted from the template.", number=version.number),
                    "success",
                )
                return redirect(url_for("documents.detail", doc_id=doc.id))
        else:
            status = 422
    form.template.data = code
    return render_template("drafting/draft.html", form=form, doc=doc), status
