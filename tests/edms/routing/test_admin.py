"""Administration of workflow definitions: versions in pages and the API, validation, activation."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.documents.models import Document
from edms.errors import ValidationError
from edms.routing import services as routing
from edms.routing.models import WorkflowDefinition, WorkflowInstance
from tests.conftest import csrf_token, login
from tests.edms.api.conftest import ApiClient, fresh, problem
from tests.edms.routing.conftest import Org, open_task, tasks_of
from tests.edms.ui.conftest import Page, text_of
from tests.edms.ui.test_accessibility import check_page

ADMIN = "/admin/workflows"
LETTER = (routing.DEFINITIONS_DIR / "outgoing_letter.yaml").read_text("utf-8")
LICENCE = (routing.DEFINITIONS_DIR / "licence_request.yaml").read_text("utf-8")
# Version 2 of the outgoing letter: the visas have a new name and can no longer be returned.
LETTER_V2 = LETTER.replace("{en: Visas, ru: Визы", "{en: Legal visas, ru: Визы").replace(
    "decisions: [approve, reject, return]", "decisions: [approve, reject]"
)
NEW_ROUTE = """\
code: quick_check
name: {en: Quick check, ru: Быстрая проверка, uz: Tezkor tekshiruv}
stages:
  - id: check
    name: {en: Check}
    assignees:
      - {head_of: owner}
    decisions: [approve, reject]
"""
BOMB = """\
code: bomb
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""
OVERSIZED = NEW_ROUTE + "# " + "x" * (300 * 1024) + "\n"


def _line(text: str, needle: str) -> int:
    """The 1-based line of ``text`` where ``needle`` first appears."""
    return text[: text.index(needle)].count("\n") + 1


def _invalid(replacement: tuple[str, str], path: str, message: str, hint: str, at: str = "") -> Any:
    """The licence request with ``replacement`` made; the problem is on the line of ``at``
    (the last line of the replacement by default)."""
    old, new = replacement
    assert old in LICENCE
    text = LICENCE.replace(old, new, 1)
    line = _line(text, at or new.strip().splitlines()[-1])
    return pytest.param(text, path, line, message, hint)


#: Broken versions of the licence request: (text, path, line, words of the message, of the fix).
INVALID = {
    "syntax error": _invalid(
        ("policy: {quorum: 2}", "policy: {quorum: 2"),
        "",
        "not valid YAML",
        "fix the YAML syntax",
        at="veto: false",  # where the parser finds the mapping unclosed
    ),
    "schema error": _invalid(
        ("policy: {quorum: 2}", "policy: {quorum: two}"),
        "stages[0].policy",
        "is not a policy",
        "{quorum: 2} or {percent: 66}",
    ),
    "unknown role": _invalid(
        ("{role: approver, department: LEGAL}", "{role: wizard, department: LEGAL}"),
        "stages[0].assignees[0].role",
        "unknown role 'wizard'",
        "known roles: admin, applicant, approver",
    ),
    "unknown department": _invalid(
        ("{role: approver, department: STATS}", "{role: approver, department: NOWHERE}"),
        "stages[0].assignees[2].department",
        "unknown department 'NOWHERE'",
        "write owner or one of: CHANCERY, ",
    ),
    "quorum too high": _invalid(
        ("      - {head_of: owner}\n", "      - {head_of: owner}\n    policy: {quorum: 3}\n"),
        "stages[1].policy.quorum",
        "quorum 3 is more than the 1 assignee(s)",
        "lower the quorum to at most 1",
    ),
    "bad expression": _invalid(
        (
            "    decisions: [approve, reject]\n",
            '    decisions: [approve, reject]\n    when: "amount >> 5"\n',
        ),
        "stages[1].when",
        "does not parse",
        "see the expression language",
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _compiled(app: Flask) -> None:
    from edms.extensions import babel
    from tests.edms.ui.conftest import compile_catalogues

    compile_catalogues()
    with app.app_context():
        babel.domain_instance.cache.clear()


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, username="root")


@pytest.fixture
def admin_client(client: FlaskClient, admin: User) -> FlaskClient:
    login(client, admin)
    return client


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(WorkflowDefinition)) or 0


