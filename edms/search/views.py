"""The search page: query box, filters, facets, highlighted results, saved searches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from edms.auth.login import get_user
from edms.auth.models import Department
from edms.db import db
from edms.errors import NotFound, PermissionDenied, ValidationError
from edms.main.views import translate_message
from edms.registry import services as registry
from edms.search import services
from edms.search.backend import FILTERS
from edms.search.models import SavedSearch

bp = Blueprint("search", __name__)

Page = Response | tuple[str, int]
#: The request parameters a search (and a saved search) consists of.
PARAMS = ("q", *FILTERS, "date_from", "date_to", "sort")
MAX_SAVED = 50


@dataclass
class _Pages:
    page: int
    pages: int


def _params(source: Any) -> dict[str, str]:
    return {name: str(source.get(name)) for name in PARAMS if source.get(name)}


@bp.get("/search")
@login_required
def search_page() -> Page:
    user = get_user()
    if not user.is_staff:
        raise PermissionDenied("Search is open to staff only.")
    params = _params(request.args)
    errors: dict[str, str] = {}
    results = None
    docs: list[Any] = []
    query = None
    status = 200
    if params or "page" in request.args:
        try:
            query, results, docs = services.search(user, {**params, **_paging(request.args)})
        except ValidationError as exc:
            errors = {k: translate_message(v) for k, v in exc.errors.items()}
            status = 422
    snippets = {hit.id: hit.snippet for hit in results.hits} if results else {}
    pages = None
    if results is not None and query is not None:
        pages = _Pages(query.page, max(1, math.ceil(results.total / query.per_page)))
    departments = {d.code: d.name for d in db.session.scalars(select(Department))}
    types = {t.code: t.name for t in registry.list_document_types()}
    saved = list(
        db.session.scalars(
            select(SavedSearch).where(SavedSearch.user_id == user.id).order_by(SavedSearch.name)
        )
    )
    return render_template(
        "search/search.html",
        params=params,
        errors=errors,
        results=results,
        docs=docs,
        snippets=snippets,
        pages=pages,
        departments=departments,
        types=types,
        saved=saved,
    ), status


def _paging(args: Any) -> dict[str, str]:
    return {k: str(args.get(k)) for k in ("page", "per_page") if args.get(k)}


@bp.post("/search/saved")
@login_required
def save_search() -> Response:
    user = get_user()
    if not user.is_staff:
        raise PermissionDenied("Search is open to staff only.")
    name = (request.form.get("name") or "").strip()[:200]
    params = _params(request.form)
    if not name or not params:
        flash(_("Give the search a name, and search for something first."), "error")
        return redirect(url_for("search.search_page", **params))  # type: ignore[arg-type]
    count = len(
        list(db.session.scalars(select(SavedSearch.id).where(SavedSearch.user_id == user.id)))
    )
    if count >= MAX_SAVED:
        flash(
            _("You keep %(count)s saved searches already: remove one first.", count=count), "error"
        )
        return redirect(url_for("search.search_page", **params))  # type: ignore[arg-type]
    db.session.add(SavedSearch(user_id=user.id, name=name, params=params))
    db.session.commit()
    flash(_("Search saved as “%(name)s”.", name=name), "success")
    return redirect(url_for("search.search_page", **params))  # type: ignore[arg-type]


@bp.post("/search/saved/<int:saved_id>/delete")
@login_required
def delete_saved(saved_id: int) -> Response:
    user = get_user()
    row = db.session.get(SavedSearch, saved_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such saved search.")
    db.session.delete(row)
    db.session.commit()
    flash(_("Saved search removed."), "success")
    return redirect(url_for("search.search_page"))
