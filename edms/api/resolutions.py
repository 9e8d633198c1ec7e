"""API routes: resolutions and their executors' assignments, execution control, acquaintance.

Registered by the import at the end of ``edms.api.views``, which adds these
blueprints to its ``blueprints`` list. Thin views: parse, call
``edms.resolutions.services``, commit, serialize.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import RAISE, Schema, fields
from werkzeug.datastructures import FileStorage

from edms.api.blueprint import ApiBlueprint
from edms.api.schemas import RequiredText
from edms.api.views import blueprints
from edms.auth.login import get_user
from edms.db import db
from edms.documents import services as documents
from edms.resolutions import services
from edms.resolutions.models import (
    Acquaintance,
    Assignment,
    AssignmentStatus,
    ExtensionRequest,
    Resolution,
)

resolutions_bp = ApiBlueprint(
    "api_resolutions",
    __name__,
    description="Resolutions on documents: executors, reports, acceptance, extensions. "
    "Staff only; a document you may not see answers 404.",
)
control_bp = ApiBlueprint(
    "api_control",
    __name__,
    description="Execution control: overdue assignments and the per-department report.",
)
acquaintance_bp = ApiBlueprint(
    "api_acquaintance",
    __name__,
    description="Acquaintance lists: who has been asked to read a document, and who has.",
)

blueprints.extend([resolutions_bp, control_bp, acquaintance_bp])

ASSIGNMENT_STATUSES = [s.value for s in AssignmentStatus]


# Input -----------------------------------------------------------------------------


class _Body(Schema):
    class Meta:
        unknown = RAISE


def _text(description: str, **metadata: Any) -> fields.String:
    return fields.String(metadata={"description": description, **metadata})


class _RequiredList(fields.List):
    """Listed as required in the OpenAPI document; the service reports it missing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=True, **kwargs)

    def _validate_missing(self, value: Any) -> None:
        return None


class ExecutorInSchema(_Body):
    user = RequiredText(metadata={"description": "User name of an active staff member."})
    responsible = fields.Boolean(
        metadata={"description": "Exactly one executor is responsible; the others co-execute."}
    )


class ResolutionInSchema(_Body):
    text = RequiredText(metadata={"description": "The instruction, up to 10,000 characters."})
    due_date = RequiredText(
        metadata={
            "description": "Today or later; for a sub-resolution, no later than the "
            "writer's own due date.",
            "format": "date",
        }
    )
    executors = _RequiredList(
        fields.Nested(ExecutorInSchema),
        metadata={"description": "One responsible executor and any co-executors."},
    )
    parent = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Id of the resolution this one is written under, by one of "
            "its executors, to their subordinates."
        },
    )


class CommentInSchema(_Body):
    comment = _text("A comment for the executor; required to return a report.", maxLength=5000)


class CancelInSchema(_Body):
    reason = _text("Why the resolution is cancelled.", maxLength=5000)


class ReportFormSchema(_Body):
    """``multipart/form-data``: the report and an optional file."""

    text = RequiredText(metadata={"description": "What has been done."})
    file = Upload(metadata={"description": "A file with the result (optional)."})


class ExtensionInSchema(_Body):
    due_date = RequiredText(
        metadata={"description": "The new due date: later than the current one.", "format": "date"}
    )
    reason = RequiredText(metadata={"description": "Why more time is needed."})


class DecisionInSchema(_Body):
    decision = RequiredText(
        metadata={"description": "The author's decision.", "enum": ["approve", "decline"]}
    )
    comment = _text("A comment for the executor.", maxLength=5000)


class AssignmentQuerySchema(_Body):
    status = _text(
        "`active` (open or reported, the default), `all`, or one status.",
        enum=["active", "all", *ASSIGNMENT_STATUSES],
    )


class OverdueQuerySchema(_Body):
    department = _text("Only executors of this department (code).")


