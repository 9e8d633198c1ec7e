"""What the API reads and writes, as marshmallow schemas (they also make the OpenAPI document).

Input schemas only give requests their shape: every field is text, as it
arrives in a form, and unknown fields are refused. Whether a value is right
(a journal exists, a TIN has 9 digits ...) is decided by the services alone,
so an API client and the pages get the same rules and the same messages; the
``metadata`` of a field documents those rules for clients.
"""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import RAISE, Schema, fields
from marshmallow.utils import missing

from edms.auth.login import get_user
from edms.auth.models import Role
from edms.documents import services
from edms.documents.models import LANGUAGES, Confidentiality, CorrespondentKind, Status
from edms.registry.models import Direction

DIRECTIONS = [d.value for d in Direction]
STATUSES = [s.value for s in Status]
CONFIDENTIALITIES = [c.value for c in Confidentiality]
CORRESPONDENT_KINDS = [k.value for k in CorrespondentKind]


# Errors ----------------------------------------------------------------------


class ProblemFieldSchema(Schema):
    field = fields.String(
        metadata={"description": "The field at fault; `_` for the request as a whole."}
    )
    message = fields.String()


class ProblemSchema(Schema):
    """An RFC 9457 problem (``application/problem+json``), as ``edms.errors`` writes it."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Invalid input"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String(metadata={"example": "journal: unknown journal 'XX'"})
    instance = fields.String(metadata={"example": "/api/v1/documents"})
    errors = fields.List(
        fields.Nested(ProblemFieldSchema),
        metadata={"description": "One entry for each field with a problem (validation errors)."},
    )


# Input -----------------------------------------------------------------------


class _ListedAsRequired:
    """A field the OpenAPI document lists as required that parsing lets be absent.

    The service says "is required" itself, together with every other problem of
    the request, instead of the parser stopping at the first missing field.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=True, **kwargs)  # type: ignore[call-arg]

    def _validate_missing(self, value: Any) -> None:
        return None


class RequiredText(_ListedAsRequired, fields.String):
    pass


class RequiredFile(_ListedAsRequired, Upload):
    pass


def _text(description: str, **metadata: Any) -> fields.String:
    return fields.String(metadata={"description": description, **metadata})


def _choice(description: str, choices: list[str]) -> fields.String:
    return _text(description, enum=choices)


class _Form(Schema):
    class Meta:
        unknown = RAISE


class RegisterFormSchema(_Form):
    """``multipart/form-data``: the file and the registration card."""

    file = RequiredFile(metadata={"description": "The document's file (at most max_upload_mb)."})
    title = RequiredText(metadata={"description": "Title, up to 500 characters.", "maxLength": 500})
    journal = RequiredText(metadata={"description": "Code of the journal to register in."})
    document_type = _text("Code of the document type; `general` when left out.")
    department = _text("Code of the owning department; the user's own when left out.")
    correspondent_kind = _choice(
        "Who the correspondent is; guessed from the identifier when left out.",
        CORRESPONDENT_KINDS,
    )
    correspondent_name = _text("Name of the correspondent.", maxLength=300)
    correspondent_tin = _text("TIN of an organisation: 9 digits.", pattern=r"^[1-9]\d{8}$")
    correspondent_pinfl = _text("PINFL of a person: 14 digits.", pattern=r"^[1-6]\d{13}$")
    summary = _text("Summary, up to 10,000 characters.", maxLength=10_000)
    language = _choice("Language of the document; `uz` when left out.", list(LANGUAGES))
    confidentiality = _choice("Confidentiality; `internal` when left out.", CONFIDENTIALITIES)
    reply_to = _text("Registration number of the document this one answers.")


class VersionFormSchema(_Form):
    """``multipart/form-data``: a new file for a document."""

    file = RequiredFile(metadata={"description": "The new version's file."})
    comment = _text("What changed, up to 500 characters.", maxLength=500)


def _nullable(description: str, **metadata: Any) -> fields.String:
    return fields.String(allow_none=True, metadata={"description": description, **metadata})


class DocumentPatchSchema(_Form):
    """The fields to change; fields left out stay as they are, ``null`` clears a field."""

    title = _nullable("Title, up to 500 characters; cannot be cleared.", maxLength=500)
    document_type = _nullable("Code of the document type.")
    correspondent_kind = _nullable("Who the correspondent is.", enum=CORRESPONDENT_KINDS)
    correspondent_name = _nullable("Name of the correspondent.", maxLength=300)
    correspondent_tin = _nullable("TIN of an organisation: 9 digits.", pattern=r"^[1-9]\d{8}$")
    correspondent_pinfl = _nullable("PINFL of a person: 14 digits.", pattern=r"^[1-6]\d{13}$")
    summary = _nullable("Summary, up to 10,000 characters.", maxLength=10_000)
    language = _nullable("Language of the document.", enum=list(LANGUAGES))
    confidentiality = _nullable("Confidentiality.", enum=CONFIDENTIALITIES)


