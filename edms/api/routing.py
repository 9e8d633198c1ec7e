"""API routes of workflows: a document's route, the token owner's tasks, decisions, definitions.

Registered by the import at the end of ``edms.api.views``, which adds this
blueprint to its ``blueprints`` list. The route pages of the browser
(``edms.routing.views``) and the scheduled jobs are registered with the
application when this blueprint is (see ``_init_routing``).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, url_for
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields
from marshmallow.validate import OneOf

from edms.api.blueprint import ApiBlueprint
from edms.api.schemas import RequiredText
from edms.api.views import blueprints
from edms.auth.login import get_user
from edms.db import db, utcnow
from edms.documents import services as documents
from edms.routing import services
from edms.routing.models import Task, WorkflowDefinition, WorkflowInstance

workflows_bp = ApiBlueprint(
    "api_workflows",
    __name__,
    description="Routes of documents through workflow definitions: start, follow, cancel; "
    "your tasks and your decisions. Staff only.",
)
blueprints.append(workflows_bp)


_LANGS = ["en", "ru", "uz"]
_DECISIONS = ["approve", "reject", "return", "acknowledge", "sign"]


def _text(description: str, **metadata: Any) -> fields.String:
    return fields.String(metadata={"description": description, **metadata})


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# Input ---------------------------------------------------------------------------


class StartSchema(_Strict):
    definition = RequiredText(
        metadata={"description": "Code of the workflow definition; its latest version starts."}
    )


class DecisionSchema(_Strict):
    decision = RequiredText(
        metadata={
            "description": "One of the decisions the task's stage allows.",
            "enum": _DECISIONS,
        }
    )
    comment = _text("Why, up to 5,000 characters.", maxLength=5000)
    return_to = fields.String(
        allow_none=True,
        metadata={
            "description": "With `return`: the id of an earlier stage to go back to; "
            "left out, the document goes back to its author."
        },
    )


class CancelQuerySchema(_Strict):
    reason = _text("Why the route is cancelled, up to 500 characters.", maxLength=500)


class InboxQuerySchema(_Strict):
    status = _text(
        "`open` (default): tasks to decide; `done`: tasks you decided or held; `all`.",
        enum=list(services.INBOX_STATUSES),
    )
    overdue = _text("`true`: only open tasks past their due date.", enum=["true", "false"])
    stage = _text("Only tasks of this stage id.")
    page = _text("Page number, from 1.", type="integer", minimum=1)
    per_page = _text("Items per page (up to max_page_size).", type="integer", minimum=1)


class SvgQuerySchema(_Strict):
    lang = fields.String(
        validate=OneOf(_LANGS),
        metadata={"description": "Language of the labels; `en` when left out."},
    )


# Output ----------------------------------------------------------------------------


def _username(attribute: str, description: str) -> fields.String:
    return fields.String(
        attribute=attribute,
        dump_default=None,
        allow_none=True,
        metadata={"description": description},
    )


class TaskDocumentSchema(Schema):
    id = fields.UUID()
    registration_number = fields.String()
    title = fields.String()


class TaskSchema(Schema):
    id = fields.Integer(metadata={"description": "Use it to decide: POST /tasks/{id}/decision."})
    key = fields.String(metadata={"description": "The engine's id: `{stage}:{round}:{n}`."})
    instance = fields.Integer(attribute="instance_id")
    stage = fields.String(attribute="stage_id")
    round = fields.Integer()
    status = fields.String(metadata={"enum": ["waiting", "open", "done", "cancelled"]})
    assignee = _username("assignee.username", "Who holds the task now.")
    on_behalf_of = _username(
        "on_behalf_of.username", "Whose task it is, when a deputy or supervisor holds it."
    )
    decision = fields.String(allow_none=True, metadata={"enum": _DECISIONS})
    comment = fields.String()
    decided_by = _username("decided_by.username", "Who decided.")
    decided_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Function(
        lambda task: task.is_overdue(utcnow()),
        metadata={"type": "boolean", "description": "Open and past its due date."},
    )
    document = fields.Nested(TaskDocumentSchema)


class DefinitionRefSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.Dict(keys=fields.String(), values=fields.String())


class InstanceSchema(Schema):
    id = fields.Integer()
    document = fields.UUID(attribute="document_id")
    definition = fields.Nested(DefinitionRefSchema)
    status = fields.String(
        metadata={"enum": ["running", "returned", "approved", "rejected", "cancelled"]}
    )
    stage = fields.Function(
        lambda instance: instance.state.get("stage_id"),
        metadata={"type": "string", "description": "The current (or last) stage id."},
    )
    round = fields.Function(
        lambda instance: instance.state.get("round"),
        metadata={"type": "integer", "description": "Grows each time the route goes back."},
    )
    author = fields.Function(
        lambda instance: instance.state.get("author"),
        metadata={"type": "string", "description": "Who gets the document back for rework."},
    )
    started_by = _username("started_by.username", "Who started the route.")
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    tasks = fields.Function(
        lambda instance: TaskSchema(many=True).dump(services.instance_tasks(instance)),
        metadata={"type": "array", "items": {"type": "object"}, "description": "Every task."},
    )
    state = fields.Dict(
        metadata={"description": "The engine's whole state (InstanceState.to_dict())."}
    )


class InboxPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class StageSchema(Schema):
    id = fields.String()
    name = fields.Dict(keys=fields.String(), values=fields.String())
    mode = fields.String(metadata={"enum": ["sequential", "parallel"]})
    decisions = fields.List(fields.String(metadata={"enum": _DECISIONS}))
    signature = fields.Boolean()
    deadline_days = fields.Integer(allow_none=True)


class DefinitionSchema(Schema):
    code = fields.String()
    version = fields.Integer(metadata={"description": "The latest version."})
    name = fields.Dict(keys=fields.String(), values=fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()
    stages = fields.Function(
        lambda row: StageSchema(many=True).dump(services.parse(row).stages),
        metadata={"type": "array", "items": {"type": "object"}},
    )


_SVG_RESPONSE: dict[str, Any] = {
    "description": "The route as an SVG picture (role=img, with a title and a description).",
    "content_type": "image/svg+xml",
}


# Routes --------------------------------------------------------------------------------


def _instance_url(doc_id: uuid.UUID) -> str:
    return url_for("api_workflows.WorkflowItem", doc_id=doc_id)


@workflows_bp.route("/documents/<uuid:doc_id>/workflow")
class WorkflowItem(MethodView):
    @workflows_bp.response(200, InstanceSchema)
    @workflows_bp.problems(401, 403, 404)
    def get(self, doc_id: uuid.UUID) -> WorkflowInstance:
        """The document's route: its state, its tasks, the definition's code and version

        The open route if there is one, else the latest that ended; 404 when none was
        started (or the document is not one you may see).
        """
        _doc, instance = services.route_of(get_user(), doc_id)
        return instance

    @workflows_bp.arguments(StartSchema)
    @workflows_bp.response(
        201,
        InstanceSchema,
        headers={"Location": {"description": "The route.", "schema": {"type": "string"}}},
    )
    @workflows_bp.problems(400, 401, 403, 404, 409, 415)
    def post(self, body: dict[str, Any], doc_id: uuid.UUID) -> tuple[Any, int, dict[str, str]]:
        """Start a route on a document

        Clerks who may edit the document start the latest version of a definition.
        409 while another route runs on the document, or when a stage has nobody to act.
        """
        user = get_user()
        doc = documents.get_document(user, doc_id)
        instance = services.start(user, doc, body.get("definition"))
        db.session.commit()
        return instance, 201, {"Location": _instance_url(doc.id)}

    @workflows_bp.arguments(CancelQuerySchema, location="query")
    @workflows_bp.response(200, InstanceSchema)
    @workflows_bp.problems(401, 403, 404, 409)
    def delete(self, query: dict[str, Any], doc_id: uuid.UUID) -> WorkflowInstance:
        """Cancel the document's route

        Open tasks close; the document is registered again. 409 if the route has ended.
        """
        user = get_user()
        _doc, instance = services.route_of(user, doc_id)
        instance = services.cancel(user, instance, query.get("reason") or "")
        db.session.commit()
        return instance


@workflows_bp.route("/documents/<uuid:doc_id>/workflow/resubmit", methods=["POST"])
@workflows_bp.response(200, InstanceSchema)
@workflows_bp.problems(401, 403, 404, 409)
def resubmit(doc_id: uuid.UUID) -> WorkflowInstance:
    """Send a document returned for rework on again

    The stage that returned it starts again, in a new round. Its author, or a clerk
    who may edit the document. 409 unless the route is returned.
    """
    user = get_user()
    _doc, instance = services.route_of(user, doc_id)
    instance = services.resubmit(user, instance)
    db.session.commit()
    return instance


@workflows_bp.route("/documents/<uuid:doc_id>/workflow.svg")
@workflows_bp.arguments(SvgQuerySchema, location="query")
@workflows_bp.response(200, {"type": "string"}, **_SVG_RESPONSE)
@workflows_bp.problems(401, 403, 404)
def picture(query: dict[str, Any], doc_id: uuid.UUID) -> Response:
    """The route as a picture, with the current stage and every decision"""
    _doc, instance = services.route_of(get_user(), doc_id)
    response = Response(services.svg(instance, query.get("lang") or "en"), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@workflows_bp.route("/tasks")
@workflows_bp.arguments(InboxQuerySchema, location="query")
@workflows_bp.response(200, InboxPageSchema)
@workflows_bp.problems(401, 403)
def inbox(query: dict[str, Any]) -> services.InboxPage:
    """Your inbox: the tasks you hold, overdue first, then by due date

    Tasks you hold on behalf of someone (as their deputy) name them in `on_behalf_of`.
    """
    return services.inbox(get_user(), query)


@workflows_bp.route("/tasks/<int:task_id>")
@workflows_bp.response(200, TaskSchema)
@workflows_bp.problems(401, 403, 404)
def task(task_id: int) -> Task:
    """One task (on a document you may see)"""
    return services.get_task(get_user(), task_id)


@workflows_bp.route("/tasks/<int:task_id>/decision", methods=["POST"])
@workflows_bp.arguments(DecisionSchema)
@workflows_bp.response(200, TaskSchema)
@workflows_bp.problems(400, 401, 403, 404, 409, 415)
def decision(body: dict[str, Any], task_id: int) -> Task:
    """Decide a task

    The assignee, the user it is held for, or the assignee's deputy decides; both
    names are recorded. 422 for a decision the stage does not allow (or a bad
    `return_to`, or a current version that cannot be signed); 409 when the task is
    not yours, not open, or its route has ended, or when a signature stage is approved
    by someone without a signing credential. Approving (or signing) a signature stage
    signs the document's current PDF (a DOCX is converted to PDF/A first): the signed
    PDF becomes the next version.
    """
    task_ = services.decide(
        get_user(),
        task_id,
        body.get("decision"),
        body.get("comment") or "",
        body.get("return_to"),
    )
    db.session.commit()
    return task_


# Administration of definitions (administrators only) -----------------------------------


class DefinitionTextSchema(_Strict):
    yaml = RequiredText(
        metadata={
            "description": "The definition in YAML (docs/WORKFLOWS.md), at most 256 KB. Its "
            "`code` names the definition: a new code makes a new one, a known code its "
            "next version."
        }
    )


class DefinitionActiveSchema(_Strict):
    active = fields.Boolean(
        required=True,
        truthy={True},
        falsy={False},
        metadata={"description": "`true`: the definition can be started; `false`: it cannot."},
    )


class DefinitionVersionSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.Dict(keys=fields.String(), values=fields.String())
    active = fields.Boolean(
        metadata={"description": "Whether the definition can be started (all its versions)."}
    )
    sha256 = fields.String(metadata={"description": "SHA-256 of the YAML text."})
    created_at = fields.DateTime()
    created_by = fields.String(
        allow_none=True,
        metadata={"description": "Who saved it; null when it was loaded from config/workflows."},
    )
    routes_in_progress = fields.Integer(
        metadata={"description": "Routes on this version still going (running or returned)."}
    )


class DefinitionVersionTextSchema(DefinitionVersionSchema):
    yaml = fields.String(metadata={"description": "The YAML text, as saved."})


class SavedDefinitionVersionSchema(DefinitionVersionSchema):
    created = fields.Boolean(
        metadata={"description": "False when the text was the latest version's: nothing saved."}
    )


def _version(row: WorkflowDefinition, counts: dict[tuple[str, int], int]) -> dict[str, Any]:
    return {
        "code": row.code,
        "version": row.version,
        "name": row.name,
        "active": row.active,
        "sha256": row.sha256,
        "created_at": row.created_at,
        "created_by": row.created_by.username if row.created_by is not None else None,
        "routes_in_progress": counts.get((row.code, row.version), 0),
        "yaml": row.source,
    }


def _version_url(row: WorkflowDefinition) -> str:
    return url_for("api_workflows.definition_version", code=row.code, version=row.version)


# One view for both methods of /workflows: the OpenAPI document has one path item per rule.
@workflows_bp.route("/workflows")
class Definitions(MethodView):
    @workflows_bp.response(200, DefinitionSchema(many=True))
    @workflows_bp.problems(401, 403)
    def get(self) -> list[Any]:
        """The workflow definitions that can be started (latest versions)"""
        documents.require_staff(get_user())
        return services.list_definitions()

    @workflows_bp.arguments(DefinitionTextSchema)
    @workflows_bp.response(
        201,
        SavedDefinitionVersionSchema,
        headers={"Location": {"description": "The version.", "schema": {"type": "string"}}},
    )
    @workflows_bp.alt_response(
        200,
        schema=SavedDefinitionVersionSchema,
        description="The text is the latest version's: nothing was saved (`created` is false).",
        success=True,
    )
    @workflows_bp.problems(400, 401, 403, 409, 413, 415)
    def post(self, body: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
        """Save a definition: a new one, or the next version of the one its `code` names

        Administrators only. The text is validated as config/workflows files are (schema,
        known roles, departments and attributes, reachable quorums, conditions that
        parse); a 422 problem lists each problem in `errors`, with its `path`
        (`stages[1].policy.quorum`), `line`, `message` and `hint` (how to fix it), and
        nothing is saved. A new version keeps the definition active or inactive; routes
        already running stay on the version they started with.
        """
        user = get_user()
        row, created = services.new_version(user, body.get("yaml"), source="api")
        db.session.commit()
        data = _version(row, services.open_route_counts(row.code))
        data["created"] = created
        return data, 201 if created else 200, {"Location": _version_url(row)}


@workflows_bp.route("/workflows/<code>/versions")
@workflows_bp.response(200, DefinitionVersionSchema(many=True))
@workflows_bp.problems(401, 403, 404)
def definition_versions(code: str) -> list[dict[str, Any]]:
    """Every version of a definition, the latest first (administrators only)"""
    services.require_admin(get_user())
    counts = services.open_route_counts(code)
    return [_version(row, counts) for row in services.definition_versions(code)]


@workflows_bp.route("/workflows/<code>/versions/<int:version>")
@workflows_bp.response(200, DefinitionVersionTextSchema)
@workflows_bp.problems(401, 403, 404)
def definition_version(code: str, version: int) -> dict[str, Any]:
    """One version of a definition, with its YAML text (administrators only)"""
    services.require_admin(get_user())
    row = services.definition_version(code, version)
    return _version(row, services.open_route_counts(code))


@workflows_bp.route("/workflows/<code>/active", methods=["POST"])
@workflows_bp.arguments(DefinitionActiveSchema)
@workflows_bp.response(200, DefinitionVersionSchema)
@workflows_bp.problems(400, 401, 403, 404, 415)
def definition_active(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Let a definition be started, or not (administrators only)

    An inactive definition cannot be started; routes already running on it go on.
    """
    user = get_user()
    row = services.set_active(user, code, body["active"])
    db.session.commit()
    return _version(row, services.open_route_counts(code))
