"""API routes: verifying signed PDFs and verification codes (public), the token owner's
signing credential.

Registered by the import at the end of ``edms.api.views``, which adds these
blueprints to its ``blueprints`` list.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest

import signing
from edms.api.blueprint import ApiBlueprint, authenticate
from edms.api.views import blueprints
from edms.auth.login import get_user
from edms.documents.models import Document
from edms.errors import NotFound, ValidationError
from edms.signing import services
from edms.signing.models import SigningCredential


class PublicApiBlueprint(ApiBlueprint):
    """An API blueprint whose routes need no token.

    A request that sends one anyway must send a valid one (401 otherwise), so a
    client never mistakes a broken token for a working one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Blueprint.__init__(self, *args, **kwargs)  # not ApiBlueprint's: it requires a token
        self.before_request(_token_if_sent)


def _token_if_sent() -> None:
    if request.headers.get("Authorization"):
        authenticate()


verify_bp = PublicApiBlueprint(
    "api_verify",
    __name__,
    description="Checking electronic signatures of PDFs and verification codes. Public.",
)
credential_bp = ApiBlueprint(
    "api_signing_credential", __name__, description="Your signing credential."
)

blueprints.extend([verify_bp, credential_bp])


# Schemas ------------------------------------------------------------------------------


class CertificateSchema(Schema):
    common_name = fields.String()
    organisation = fields.String(allow_none=True)
    subject = fields.String()
    issuer = fields.String()
    serial = fields.String(metadata={"description": "Hexadecimal."})
    not_before = fields.String(metadata={"format": "date-time"})
    not_after = fields.String(metadata={"format": "date-time"})
    fingerprint = fields.String(metadata={"description": "SHA-256 of the certificate (DER)."})


class SignatureReportSchema(Schema):
    field = fields.String(metadata={"description": "The PDF signature field."})
    indication = fields.String(
        metadata={
            "description": "ETSI EN 319 102-1 main indication.",
            "enum": ["TOTAL_PASSED", "INDETERMINATE", "TOTAL_FAILED"],
        }
    )
    sub_indication = fields.String(
        allow_none=True,
        metadata={"description": "Why it did not pass: HASH_FAILURE, REVOKED, TRY_LATER ..."},
    )
    signer = fields.Nested(CertificateSchema, allow_none=True)
    claimed_signing_time = fields.String(
        allow_none=True, metadata={"format": "date-time", "description": "As the signer says."}
    )
    best_signing_time = fields.String(
        allow_none=True,
        metadata={"format": "date-time", "description": "Proven by a time stamp, if any."},
    )
    timestamped = fields.Boolean()
    level = fields.String(metadata={"example": "PAdES-BASELINE-T"})
    certification = fields.String(
        allow_none=True, metadata={"description": "DocMDP permissions of a certification."}
    )
    coverage = fields.String(metadata={"example": "ENTIRE_FILE"})
    modifications_after = fields.String(metadata={"example": "FORM_FILLING"})
    changed_after = fields.Boolean(
        metadata={"description": "Whether the document changed beyond later signatures."}
    )
    message = fields.String(allow_none=True)
    signature_sha256 = fields.String(metadata={"description": "SHA-256 of the CMS signature."})
    etsi_report = fields.String(
        allow_none=True,
        metadata={"description": "The ETSI TS 119 102-2 XML report, when asked for."},
    )


class RegisteredDocumentSchema(Schema):
    registration_number = fields.String()
    registered_on = fields.Date()


class VerificationSchema(Schema):
    sha256 = fields.String(metadata={"description": "SHA-256 of the file checked."})
    size = fields.Integer()
    indication = fields.String(
        allow_none=True, metadata={"description": "The worst indication of all signatures."}
    )
    certified = fields.Boolean()
    problem = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    signatures = fields.List(fields.Nested(SignatureReportSchema))
    document = fields.Nested(
        RegisteredDocumentSchema,
        metadata={"description": "The document of the verification code, if one was sent."},
    )
    identical_to_registered = fields.Boolean(
        metadata={
            "description": "With a file and a code: whether the file is byte for byte the "
            "registered document's latest version."
        }
    )


class CredentialSchema(Schema):
    id = fields.Integer()
    common_name = fields.String()
    organisation = fields.String(allow_none=True)
    issuer = fields.String()
    serial = fields.String()
    fingerprint = fields.String()
    not_before = fields.DateTime()
    not_after = fields.DateTime()
    source = fields.String(metadata={"enum": ["uploaded", "demo_ca", "pkcs11"]})
    created_at = fields.DateTime()


