"""Fill a DOCX template with a document's data and keep the result as its new version.

The templates live in ``config/templates`` (see its README for the data they
use). What the registry knows (organisation, title, number, date, addressee,
signatory) is filled in here; the drafter types the body and whatever else a
template asks for (a licence's activity, a certificate's purpose, ...).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale, gettext

import signing
from edms.audit import services as audit
from edms.auth.models import User
from edms.config import ROOT
from edms.documents import services as documents
from edms.documents.models import Document, DocumentVersion
from edms.errors import ServiceUnavailable, ValidationError
from edms.validators import text_problem

logger = logging.getLogger(__name__)

TEMPLATES_DIR = ROOT / "config" / "templates"
MAX_BODY = 20000
MAX_FIELD = 500
#: Data the registry fills in itself; everything else a template uses is asked for.
KNOWN = frozenset(
    {
        "organisation.name",
        "document.title",
        "document.reg_number",
        "document.reg_date",
        "document.body",
        "addressee.name",
        "addressee.address",
        "signatory.name",
        "signatory.position",
    }
)


def template_codes() -> list[str]:
    """The shipped templates, by code (the file name without ``.docx``)."""
    return sorted(path.stem for path in TEMPLATES_DIR.glob("*.docx"))


def template_path(code: Any) -> Path:
    if not isinstance(code, str) or code not in template_codes():
        raise ValidationError({"template": "choose one of the templates offered"})
    return TEMPLATES_DIR / f"{code}.docx"


def asked_fields(code: str) -> list[str]:
    """What the drafter must type for the template besides the body, as dotted names."""
    try:
        needed = signing.template_variables(template_path(code))
    except signing.TemplateError as exc:
        raise ValidationError({"template": str(exc)}) from exc
    return sorted(needed - KNOWN)


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _position(doc: Document) -> str:
    """The signatory's position in the organisation's language (the default locale)."""
    with force_locale(current_app.config["EDMS"]["default_locale"]):
        return gettext("Head, %(department)s", department=doc.department.name)


def context(doc: Document, body: str, extra: Mapping[str, str]) -> dict[str, Any]:
    head = doc.department.head
    organisation = current_app.config["EDMS"].get("signing_organisation") or "Ministry"
    flat: dict[str, Any] = {
        "organisation.name": organisation,
        "document.title": doc.title,
        "document.reg_number": doc.registration_number,
        "document.reg_date": doc.registration_date,
        "document.body": body,
        "addressee.name": doc.correspondent_name or "",
        "addressee.address": "",
        "signatory.name": head.display_name if head else "",
        "signatory.position": _position(doc) if head else "",
    }
    flat.update(extra)
    return _nest(flat)


def generate(
    user: User, doc: Document, code: Any, body: Any, extra: Mapping[str, Any]
) -> DocumentVersion:
    """Fill template ``code`` for ``doc`` and add the DOCX as the document's new version."""
    documents.require_edit(user, doc)
    errors: dict[str, str] = {}
    path = template_path(code)
    body = body.strip() if isinstance(body, str) else ""
    problem = text_problem(body, MAX_BODY) if body else "enter the text"
    if problem:
        errors["body"] = problem
    values: dict[str, str] = {}
    for name in asked_fields(str(code)):
        raw = extra.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        problem = text_problem(value, MAX_FIELD) if value else "enter a value"
        if problem:
            errors[name] = problem
        values[name] = value
    if errors:
        raise ValidationError(errors)
    try:
        data = signing.render_template(path, context(doc, body, values))
    except signing.TemplateError as exc:
        raise ValidationError({"template": str(exc)}) from exc
    filename = f"{code}-{doc.registration_number.replace('/', '-')}.docx"
    version = documents.add_version(
        user,
        doc,
        documents.Upload(filename, io.BytesIO(data)),
        comment=f"Drafted from the {code} template",
    )
    logger.info("document %s: version %s drafted from template %s", doc.id, version.number, code)
    return version


#: Media types LibreOffice turns into PDF for signing.
CONVERTIBLE = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/msword",
        "application/rtf",
        "text/rtf",
    }
)
_converter: signing.Converter | None = None


def converter() -> signing.Converter:
    """One LibreOffice converter per process, so its concurrency limit holds."""
    global _converter
    if _converter is None:
        _converter = signing.Converter(timeout=120, max_parallel=2)
    return _converter


def pdf_version(user: User, doc: Document) -> DocumentVersion:
    """The document's current version if it is a PDF; a DOCX/ODT one is first turned
    into PDF/A-2b by LibreOffice and kept as the next version."""
    current = documents.get_version(doc)
    if current.media_type == "application/pdf":
        return current
    if current.media_type not in CONVERTIBLE:
        raise ValidationError(
            {"file": "the current version is neither a PDF nor a text document to convert"}
        )
    with documents.open_version(current) as fh:
        data = fh.read(converter().max_bytes + 1)
    try:
        pdf = converter().to_pdf(data, suffix=Path(current.original_filename).suffix or ".docx")
    except signing.ConverterMissing as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except signing.ConversionError as exc:
        raise ValidationError(
            {"file": f"the document could not be turned into PDF: {exc}"}
        ) from exc
    filename = f"{Path(current.original_filename).stem}.pdf"
    # Whoever may sign the document may have it converted for signing.
    version = documents.add_derived_version(
        user, doc, documents.Upload(filename, io.BytesIO(pdf)), comment="Converted to PDF/A"
    )
    audit.record(
        "document.converted",
        "document",
        doc.id,
        {"from_version": current.number, "version": version.number, "sha256": version.sha256},
        actor=user,
    )
    logger.info("document %s: version %s converted to PDF/A", doc.id, version.number)
    return version
