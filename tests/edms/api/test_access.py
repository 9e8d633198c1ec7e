"""Who may call the API, and what each user sees through it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.auth.models import ApiToken
from edms.auth.services import create_token, revoke_token
from edms.db import db
from edms.documents.models import Document, DocumentVersion
from tests.conftest import login
from tests.edms.api.conftest import PDF, fresh, problem, upload


@pytest.fixture
def owner(make_user):
    return make_user("clerk")


@pytest.fixture
def doc(owner, make_document):
    return make_document(owner, content=PDF)


def _routes(doc_id: object) -> list[tuple[str, str, dict]]:
    """Every document route, with a valid request body, for ``doc_id``."""
    return [
        ("GET", f"/documents/{doc_id}", {}),
        ("GET", f"/documents/{doc_id}/file", {}),
        ("GET", f"/documents/{doc_id}/versions/1/file", {}),
        ("PATCH", f"/documents/{doc_id}", {"json": {"title": "Mine now"}}),
        ("POST", f"/documents/{doc_id}/versions", {"data": upload(b"%PDF-1.4\n%v2\n")}),
    ]


def _denials(user_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.actor_id == user_id
            )
        )
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer edms_not-a-real-token",
        "Bearer not-even-the-prefix",
        "Bearer " + "edms_" + "x" * 200,
    ],
)
def test_no_valid_token_is_401(api, authorization) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ("/me", "/documents", "/journals"):
        response = api.get(path, headers=headers)
        problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_401(api, make_user, ctx) -> None:
    user = make_user("clerk")
    token, plain = create_token(user)
    db.session.commit()
    assert api.get("/me", plain).status_code == 200
    revoke_token(user, token.id)
    db.session.commit()
    problem(api.get("/me", plain), 401)


def test_a_disabled_user_is_401(api, make_user, token_for) -> None:
    user = make_user("clerk")
    plain = token_for(user)
    user.is_active = False
    db.session.commit()
    problem(api.get("/me", plain), 401)


def test_the_session_cookie_does_not_count(api, client, make_user) -> None:
    login(client, make_user("admin"))
    problem(api.get("/me"), 401)
    problem(api.get("/documents"), 401)


def test_the_bearer_scheme_is_case_insensitive(api, make_user, token_for) -> None:
    plain = token_for(make_user("clerk"))
    assert api.get("/me", headers={"Authorization": f"bearer {plain}"}).status_code == 200


def test_token_use_is_recorded(api, make_user, ctx) -> None:
    token, plain = create_token(make_user("clerk"))
    db.session.commit()
    assert token.last_used_at is None
    assert api.get("/me", plain).status_code == 200
    assert fresh(ApiToken, token.id).last_used_at is not None


def test_another_department_sees_nothing_and_is_audited(
    api, doc, make_user, token_for, store
) -> None:
    outsider = make_user("clerk")  # a department of its own
    token = token_for(outsider)
    missing = problem(api.get(f"/documents/{uuid.uuid4()}", token), 404)
    for method, path, kwargs in _routes(doc.id):
        response = api.open(method, path, token, **kwargs)
        body = problem(response, 404)
        # Exactly as if the document did not exist.
        assert body["detail"] == missing["detail"]
    assert api.get("/documents", token).get_json()["total"] == 0
    denied = _denials(outsider.id)
    assert len(denied) == len(_routes(doc.id))
    assert {(e.object_type, e.object_id) for e in denied} == {("document", str(doc.id))}
    assert fresh(Document, doc.id).title == "A test document"
    versions = select(func.count()).where(DocumentVersion.document_id == doc.id)
    assert db.session.scalar(versions) == 1
    assert list(store.keys()) == [doc.versions[0].sha256]


def test_unknown_ids_are_404_and_not_audited(api, owner, token_for) -> None:
    token = token_for(owner)
    problem(api.get(f"/documents/{uuid.uuid4()}/file", token), 404)
    problem(api.get("/documents/not-a-uuid", token), 404)
    assert _denials(owner.id) == []


def test_a_parent_department_sees_its_children(
    api, make_department, make_user, make_document, token_for
) -> None:
    parent = make_department()
    child = make_department(parent=parent)
    doc = make_document(make_user("clerk", department=child))
    head = make_user("clerk", department=parent)
    assert api.get(f"/documents/{doc.id}", token_for(head)).status_code == 200


@pytest.mark.parametrize("role", ["admin", "records_officer"])
def test_admins_and_records_officers_see_everything(api, doc, make_user, token_for, role) -> None:
    token = token_for(make_user(role))
    assert [i["id"] for i in api.get("/documents", token).get_json()["items"]] == [str(doc.id)]
    assert api.get(f"/documents/{doc.id}", token).status_code == 200
    assert api.get(f"/documents/{doc.id}/file", token).data == PDF


def test_readers_may_not_change(api, doc, owner, make_user, token_for) -> None:
    for reader in (
        make_user("records_officer"),
        make_user("approver", department=owner.department),
    ):
        token = token_for(reader)
        assert api.get(f"/documents/{doc.id}", token).status_code == 200
        problem(api.patch(f"/documents/{doc.id}", token, json={"title": "x"}), 403)
        problem(api.post(f"/documents/{doc.id}/versions", token, data=upload()), 403)
        problem(api.post("/documents", token, data=upload(title="x", journal="J1")), 403)
        denied = sorted((e.object_type, e.object_id) for e in _denials(reader.id))
        assert denied == [
            ("document", str(doc.id)),
            ("document", str(doc.id)),
            ("route", "api_documents.DocumentCollection"),
        ]


def test_applicants_are_kept_out(api, doc, make_user, make_journal, token_for) -> None:
    applicant = make_user("applicant")
    token = token_for(applicant)
    problem(api.get("/documents", token), 403)
    problem(api.post("/documents", token, data=upload(title="x", journal=make_journal().code)), 403)
    problem(api.get("/journals", token), 403)
    for method, path, kwargs in _routes(doc.id):
        problem(api.open(method, path, token, **kwargs), 403)
    me = api.get("/me", token)
    assert me.status_code == 200
    assert me.get_json()["roles"] == ["applicant"]


def test_other_errors_are_problems_too(api, doc, owner, token_for) -> None:
    token = token_for(owner)
    response = api.delete(f"/documents/{doc.id}", token)
    problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH"}
    problem(api.get("/no-such-route", token), 404)