class ReportQuerySchema(_Body):
    date_from = fields.String(
        data_key="from",
        metadata={
            "description": "First day of the period (assignments given from then).",
            "format": "date",
        },
    )
    date_to = fields.String(
        data_key="to",
        metadata={"description": "Last day of the period, inclusive.", "format": "date"},
    )


class AcquaintanceInSchema(_Body):
    users = _RequiredList(
        fields.String(), metadata={"description": "User names of the people to ask."}
    )


# Output ------------------------------------------------------------------------------


def _username(attribute: str, description: str) -> fields.String:
    return fields.String(
        attribute=attribute, allow_none=True, metadata={"description": description}
    )


class ReportSchema(Schema):
    id = fields.Integer()
    text = fields.String()
    created_at = fields.DateTime()
    submitted_on = fields.Date(metadata={"description": "Counts for being on time."})
    file_name = fields.String(allow_none=True)
    media_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    outcome = fields.String(metadata={"enum": ["pending", "accepted", "returned"]})
    decided_at = fields.DateTime(allow_none=True)
    decision_comment = fields.String()


class ExtensionSchema(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    requested_by = _username("requested_by.username", "Who asked.")
    old_due_date = fields.Date()
    new_due_date = fields.Date()
    reason = fields.String()
    status = fields.String(metadata={"enum": ["pending", "approved", "declined"]})
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_comment = fields.String()


class AssignmentSchema(Schema):
    id = fields.Integer()
    resolution_id = fields.Integer()
    executor = _username("executor.username", "User name of the executor.")
    executor_name = fields.String(attribute="executor.display_name")
    department = _username("executor_department.code", "The executor's department code.")
    responsible = fields.Boolean()
    status = fields.String(metadata={"enum": ASSIGNMENT_STATUSES})
    due_date = fields.Date()
    assigned_on = fields.Date()
    completed_on = fields.Date(
        allow_none=True, metadata={"description": "The day the accepted report was sent."}
    )
    overdue = fields.Function(
        lambda a: a.is_overdue(services.today()),
        metadata={"type": "boolean", "description": "Not done, and past its due date."},
    )
    reports = fields.List(fields.Nested(ReportSchema), metadata={"description": "Oldest first."})
    extensions = fields.List(fields.Nested(ExtensionSchema))


class ResolutionSchema(Schema):
    id = fields.Integer()
    document_id = fields.UUID()
    parent_id = fields.Integer(allow_none=True)
    author = _username("author.username", "User name of the author.")
    text = fields.String()
    due_date = fields.Date(metadata={"description": "The responsible executor's due date."})
    status = fields.String(metadata={"enum": ["open", "closed", "cancelled"]})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(
        allow_none=True, metadata={"description": "When it was removed from control."}
    )
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String()
    assignments = fields.List(fields.Nested(AssignmentSchema))
    children = fields.List(
        fields.Nested(lambda: ResolutionSchema()),
        metadata={"description": "Sub-resolutions, each with its own."},
    )


class DocumentRefSchema(Schema):
    id = fields.UUID()
    registration_number = fields.String()
    title = fields.String()


class ResolutionRefSchema(Schema):
    id = fields.Integer()
    text = fields.String()
    author = _username("author.username", "User name of the author.")
    status = fields.String(metadata={"enum": ["open", "closed", "cancelled"]})


class AssignmentItemSchema(AssignmentSchema):
    """An assignment with its resolution and document, as lists show it."""

    resolution = fields.Nested(ResolutionRefSchema)
    document = fields.Nested(DocumentRefSchema, attribute="resolution.document")


class ReportRowSchema(Schema):
    department = _username("department.code", "Department code; null for the total.")
    department_name = fields.String(attribute="department.name", allow_none=True)
    assigned = fields.Integer(metadata={"description": "Given in the period (not cancelled)."})
    completed_on_time = fields.Integer(attribute="on_time")
    completed_late = fields.Integer(attribute="late")
    overdue = fields.Integer(metadata={"description": "Not done and past due today."})
    open = fields.Integer(metadata={"description": "Not done, not yet due."})


class ExecutionReportSchema(Schema):
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    as_of = fields.Date(metadata={"description": "The day overdue is counted for."})
    departments = fields.List(fields.Nested(ReportRowSchema), attribute="rows")
    total = fields.Nested(ReportRowSchema)


class AcquaintanceSchema(Schema):
    user = _username("user.username", "Who is asked to read.")
    user_name = fields.String(attribute="user.display_name")
    requested_at = fields.DateTime()
    requested_by = _username("requested_by.username", "Who asked.")
    confirmed_at = fields.DateTime(
        allow_none=True, metadata={"description": "When they confirmed; null: not yet."}
    )


# Resolutions -------------------------------------------------------------------------


def _upload(value: Any) -> documents.Upload | None:
    """The file part of the form, if a file was sent at all."""
    if not isinstance(value, FileStorage):
        return None
    if not value.filename and value.stream.read(1) == b"":
        return None  # an empty file input, as browsers send it
    value.stream.seek(0)
    return documents.Upload(value.filename, value.stream)


def _tree_node(resolution: Resolution) -> Resolution:
    """The resolution with its sub-resolutions filled in (one query for the whole tree)."""
    for root in services.resolution_tree(resolution.document):
        found = _find(root, resolution.id)
        if found is not None:
            return found
    return resolution


def _find(node: Resolution, resolution_id: int) -> Resolution | None:
    if node.id == resolution_id:
        return node
    for child in node.children:
        found = _find(child, resolution_id)
        if found is not None:
            return found
    return None


@resolutions_bp.route("/documents/<uuid:doc_id>/resolutions")
class DocumentResolutions(MethodView):
    @resolutions_bp.response(200, ResolutionSchema(many=True))
    @resolutions_bp.problems(401, 403, 404)
    def get(self, doc_id: uuid.UUID) -> list[Resolution]:
        """The document's resolutions as a tree

        Top-level resolutions, oldest first, each with its sub-resolutions in `children`.
        """
        doc = documents.get_document(get_user(), doc_id)
        return services.resolution_tree(doc)

    @resolutions_bp.arguments(ResolutionInSchema)
    @resolutions_bp.response(
        201,
        ResolutionSchema,
        headers={"Location": {"description": "The new resolution.", "schema": {"type": "string"}}},
    )
    @resolutions_bp.problems(400, 401, 403, 404, 415)
    def post(
        self, body: dict[str, Any], doc_id: uuid.UUID
    ) -> tuple[Resolution, int, dict[str, str]]:
        """Write a resolution on a document

        Approvers, administrators and heads of the document's department write
        resolutions; an executor of a resolution writes sub-resolutions under it
        (`parent`) to their subordinates. Every problem is reported together (422).
        """
        user = get_user()
        doc = documents.get_document(user, doc_id)
        resolution = services.create_resolution(user, doc, body)
        db.session.commit()
        location = url_for("api_resolutions.ResolutionItem", resolution_id=resolution.id)
        return _tree_node(resolution), 201, {"Location": location}


@resolutions_bp.route("/resolutions/<int:resolution_id>")
class ResolutionItem(MethodView):
    @resolutions_bp.response(200, ResolutionSchema)
    @resolutions_bp.problems(401, 403, 404)
    def get(self, resolution_id: int) -> Resolution:
        """Get a resolution with its sub-resolutions"""
        return _tree_node(services.get_resolution(get_user(), resolution_id))


@resolutions_bp.route("/resolutions/<int:resolution_id>/cancel", methods=["POST"])
@resolutions_bp.arguments(CancelInSchema)
@resolutions_bp.response(200, ResolutionSchema)
@resolutions_bp.problems(401, 403, 404, 409, 415)
def cancel_resolution(body: dict[str, Any], resolution_id: int) -> Resolution:
    """Cancel a resolution (its author only)

    Its open sub-resolutions are cancelled with it; executors are notified.
    """
    user = get_user()
    resolution = services.get_resolution(user, resolution_id)
    services.cancel_resolution(user, resolution, body.get("reason") or "")
    db.session.commit()
    return _tree_node(resolution)


# Assignments ---------------------------------------------------------------------------


@resolutions_bp.route("/assignments")
@resolutions_bp.arguments(AssignmentQuerySchema, location="query")
@resolutions_bp.response(200, AssignmentItemSchema(many=True))
@resolutions_bp.problems(401, 403)
def my_assignments(query: dict[str, Any]) -> list[Assignment]:
    """Your assignments

    By default those still to do (open, or reported and awaiting acceptance),
    soonest due first.
    """
    return services.my_assignments(get_user(), query.get("status"))


@resolutions_bp.route("/assignments/<int:assignment_id>")
@resolutions_bp.response(200, AssignmentItemSchema)
@resolutions_bp.problems(401, 403, 404)
def get_assignment(assignment_id: int) -> Assignment:
    """Get an assignment with its reports and extension requests"""
    return services.get_assignment(get_user(), assignment_id)


@resolutions_bp.route("/assignments/<int:assignment_id>/report", methods=["POST"])
@resolutions_bp.arguments(ReportFormSchema, location="form")
@resolutions_bp.response(201, ReportSchema)
@resolutions_bp.problems(400, 401, 403, 404, 409, 413, 415)
def report(form: dict[str, Any], assignment_id: int) -> Any:
    """Report on an assignment (its executor only)

    `multipart/form-data` with the text and an optional file. The assignment
    waits for the author's decision until it is accepted or returned.
    """
    user = get_user()
    assignment = services.get_assignment(user, assignment_id)
    row = services.submit_report(
        user, assignment, form.get("text") or "", _upload(form.get("file"))
    )
    db.session.commit()
    return row


@resolutions_bp.route("/assignments/<int:assignment_id>/accept", methods=["POST"])
@resolutions_bp.arguments(CommentInSchema)
@resolutions_bp.response(200, AssignmentSchema)
@resolutions_bp.problems(400, 401, 403, 404, 409, 415)
def accept(body: dict[str, Any], assignment_id: int) -> Assignment:
    """Accept a report (the resolution's author only)

    Accepting the responsible executor's report removes the resolution from
    control (its status becomes `closed`); co-executors' parts still open are
    withdrawn then. It is refused (409) while a co-executor's report waits.
    """
    user = get_user()
    assignment = services.get_assignment(user, assignment_id)
    services.accept_report(user, assignment, body.get("comment") or "")
    db.session.commit()
    return assignment


@resolutions_bp.route("/assignments/<int:assignment_id>/return", methods=["POST"])
@resolutions_bp.arguments(CommentInSchema)
@resolutions_bp.response(200, AssignmentSchema)
@resolutions_bp.problems(400, 401, 403, 404, 409, 415)
def return_report(body: dict[str, Any], assignment_id: int) -> Assignment:
    """Return a report for rework, with a comment (the resolution's author only)

    The assignment is open again; the executor reports anew.
    """
    user = get_user()
    assignment = services.get_assignment(user, assignment_id)
    services.return_report(user, assignment, body.get("comment") or "")
    db.session.commit()
    return assignment


@resolutions_bp.route("/assignments/<int:assignment_id>/extension", methods=["POST"])
@resolutions_bp.arguments(ExtensionInSchema)
@resolutions_bp.response(201, ExtensionSchema)
@resolutions_bp.problems(400, 401, 403, 404, 409, 415)
def request_extension(body: dict[str, Any], assignment_id: int) -> ExtensionRequest:
    """Ask for a later due date (the executor only)

    One request at a time waits for the author's decision.
    """
    user = get_user()
    assignment = services.get_assignment(user, assignment_id)
    extension = services.request_extension(user, assignment, body)
    db.session.commit()
    return extension


@resolutions_bp.route("/extensions/<int:extension_id>/decision", methods=["POST"])
@resolutions_bp.arguments(DecisionInSchema)
@resolutions_bp.response(200, ExtensionSchema)
@resolutions_bp.problems(400, 401, 403, 404, 409, 415)
def decide_extension(body: dict[str, Any], extension_id: int) -> ExtensionRequest:
    """Approve or decline an extension request (the resolution's author only)

    Approving moves the executor's due date (audited with the old and new dates).
    """
    user = get_user()
    extension = services.get_extension(user, extension_id)
    services.decide_extension(user, extension, body.get("decision"), body.get("comment") or "")
    db.session.commit()
    return extension


# Execution control ---------------------------------------------------------------------


@control_bp.route("/control/overdue")
@control_bp.arguments(OverdueQuerySchema, location="query")
@control_bp.response(200, AssignmentItemSchema(many=True))
@control_bp.problems(401, 403)
def overdue(query: dict[str, Any]) -> list[Assignment]:
    """Overdue assignments

    Not done by their due date, on resolutions still on control: those you
    wrote or execute, those of the departments you head (approvers: their own
    department), and all of them for records officers and administrators.
    """
    return services.overdue(get_user(), query.get("department") or None)


@control_bp.route("/control/report")
@control_bp.arguments(ReportQuerySchema, location="query")
@control_bp.response(200, ExecutionReportSchema)
@control_bp.problems(401, 403)
def execution_report(query: dict[str, Any]) -> services.ExecutionReport:
    """Execution report per department

    For the assignments given in the period (`from`..`to`, inclusive): how many
    were completed on time, completed late, are overdue, or are open. The four
    add up to `assigned`; cancelled ones are left out.
    """
    raw = {"from": query.get("date_from"), "to": query.get("date_to")}
    return services.execution_report(get_user(), raw)


# Acquaintance ----------------------------------------------------------------------------


@acquaintance_bp.route("/documents/<uuid:doc_id>/acquaintance")
class DocumentAcquaintance(MethodView):
    @acquaintance_bp.response(200, AcquaintanceSchema(many=True))
    @acquaintance_bp.problems(401, 403, 404)
    def get(self, doc_id: uuid.UUID) -> list[Acquaintance]:
        """Who has been asked to read the document: who has (in order), then who not yet"""
        doc = documents.get_document(get_user(), doc_id)
        return services.acquaintance_list(doc)

    @acquaintance_bp.arguments(AcquaintanceInSchema)
    @acquaintance_bp.response(200, AcquaintanceSchema(many=True))
    @acquaintance_bp.problems(400, 401, 403, 404, 415)
    def post(self, body: dict[str, Any], doc_id: uuid.UUID) -> list[Acquaintance]:
        """Ask people to read the document

        Clerks who may edit the document and approvers ask. Each person gets a
        "have read" task, access to the document and a notification; people
        asked before are skipped. Answers the whole list.
        """
        user = get_user()
        doc = documents.get_document(user, doc_id)
        services.request_acquaintance(user, doc, body.get("users"))
        db.session.commit()
        return services.acquaintance_list(doc)


@acquaintance_bp.route("/documents/<uuid:doc_id>/acquaintance/confirm", methods=["POST"])
@acquaintance_bp.response(200, AcquaintanceSchema)
@acquaintance_bp.problems(401, 403, 404)
def confirm(doc_id: uuid.UUID) -> Acquaintance:
    """Confirm you have read the document

    Records the time; confirming again keeps the first time. 404 if you were not asked.
    """
    user = get_user()
    doc = documents.get_document(user, doc_id)
    row = services.confirm_acquaintance(user, doc)
    db.session.commit()
    return row
