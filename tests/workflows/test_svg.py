"""The route picture: valid XML, escaped text, current stage and decisions shown."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import Decide, Engine, InstanceState, Reassign, render_svg

from .conftest import NOW, Resolve, definition, stage

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def stage_groups(root: ET.Element) -> dict[str, ET.Element]:
    return {
        g.attrib["id"].rsplit("-stage-", 1)[1]: g
        for g in root.iter(f"{SVG}g")
        if "-stage-" in g.attrib.get("id", "")
    }


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


@pytest.fixture
def route() -> object:
    return definition(
        stage("visas", name={"en": "Visas", "ru": "Визы"},
              assignees=[{"user": "p"}, {"user": "q"}]),
        stage("review", mode="parallel", policy={"quorum": 2}, veto=False,
              assignees=[{"user": "r"}, {"user": "s"}, {"user": "t"}], on_reject="visas",
              deadline_days=3),
        stage("sign", decisions=["sign", "reject"], assignees=[{"head_of": "owner"}],
              when="amount > 10"),
    )  # fmt: skip


def test_definition_only(route: object) -> None:
    svg = render_svg(route)  # type: ignore[arg-type]
    root = parse(svg)
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-labelledby"] == "wf-test_route-title wf-test_route-desc"
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}desc") is not None
    groups = stage_groups(root)
    assert list(groups) == ["visas", "review", "sign"]
    assert {g.attrib["data-status"] for g in groups.values()} == {"pending"}
    assert any("head of owning department" in t for t in texts(groups["sign"]))
    assert any("if amount > 10" in t for t in texts(groups["sign"]))
    assert any("quorum 2" in t for t in texts(groups["review"]))
    assert any("on reject" in t for t in texts(root))
    assert "<script" not in svg


def test_state_marks_the_current_stage_and_decisions(route: object, resolve: Resolve) -> None:
    engine = Engine(route, resolve)  # type: ignore[arg-type]
    state = engine.start({"amount": 100}, NOW, "author").state
    for task_id, actor, decision in [
        ("visas:1:1", "p", "approve"),
        ("visas:1:2", "q", "approve"),
        ("review:1:1", "r", "reject"),
    ]:
        state = engine.apply(state, Decide(task_id, actor, decision), NOW).state
    state = engine.apply(state, Reassign("review:1:2", "deputy"), NOW).state
    root = parse(render_svg(route, state))  # type: ignore[arg-type]
    groups = stage_groups(root)
    assert groups["visas"].attrib["data-status"] == "completed"
    assert groups["review"].attrib["data-status"] == "current"
    assert groups["sign"].attrib["data-status"] == "pending"
    current_rect = groups["review"].find(f"{SVG}rect")
    other_rect = groups["sign"].find(f"{SVG}rect")
    assert current_rect is not None
    assert other_rect is not None
    assert float(current_rect.attrib["stroke-width"]) > float(other_rect.attrib["stroke-width"])
    review = texts(groups["review"])
    # Each decision has a symbol and a word, not a colour alone.
    assert "✗ r — rejected" in review
    assert "● deputy (for s) — to decide" in review
    assert "▶ current stage" in review
    assert "✓ p — approved" in texts(groups["visas"])
    title = root.find(f"{SVG}title")
    assert title is not None
    assert "in progress" in (title.text or "")


def test_languages(route: object) -> None:
    root = parse(render_svg(route, labels_lang="ru"))  # type: ignore[arg-type]
    assert root.attrib["lang"] == "ru"
    assert any("Визы" in t for t in texts(root))
    assert any("не начат" in t for t in texts(root))
    assert parse(render_svg(route, labels_lang="xx")).attrib["lang"] == "en"  # type: ignore[arg-type]


def test_text_is_escaped(resolve: Resolve) -> None:
    evil = "<script>alert('x')</script> & \"q\""
    d = definition(
        stage("a", name={"en": evil}, assignees=[{"user": "<b>bob</b>"}],
              when="type == '</text><script>'"),
    )  # fmt: skip
    state = Engine(d, resolve).start({"type": "</text><script>"}, NOW, "author").state
    for s in (None, state):
        svg = render_svg(d, s)
        root = parse(svg)
        assert "<script" not in svg
        assert not list(root.iter(f"{SVG}script"))
        assert any("<script>" in t for t in texts(root))
        assert any("<b>bob</b>" in t for t in texts(root))


def test_finished_and_skipped(resolve: Resolve) -> None:
    d = definition(stage("a"), stage("b", when="amount > 1"), stage("c", when="amount > 1"))
    engine = Engine(d, resolve)
    state = engine.start({"amount": 0}, NOW, "author").state
    state = engine.apply(state, Decide("a:1:1", "alice", "approve"), NOW).state
    groups = stage_groups(parse(render_svg(d, state)))
    assert [g.attrib["data-status"] for g in groups.values()] == [
        "completed",
        "skipped",
        "skipped",
    ]
    rejected = engine.start({"amount": 5}, NOW, "author").state
    rejected = engine.apply(rejected, Decide("a:1:1", "alice", "reject"), NOW).state
    groups = stage_groups(parse(render_svg(d, rejected)))
    assert groups["a"].attrib["data-status"] == "stage_rejected"
    assert groups["b"].attrib["data-status"] == "pending"
    everything_skipped = definition(stage("a", when="amount > 1"))
    state = Engine(everything_skipped, resolve).start({}, NOW, "author").state
    groups = stage_groups(parse(render_svg(everything_skipped, state)))
    assert groups["a"].attrib["data-status"] == "skipped"


@settings(max_examples=100, deadline=None)
@given(name=st.text(max_size=80), user=st.text(min_size=1, max_size=40))
def test_any_text_gives_valid_xml(name: str, user: str) -> None:
    d = definition(stage("a", name={"en": name or "x"}))
    state = InstanceState.from_dict(
        {
            "format": 1,
            "definition_code": d.code,
            "definition_version": 1,
            "status": "running",
            "stage_id": "a",
            "round": 1,
            "author": "author",
            "context": {},
            "tasks": [
                {
                    "id": "a:1:1", "stage_id": "a", "round": 1, "assignee": user,
                    "status": "open", "on_behalf_of": None, "decision": None, "comment": "",
                    "decided_by": None, "decided_at": None, "signature": None,
                    "opened_at": None, "due_at": None, "reminded": False, "escalated": False,
                }
            ],
        }
    )  # fmt: skip
    parse(render_svg(d, state))