def _latest(code: str) -> WorkflowDefinition:
    """The latest version as the database has it now: the pages change it in requests of
    their own, which the test's session does not see by itself."""
    db.session.expire_all()
    row = routing.latest_definition(code)
    assert row is not None
    return row


def _audit(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _post_text(client: FlaskClient, url: str, text: str, action: str = "save", **extra: Any) -> Any:
    data = {"csrf_token": csrf_token(client, url), "yaml": text, "action": action, **extra}
    return client.post(url, data=data, content_type="multipart/form-data")


def _switch(client: FlaskClient, lang: str) -> None:
    reply = client.post(
        "/language", data={"csrf_token": csrf_token(client, ADMIN), "lang": lang, "next": ADMIN}
    )
    assert reply.status_code == 302


# Pages --------------------------------------------------------------------------------------


def test_the_list_and_a_definition_page(
    admin_client: FlaskClient, org: Org, letter: Document, definitions: dict[str, Any]
) -> None:
    routing.start(org.clerk, letter, "outgoing_letter")
    db.session.commit()
    html = admin_client.get(ADMIN).get_data(as_text=True)
    page = check_page(html, "en")
    words = text_of(html)
    assert "Route definitions" in words
    for code in ("incoming_letter", "licence_request", "outgoing_letter", "statistical_report"):
        assert f'href="{ADMIN}/{code}/versions"' in html
    assert "Outgoing letter" in words
    assert "version 1: 1 route" in words  # the running letter
    assert page.find("a", href=f"{ADMIN}/new")
    assert f'href="{ADMIN}"' in html  # the menu

    html = admin_client.get(f"{ADMIN}/outgoing_letter/versions").get_data(as_text=True)
    page = check_page(html, "en")
    words = text_of(html)
    assert "Version 1 (latest)" in words
    assert "Loaded from config/workflows" in words
    assert page.find("svg", role="img")
    assert "The route in words" in words
    assert "Visas ( visas )" in words
    assert (
        "Who: everyone with the role approver in LEGAL; the head of the document’s department"
        in (words)
    )
    assert "Decisions: Approve, Reject, Return for rework" in words
    assert "A rejection sends it back to “Visas”." in words
    pre = re.search(r"<pre><code>(.*?)</code></pre>", html, re.S)
    assert pre is not None
    assert "code: outgoing_letter" in pre.group(1)
    assert page.find("a", href=f"{ADMIN}/outgoing_letter/versions/new")

    assert admin_client.get(f"{ADMIN}/nothing/versions").status_code == 404
    assert admin_client.get(f"{ADMIN}/outgoing_letter/versions/7").status_code == 404


def test_a_new_version_through_the_page_leaves_running_routes_on_theirs(
    admin_client: FlaskClient,
    admin: User,
    org: Org,
    letter: Document,
    make_document: Callable[..., Document],
) -> None:
    running = routing.start(org.clerk, letter, "outgoing_letter")
    db.session.commit()
    url = f"{ADMIN}/outgoing_letter/versions/new"
    html = admin_client.get(url).get_data(as_text=True)
    check_page(html, "en")
    assert "Saving makes version 2." in text_of(html)
    assert "code: outgoing_letter" in html  # the latest text, to edit

    # Checking saves nothing and shows the picture of the new text.
    reply = _post_text(admin_client, url, LETTER_V2, "check")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert "No problems found" in text_of(html)
    assert "Legal visas" in text_of(html)
    assert Page(html).find("svg", role="img")
    assert _count() == 7

    reply = _post_text(admin_client, url, LETTER_V2.replace("\n", "\r\n"))  # as browsers send it
    assert reply.status_code == 302
    assert reply.headers["Location"] == f"{ADMIN}/outgoing_letter/versions/2"
    html = admin_client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Version 2 of “Outgoing letter” is saved." in text_of(html)
    v2 = _latest("outgoing_letter")
    assert v2.version == 2
    assert v2.source == LETTER_V2
    assert v2.created_by_id == admin.id
    [event] = _audit("workflow.definition_version")
    assert event.actor_id == admin.id
    assert event.details == {
        "code": "outgoing_letter",
        "version": 2,
        "previous": 1,
        "sha256": v2.sha256,
        "active": True,
    }
    html = admin_client.get(f"{ADMIN}/outgoing_letter/versions").get_data(as_text=True)
    assert "Version 2 (latest)" in text_of(html)
    assert f'href="{ADMIN}/outgoing_letter/versions/1"' in html

    # The running route is still on version 1: its row, its picture, its decisions.
    instance = fresh(WorkflowInstance, running.id)
    assert instance.definition.version == 1
    assert instance.state["definition_version"] == 1
    assert "Legal visas" not in routing.svg(instance)
    assert ">Visas<" in routing.svg(instance)
    routing.decide(org.lawyer, open_task(instance, "lawyer").id, "return", "Redo the dates")
    db.session.commit()
    assert fresh(WorkflowInstance, running.id).status == "returned"

    # New routes start on version 2, whose visas cannot be returned.
    other = make_document(org.clerk, journal=org.outgoing, title="Second letter")
    started = routing.start(org.clerk, other, "outgoing_letter")
    db.session.commit()
    assert started.definition.version == 2
    assert "Legal visas" in routing.svg(started)
    with pytest.raises(ValidationError) as refused:
        routing.decide(org.lawyer, open_task(started, "lawyer").id, "return")
    assert "must be one of approve, reject" in str(refused.value)
    db.session.rollback()
    routing.decide(org.lawyer, open_task(started, "lawyer").id, "approve")
    db.session.commit()
    assert tasks_of(started)["visas:1:2"].status == "open"

    html = admin_client.get(ADMIN).get_data(as_text=True)
    assert "version 2: 1 route" in text_of(html)
    assert "version 1: 1 route" in text_of(html)  # returned for rework: still going


def test_saving_the_same_text_makes_nothing(
    admin_client: FlaskClient, org: Org, definitions: dict[str, Any]
) -> None:
    url = f"{ADMIN}/outgoing_letter/versions/new"
    reply = _post_text(admin_client, url, LETTER.replace("\n", "\r\n"), "check")
    assert "saving it makes no new version" in text_of(reply.get_data(as_text=True))
    reply = _post_text(admin_client, url, LETTER)
    assert reply.status_code == 302
    html = admin_client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "The text is the same as version 1 of “Outgoing letter”: no new version was made." in (
        text_of(html)
    )
    assert _count() == 7
    assert _audit("workflow.definition_version") == []


def test_a_new_code_through_the_page(admin_client: FlaskClient, org: Org, letter: Document) -> None:
    url = f"{ADMIN}/new"
    html = admin_client.get(url).get_data(as_text=True)
    check_page(html, "en")
    assert "code: new_route" in html  # a starting point

    reply = _post_text(admin_client, url, NEW_ROUTE)
    assert reply.status_code == 302
    assert reply.headers["Location"] == f"{ADMIN}/quick_check/versions/1"
    row = _latest("quick_check")
    assert row.active
    instance = routing.start(org.clerk, letter, "quick_check")
    db.session.commit()
    assert open_task(instance, "head").stage_id == "check"

    # The new-definition page does not overwrite a route that exists.
    reply = _post_text(admin_client, url, NEW_ROUTE.replace("Quick check", "Other"))
    assert reply.status_code == 422
    words = text_of(reply.get_data(as_text=True))
    assert "a route with the code 'quick_check' exists already" in words
    assert "choose another code" in words
    # ... and a definition's page keeps to its code.
    reply = _post_text(admin_client, f"{ADMIN}/quick_check/versions/new", LETTER_V2)
    assert reply.status_code == 422
    assert "the text is the route 'outgoing_letter', not 'quick_check'" in text_of(
        reply.get_data(as_text=True)
    )
    assert _count() == 8


def test_uploading_a_yaml_file(
    admin_client: FlaskClient, org: Org, definitions: dict[str, Any]
) -> None:
    url = f"{ADMIN}/outgoing_letter/versions/new"

    def upload(content: bytes, name: str = "letter.yaml", action: str = "save") -> Any:
        return admin_client.post(
            url,
            data={
                "csrf_token": csrf_token(admin_client, url),
                "yaml": "ignored when a file is chosen",
                "action": action,
                "file": (io.BytesIO(content), name),
            },
            content_type="multipart/form-data",
        )

    reply = upload(b"\xef\xbb\xbf" + LETTER_V2.encode(), action="check")  # with a BOM
    assert reply.status_code == 200
    assert "Legal visas" in reply.get_data(as_text=True)  # the text area shows the file

    for content, name, message in [
        (LETTER_V2.encode(), "letter.txt", "Choose a file whose name ends in .yaml or .yml."),
        (b"\xff\xfe" + LETTER_V2.encode("utf-16-le"), "letter.yaml", "is not UTF-8 text"),
        (OVERSIZED.encode(), "big.yml", "The file is larger than 256 KB"),
    ]:
        reply = upload(content, name)
        assert reply.status_code == 422, name
        html = reply.get_data(as_text=True)
        check_page(html, "en")
        assert message in text_of(html)
        assert Page(html).find("a", href="#file")
    assert _count() == 7

    reply = upload(LETTER_V2.encode(), "letter.yml")
    assert reply.status_code == 302
    row = _latest("outgoing_letter")
    assert (row.version, row.source) == (2, LETTER_V2)


@pytest.mark.parametrize(("text", "path", "line", "message", "hint"), INVALID.values(), ids=INVALID)
def test_an_invalid_text_is_explained_on_the_page_and_saves_nothing(
    admin_client: FlaskClient,
    org: Org,
    definitions: dict[str, Any],
    text: str,
    path: str,
    line: int,
    message: str,
    hint: str,
) -> None:
    url = f"{ADMIN}/licence_request/versions/new"
    for action in ("check", "save"):
        reply = _post_text(admin_client, url, text, action)
        assert reply.status_code == 422
        html = reply.get_data(as_text=True)
        page = check_page(html, "en")
        assert page.find("textarea", id="yaml", **{"aria-invalid": "true"})
        summary = [text for href, text in page.links if href == "#yaml"]
        where = f"{path}, line {line}:" if path else f"the whole text, line {line}:"
        assert any(
            where in entry and message in entry and "How to fix:" in entry and hint in entry
            for entry in summary
        ), summary
        assert "<title>Error:" in html
    assert _count() == 7
    assert fresh(WorkflowDefinition, definitions["licence_request"].id).version == 1


@pytest.mark.parametrize(("text", "path", "line", "message", "hint"), INVALID.values(), ids=INVALID)
def test_an_invalid_text_is_a_422_problem_in_the_api(
    api: ApiClient,
    org: Org,
    definitions: dict[str, Any],
    admin: User,
    token_for: Callable[[User], str],
    text: str,
    path: str,
    line: int,
    message: str,
    hint: str,
) -> None:
    reply = api.post("/workflows", token_for(admin), json={"yaml": text})
    assert reply.status_code == 422, reply.get_data(as_text=True)
    assert reply.mimetype == "application/problem+json"
    body = reply.get_json()
    assert body["status"] == 422
    assert "api" in body["detail"]  # the source
    matching = [
        e
        for e in body["errors"]
        if e["path"] == path and e["line"] == line and message in e["message"] and hint in e["hint"]
    ]
    assert matching, body["errors"]
    assert matching[0]["field"] == (path or "_")
    assert _count() == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BOMB, "YAML aliases (*name) and merge keys (<<) are not supported"),
        (OVERSIZED, "more than the 256 KB a definition may have"),
    ],
    ids=["yaml bomb", "oversized"],
)
def test_yaml_bombs_and_oversized_texts_are_refused(
    admin_client: FlaskClient,
    api: ApiClient,
    admin: User,
    token_for: Callable[[User], str],
    definitions: dict[str, Any],
    text: str,
    message: str,
) -> None:
    reply = _post_text(admin_client, f"{ADMIN}/new", text)
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert message in text_of(html)
    assert "How to fix:" in text_of(html)

    reply = api.post("/workflows", token_for(admin), json={"yaml": text})
    body = reply.get_json()
    assert reply.status_code == 422
    assert all(e["hint"] for e in body["errors"])
    assert any(message in e["message"] for e in body["errors"]), body["errors"]
    assert _count() == 7