_SORT_KEYS = list(services.SORTS)


class DocumentQuerySchema(_Form):
    """Filters of the document list; unknown parameters are refused."""

    journal = _text("Journal code.")
    document_type = _text("Document type code.")
    direction = _choice("Direction of the journal.", DIRECTIONS)
    department = _text("Department code.")
    status = _choice("Status.", STATUSES)
    date_from = _text("Registered on or after this date.", format="date")
    date_to = _text("Registered on or before this date.", format="date")
    number = _text("Part of the registration number.")
    q = _text("Words in the title or the registration number.")
    sort = _choice(
        "Sort key; prefix `-` for descending. Default `-registration_date`.",
        _SORT_KEYS + [f"-{key}" for key in _SORT_KEYS],
    )
    page = _text("Page number, from 1.", type="integer", minimum=1)
    per_page = _text("Items per page (up to max_page_size).", type="integer", minimum=1)


# Output ----------------------------------------------------------------------


def _code(attribute: str, description: str) -> fields.String:
    return fields.String(
        attribute=attribute,
        dump_default=None,
        allow_none=True,
        metadata={"description": description},
    )


class JournalSchema(Schema):
    code = fields.String()
    prefix = fields.String()
    name = fields.String()
    direction = fields.String(metadata={"enum": DIRECTIONS})


class UserSchema(Schema):
    username = fields.String()
    full_name = fields.String()
    roles = fields.Function(
        lambda user: sorted(role.value for role in user.roles),
        metadata={"type": "array", "items": {"type": "string", "enum": [r.value for r in Role]}},
    )
    department = _code("department.code", "Code of the user's department, if any.")


class VersionSchema(Schema):
    number = fields.Integer()
    original_filename = fields.String()
    media_type = fields.String(metadata={"description": "Detected from the content."})
    size = fields.Integer(metadata={"description": "In bytes."})
    sha256 = fields.String(metadata={"description": "SHA-256 of the file, in hex."})
    comment = fields.String()
    created_at = fields.DateTime()
    author = _code("author.username", "User name of who added the version.")


class LinkSchema(Schema):
    kind = fields.String(
        metadata={
            "description": "`reply_to`: this document answers the other; "
            "`reply_to_of`: the other answers this one.",
            "enum": ["reply_to", "related", "reply_to_of", "related_of"],
        }
    )
    id = fields.UUID()
    registration_number = fields.String()
    title = fields.String()


class _VisibleLinks(fields.List):
    """Links of the document to documents that the requesting user may see."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Nested(LinkSchema), dump_only=True, **kwargs)

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = missing) -> Any:
        return [
            {
                "kind": kind,
                "id": other.id,
                "registration_number": other.registration_number,
                "title": other.title,
            }
            for kind, other in services.links(get_user(), obj)
        ]


class DocumentSummarySchema(Schema):
    """A document in a list: its registration card without personal identifiers."""

    id = fields.UUID()
    registration_number = fields.String(metadata={"example": "IN-2026/000123"})
    registration_date = fields.Date()
    title = fields.String()
    document_type = _code("document_type.code", "Document type code.")
    journal = _code("journal.code", "Journal code.")
    direction = fields.String(metadata={"enum": DIRECTIONS})
    department = _code("department.code", "Code of the owning department.")
    status = fields.String(metadata={"enum": STATUSES})
    correspondent_kind = fields.String(allow_none=True, metadata={"enum": CORRESPONDENT_KINDS})
    correspondent_name = fields.String(allow_none=True)
    summary = fields.String()
    language = fields.String(metadata={"enum": list(LANGUAGES)})
    confidentiality = fields.String(metadata={"enum": CONFIDENTIALITIES})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DocumentSchema(DocumentSummarySchema):
    """A document with its identifiers, versions and links."""

    correspondent_tin = fields.String(allow_none=True)
    correspondent_pinfl = fields.String(allow_none=True)
    sha256 = fields.Function(
        lambda doc: doc.versions[-1].sha256 if doc.versions else None,
        metadata={"type": "string", "description": "SHA-256 of the latest version's file."},
    )
    versions = fields.List(fields.Nested(VersionSchema), metadata={"description": "Oldest first."})
    links = _VisibleLinks()


class DocumentPageSchema(Schema):
    items = fields.List(fields.Nested(DocumentSummarySchema))
    total = fields.Integer(metadata={"description": "Documents matching the filters."})
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class DownloadLinkQuerySchema(_Form):
    minutes = _text(
        "How long the link works, in minutes (1 to 1440); 15 when left out.",
        type="integer",
        minimum=1,
        maximum=1440,
    )


class DownloadLinkSchema(Schema):
    url = fields.String(metadata={"description": "Downloads the file without a token."})
    expires_at = fields.DateTime(metadata={"description": "When the link stops working."})