_VERIFY_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The signed PDF (at most signing_verify_max_mb).",
                    },
                    "code": {
                        "type": "string",
                        "description": "A verification code; with a file, the file is "
                        "compared with the registered document.",
                    },
                    "format": {"type": "string", "enum": ["etsi"]},
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "example": "7KQ2-M9XD-4TNB"},
                    "format": {
                        "type": "string",
                        "enum": ["etsi"],
                        "description": "`etsi` adds the ETSI XML report of each signature.",
                    },
                },
                "required": ["code"],
            }
        },
    },
}


# Routes -------------------------------------------------------------------------------


def _inputs() -> tuple[FileStorage | None, str | None, bool]:
    """The file, the code and whether the ETSI report is wanted, from any body type."""
    unknown = sorted(set(request.args) - {"xml"})
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "unknown parameter"))
    xml = request.args.get("xml", "").lower() in ("1", "true", "yes")
    body: Any
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("The body is not a JSON object.")
        files: dict[str, FileStorage] = {}
    else:
        body, files = request.form, request.files
    upload = files.get("file") if files else None
    if upload is not None and not upload.filename and upload.stream.read(1) == b"":
        upload = None  # an empty file input, as browsers send it
    elif upload is not None:
        upload.stream.seek(0)
    code = body.get("code")
    if code is not None and not isinstance(code, str):
        raise ValidationError({"code": "must be text"})
    fmt = body.get("format")
    if fmt not in (None, "", "etsi"):
        raise ValidationError({"format": "must be one of etsi"})
    return upload, (code or "").strip() or None, xml or fmt == "etsi"


def _reply(
    report: signing.VerificationReport,
    field: str,
    document: Document | None = None,
    identical: bool | None = None,
) -> dict[str, Any]:
    if report.problem_code:
        error = ValidationError({field: report.problem or report.problem_code})
        error.extra = {"problem": report.problem_code}
        raise error
    body = report.as_dict()
    for entry, sig in zip(body["signatures"], report.signatures, strict=True):
        entry["etsi_report"] = sig.xml
    if document is not None:
        body["document"] = {
            "registration_number": document.registration_number,
            "registered_on": document.registration_date,
        }
    if identical is not None:
        body["identical_to_registered"] = identical
    return body


@verify_bp.route("/verify", methods=["POST"])
@verify_bp.doc(
    security=[],
    requestBody=_VERIFY_BODY,
    parameters=[
        {
            "in": "query",
            "name": "xml",
            "schema": {"type": "string", "enum": ["1"]},
            "description": "`1` adds the ETSI TS 119 102-2 XML report of each signature.",
        }
    ],
)
@verify_bp.response(200, VerificationSchema)
@verify_bp.problems(400, 401, 404, 413, 415)
def verify() -> dict[str, Any]:
    """Verify a signed PDF or a verification code

    No token is needed. Send a PDF as multipart `file`, or a verification `code`
    (JSON or form): the latest file of the document with that code is verified and
    the document's registration number and date are added (never its title). With
    both, the file is verified and compared with the registered document. A file
    that is not a PDF, encrypted or unsigned is a 422 naming `file` whose `problem`
    says which (NOT_A_PDF, ENCRYPTED, NO_SIGNATURE); an unknown code is a 404.
    """
    upload, code, xml = _inputs()
    if upload is None:
        if code is None:
            raise ValidationError({"file": "send a PDF file, or a verification code as code"})
        found = services.verify_code(code, xml=xml)
        if found is None:
            raise NotFound("No document has this verification code.")
        return _reply(found[1], "code", found[0])
    document = None
    if code is not None:
        document = services.document_for_code(code)
        if document is None:
            raise NotFound("No document has this verification code.")
    max_bytes = int(current_app.config["EDMS"]["signing_verify_max_mb"]) * 1024 * 1024
    report = services.verify_upload(upload.stream, max_bytes, xml=xml)
    identical = services.same_as_registered(document, report) if document else None
    return _reply(report, "file", document, identical)


@credential_bp.route("/me/signing-credential")
@credential_bp.response(200, CredentialSchema)
@credential_bp.problems(401, 403, 404)
def my_credential() -> SigningCredential:
    """Your active signing credential

    The certificate's public facts; 404 when you have none.
    """
    user = get_user()
    services.require_signer(user)
    row = services.active_credential(user)
    if row is None:
        raise NotFound(services.NO_CREDENTIAL)
    return row
