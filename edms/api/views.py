"""API routes: documents, their files and versions, journals and the token's user.

Thin views: parse (schemas), call a service, commit, serialize. Every error
is raised and answered by ``edms.errors`` as ``application/problem+json``.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urljoin

from flask import request, url_for
from flask.views import MethodView
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from edms.api.blueprint import ApiBlueprint
from edms.api.schemas import (
    DocumentPageSchema,
    DocumentPatchSchema,
    DocumentQuerySchema,
    DocumentSchema,
    DownloadLinkQuerySchema,
    DownloadLinkSchema,
    JournalSchema,
    RegisterFormSchema,
    UserSchema,
    VersionFormSchema,
    VersionSchema,
)
from edms.auth.login import get_user
from edms.auth.models import User
from edms.db import db
from edms.documents import services
from edms.documents.download import send_version
from edms.documents.models import Document, DocumentVersion
from edms.errors import ValidationError
from edms.registry import services as registry

documents = ApiBlueprint(
    "api_documents",
    __name__,
    description="Registered documents: registration, metadata, files and versions. Staff only.",
)
journals = ApiBlueprint("api_journals", __name__, description="Registration journals.")
account = ApiBlueprint("api_account", __name__, description="The owner of the API token.")

blueprints: list[ApiBlueprint] = [documents, journals, account]

_FILE_RESPONSE: dict[str, Any] = {
    "description": "The file, as an attachment; conditional (ETag) and range requests work.",
    "content_type": "application/octet-stream",
    "headers": {
        "ETag": {"description": "The file's SHA-256.", "schema": {"type": "string"}},
        "Content-Disposition": {
            "description": "attachment with the original file name.",
            "schema": {"type": "string"},
        },
    },
}
_BINARY = {"type": "string", "format": "binary"}


def _upload(value: Any) -> services.Upload | None:
    """The file part of a form, if a file was sent at all."""
    if not isinstance(value, FileStorage):
        return None
    if not value.filename and not value.content_length and value.stream.read(1) == b"":
        return None  # an empty file input, as browsers send it
    value.stream.seek(0)
    return services.Upload(value.filename, value.stream)


def _document_url(doc: Document) -> str:
    return url_for("api_documents.DocumentItem", doc_id=doc.id)


def _document(user: User, doc_id: uuid.UUID) -> Document:
    return services.get_document(user, doc_id)


@documents.route("/documents")
class DocumentCollection(MethodView):
    @documents.arguments(DocumentQuerySchema, location="query")
    @documents.response(200, DocumentPageSchema)
    @documents.problems(401, 403)
    def get(self, query: dict[str, Any]) -> services.Page:
        """List the documents you may see

        Filters combine with AND; an invalid value is a 422 that names the parameter.
        """
        return services.list_documents(get_user(), query)

    @documents.arguments(RegisterFormSchema, location="form")
    @documents.response(
        201,
        DocumentSchema,
        headers={"Location": {"description": "The new document.", "schema": {"type": "string"}}},
    )
    @documents.problems(400, 401, 403, 413, 415)
    def post(self, form: dict[str, Any]) -> tuple[Document, int, dict[str, str]]:
        """Register a document with its file

        The document is numbered in the journal at once. Every problem with the
        registration card is reported together (422, one entry per field).
        """
        upload = _upload(form.pop("file", None))
        doc = services.register(get_user(), form, upload)
        db.session.commit()
        return doc, 201, {"Location": _document_url(doc)}


@documents.route("/documents/<uuid:doc_id>")
class DocumentItem(MethodView):
    @documents.response(200, DocumentSchema)
    @documents.problems(401, 403, 404)
    def get(self, doc_id: uuid.UUID) -> Document:
        """Get a document

        Documents outside your departments answer 404, as missing ones do.
        """
        return _document(get_user(), doc_id)

    @documents.arguments(DocumentPatchSchema)
    @documents.response(200, DocumentSchema)
    @documents.problems(400, 401, 403, 404, 415)
    def patch(self, changes: dict[str, Any], doc_id: uuid.UUID) -> Document:
        """Change a document's metadata

        Only the fields sent change; the change is audited.
        """
        user = get_user()
        doc = _document(user, doc_id)
        services.update_metadata(user, doc, changes)
        db.session.commit()
        return doc


@documents.route("/documents/<uuid:doc_id>/file")
@documents.response(200, _BINARY, **_FILE_RESPONSE)
@documents.problems(401, 403, 404)
def latest_file(doc_id: uuid.UUID) -> Response:
    """Download the latest version's file"""
    doc = _document(get_user(), doc_id)
    return send_version(services.get_version(doc))


@documents.route("/documents/<uuid:doc_id>/versions/<int:number>/file")
@documents.response(200, _BINARY, **_FILE_RESPONSE)
@documents.problems(401, 403, 404)
def version_file(doc_id: uuid.UUID, number: int) -> Response:
    """Download the file of a given version"""
    doc = _document(get_user(), doc_id)
    return send_version(services.get_version(doc, number))


@documents.route("/documents/<uuid:doc_id>/versions/<int:number>/link")
@documents.arguments(DownloadLinkQuerySchema, location="query")
@documents.response(200, DownloadLinkSchema)
@documents.problems(401, 403, 404)
def version_link(query: dict[str, Any], doc_id: uuid.UUID, number: int) -> dict[str, Any]:
    """Get a time-limited download link of a version

    The link downloads the file without a token until it expires, so it can be
    handed to a browser or another system; making one is audited.
    """
    user = get_user()
    doc = _document(user, doc_id)
    try:
        minutes = int(query.get("minutes") or 15)
    except ValueError:
        raise ValidationError({"minutes": "must be a whole number"}) from None
    url, expires_at = services.download_link(user, doc, services.get_version(doc, number), minutes)
    db.session.commit()
    return {"url": urljoin(request.host_url, url), "expires_at": expires_at}


@documents.route("/documents/<uuid:doc_id>/versions")
class VersionCollection(MethodView):
    @documents.arguments(VersionFormSchema, location="form")
    @documents.response(201, VersionSchema)
    @documents.problems(400, 401, 403, 404, 413, 415)
    def post(self, form: dict[str, Any], doc_id: uuid.UUID) -> DocumentVersion:
        """Add a new version (file) to a document

        Earlier versions are kept.
        """
        user = get_user()
        doc = _document(user, doc_id)
        version = services.add_version(
            user, doc, _upload(form.get("file")), form.get("comment") or ""
        )
        db.session.commit()
        return version


@journals.route("/journals")
@journals.response(200, JournalSchema(many=True))
@journals.problems(401, 403)
def list_journals() -> list[Any]:
    """List the journals open for registration"""
    services.require_staff(get_user())
    return registry.list_journals()


@account.route("/me")
@account.response(200, UserSchema)
@account.problems(401)
def me() -> User:
    """The user the token belongs to"""
    return get_user()


# Each module adds its blueprints to ``blueprints``: notifications and delegations,
# resolutions and execution control, workflows and tasks, search, signature verification,
# the single-window portal's services and applications.
from edms.api import people, portal, resolutions, routing, search, signing  # noqa: E402, F401