def test_html_in_names_is_escaped_in_the_pages_and_the_picture(
    admin_client: FlaskClient, definitions: dict[str, Any]
) -> None:
    evil = NEW_ROUTE.replace("{en: Quick check,", "{en: '<b>Bold</b> route',").replace(
        "{en: Check}", "{en: '<script>alert(1)</script>Check'}"
    )
    checked = _post_text(admin_client, f"{ADMIN}/new", evil, "check")
    assert checked.status_code == 200
    saved = _post_text(admin_client, f"{ADMIN}/new", evil)
    assert saved.status_code == 302
    for html in (
        checked.get_data(as_text=True),
        admin_client.get(saved.headers["Location"]).get_data(as_text=True),
        admin_client.get(ADMIN).get_data(as_text=True),
    ):
        check_page(html, "en")
        assert "<script>alert" not in html
        assert "<b>Bold" not in html
        assert "&lt;b&gt;Bold&lt;/b&gt; route" in html
        for svg in re.findall(r"<svg.*?</svg>", html, re.S):
            assert "&lt;script&gt;alert(1)&lt;/script&gt;Check" in svg
            assert "<script" not in svg


def test_deactivating_stops_new_routes_and_running_ones_go_on(
    admin_client: FlaskClient,
    admin: User,
    org: Org,
    letter: Document,
    make_document: Callable[..., Document],
) -> None:
    running = routing.start(org.clerk, letter, "outgoing_letter")
    db.session.commit()
    url = f"{ADMIN}/outgoing_letter/versions"
    # No CSRF token, no change.
    assert (
        admin_client.post(f"{ADMIN}/outgoing_letter/active", data={"active": "0"}).status_code
        == 400
    )
    assert _latest("outgoing_letter").active

    reply = admin_client.post(
        f"{ADMIN}/outgoing_letter/active",
        data={"csrf_token": csrf_token(admin_client, url), "active": "0"},
    )
    assert reply.status_code == 302
    html = admin_client.get(url).get_data(as_text=True)
    check_page(html, "en")
    words = text_of(html)
    assert "“Outgoing letter” can no longer be started. Routes already running go on." in words
    assert "Inactive" in words
    assert "outgoing_letter" not in [d.code for d in routing.list_definitions()]
    [event] = _audit("workflow.definition_deactivate")
    assert (event.actor_id, event.details) == (admin.id, {"code": "outgoing_letter", "version": 1})

    other = make_document(org.clerk, journal=org.outgoing, title="Second letter")
    db.session.expire_all()
    with pytest.raises(ValidationError):
        routing.start(org.clerk, other, "outgoing_letter")
    db.session.rollback()
    routing.decide(
        org.lawyer, open_task(fresh(WorkflowInstance, running.id), "lawyer").id, "approve"
    )
    db.session.commit()
    assert tasks_of(running)["visas:1:2"].status == "open"

    # A new version of an inactive definition stays inactive.
    reply = _post_text(admin_client, f"{ADMIN}/outgoing_letter/versions/new", LETTER_V2)
    assert reply.status_code == 302
    assert not _latest("outgoing_letter").active

    reply = admin_client.post(
        f"{ADMIN}/outgoing_letter/active",
        data={"csrf_token": csrf_token(admin_client, url), "active": "1"},
    )
    assert reply.status_code == 302
    assert "“Outgoing letter” can be started again." in text_of(
        admin_client.get(url).get_data(as_text=True)
    )
    assert len(_audit("workflow.definition_activate")) == 1
    db.session.expire_all()
    assert routing.start(org.clerk, other, "outgoing_letter").definition.version == 2


# The API ------------------------------------------------------------------------------------


def test_versions_through_the_api(
    api: ApiClient,
    admin: User,
    org: Org,
    letter: Document,
    token_for: Callable[[User], str],
) -> None:
    token = token_for(admin)
    routing.start(org.clerk, letter, "outgoing_letter")
    db.session.commit()

    reply = api.post("/workflows", token, json={"yaml": LETTER})
    assert reply.status_code == 200
    assert reply.get_json()["created"] is False
    assert reply.get_json()["version"] == 1

    reply = api.post("/workflows", token, json={"yaml": LETTER_V2})
    assert reply.status_code == 201
    body = reply.get_json()
    assert {k: body[k] for k in ("code", "version", "created", "active", "created_by")} == {
        "code": "outgoing_letter",
        "version": 2,
        "created": True,
        "active": True,
        "created_by": "root",
    }
    assert body["name"]["en"] == "Outgoing letter"
    assert reply.headers["Location"].endswith("/api/v1/workflows/outgoing_letter/versions/2")

    reply = api.post("/workflows", token, json={"yaml": NEW_ROUTE})  # a new code
    assert reply.status_code == 201
    assert (reply.get_json()["code"], reply.get_json()["version"]) == ("quick_check", 1)

    reply = api.get("/workflows/outgoing_letter/versions", token)
    assert reply.status_code == 200
    assert [(v["version"], v["routes_in_progress"]) for v in reply.get_json()] == [(2, 0), (1, 1)]
    assert "yaml" not in reply.get_json()[0]
    reply = api.get("/workflows/outgoing_letter/versions/1", token)
    assert reply.status_code == 200
    assert reply.get_json()["yaml"] == LETTER
    assert api.get("/workflows/outgoing_letter/versions/3", token).status_code == 404
    assert api.get("/workflows/nothing/versions", token).status_code == 404

    # Running routes keep version 1; new ones start on version 2.
    assert routing.current_instance(letter).definition.version == 1  # type: ignore[union-attr]

    reply = api.post("/workflows/outgoing_letter/active", token, json={"active": False})
    assert reply.status_code == 200
    assert reply.get_json()["active"] is False
    assert "outgoing_letter" not in [d["code"] for d in api.get("/workflows", token).get_json()]
    problem(
        api.post("/workflows/outgoing_letter/active", token, json={"active": "no"}), 422, "active"
    )
    problem(api.post("/workflows/outgoing_letter/active", token, json={}), 422, "active")
    reply = api.post("/workflows/outgoing_letter/active", token, json={"active": True})
    assert reply.get_json()["active"] is True
    assert api.post("/workflows/nothing/active", token, json={"active": True}).status_code == 404
    problem(api.post("/workflows", token, json={}), 422, "_")  # the empty text
    problem(api.post("/workflows", token, json={"yaml": "x", "extra": 1}), 422, "extra")


def test_only_administrators_manage_definitions(
    client: FlaskClient,
    api: ApiClient,
    org: Org,
    definitions: dict[str, Any],
    token_for: Callable[[User], str],
) -> None:
    # Visitors who are not logged in go to the login page.
    reply = client.get(ADMIN)
    assert reply.status_code == 302
    assert "/login" in reply.headers["Location"]

    login(client, org.head)
    token = csrf_token(client, "/documents")
    for method, url in [
        ("GET", ADMIN),
        ("GET", f"{ADMIN}/outgoing_letter/versions"),
        ("GET", f"{ADMIN}/outgoing_letter/versions/1"),
        ("GET", f"{ADMIN}/outgoing_letter/versions/new"),
        ("GET", f"{ADMIN}/new"),
        ("POST", f"{ADMIN}/outgoing_letter/versions/new"),
        ("POST", f"{ADMIN}/new"),
        ("POST", f"{ADMIN}/outgoing_letter/active"),
    ]:
        data = {"csrf_token": token, "yaml": LETTER_V2, "action": "save", "active": "0"}
        reply = client.open(url, method=method, data=data if method == "POST" else None)
        assert reply.status_code == 403, (method, url)
    assert f'href="{ADMIN}"' not in client.get("/documents").get_data(as_text=True)

    bearer = token_for(org.head)
    for reply in (
        api.post("/workflows", bearer, json={"yaml": LETTER_V2}),
        api.get("/workflows/outgoing_letter/versions", bearer),
        api.get("/workflows/outgoing_letter/versions/1", bearer),
        api.get("/workflows/nothing/versions", bearer),  # 403 before 404: nothing given away
        api.post("/workflows/outgoing_letter/active", bearer, json={"active": False}),
    ):
        problem(reply, 403)
    assert _count() == 7
    assert _latest("outgoing_letter").active


# Accessibility and languages ----------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "ru", "uz"])
def test_pages_are_accessible_in_every_language(
    admin_client: FlaskClient, org: Org, definitions: dict[str, Any], locale: str
) -> None:
    _switch(admin_client, locale)
    pages = {
        "list": admin_client.get(ADMIN),
        "versions": admin_client.get(f"{ADMIN}/licence_request/versions"),
        "new version": admin_client.get(f"{ADMIN}/licence_request/versions/new"),
        "new definition": admin_client.get(f"{ADMIN}/new"),
        "check": _post_text(
            admin_client, f"{ADMIN}/licence_request/versions/new", LICENCE, "check"
        ),
        "errors": _post_text(
            admin_client,
            f"{ADMIN}/licence_request/versions/new",
            str(INVALID["quorum too high"].values[0]),
        ),
    }
    for name, reply in pages.items():
        assert reply.status_code == (422 if name == "errors" else 200), name
        html = reply.get_data(as_text=True)
        check_page(html, locale)
        svgs = Page(html).find("svg", role="img")
        assert len(svgs) == (1 if name in ("versions", "check") else 0), name
    words = {name: text_of(reply.get_data(as_text=True)) for name, reply in pages.items()}
    expected = {
        "en": ("Route definitions", "Licence request", "How to fix:"),
        "ru": ("Определения маршрутов", "Заявка на лицензию", "Как исправить:"),
        "uz": ("Marshrut ta’riflari", "Litsenziya arizasi", "Qanday tuzatish kerak:"),
    }[locale]
    assert expected[0] in words["list"]
    assert expected[1] in words["versions"]
    assert expected[2] in words["errors"]
    assert "stages[1].policy.quorum" in words["errors"]


def test_syncing_the_files_keeps_an_administrators_version(
    admin: User, org: Org, definitions: dict[str, Any]
) -> None:
    edited = LETTER.replace("deadline_days: 2", "deadline_days: 3", 1)
    assert edited != LETTER
    row, created = routing.new_version(admin, edited, "outgoing_letter")
    db.session.commit()
    assert created
    kept = {r.code: (r.version, made) for r, made in routing.sync_definitions()}
    assert kept["outgoing_letter"] == (row.version, False)  # the file would undo the edit
    assert _latest("outgoing_letter").source == edited
    forced = {r.code: (r.version, made) for r, made in routing.sync_definitions(force=True)}
    assert forced["outgoing_letter"] == (row.version + 1, True)
    assert _latest("outgoing_letter").source == LETTER
