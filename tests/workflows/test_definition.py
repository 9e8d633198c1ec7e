"""Loading definitions: YAML, JSON Schema, semantic checks, messages, shipped files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows import (
    MAX_TEXT_BYTES,
    DefinitionError,
    Policy,
    load_definition,
)

from .conftest import ATTRIBUTES, DEPARTMENTS, ROLES, definition, stage

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "config" / "workflows").glob("*.yaml"))

GOOD: dict[str, Any] = {
    "code": "outgoing",
    "name": {"en": "Outgoing", "ru": "Исходящее"},
    "stages": [
        {
            "id": "visas",
            "name": {"en": "Visas"},
            "mode": "sequential",
            "assignees": [
                {"role": "approver", "department": "LEGAL"},
                {"head_of": "owner"},
                {"user": "lawyer", "when": "amount > 1000"},
            ],
            "policy": "all",
            "decisions": ["approve", "reject", "return"],
            "deadline_days": 2,
            "remind_days_before": 1,
            "escalation": "notify_supervisor",
        },
        {
            "id": "signature",
            "name": {"en": "Signature"},
            "assignees": [{"head_of": "owner"}],
            "decisions": ["sign", "reject"],
            "on_reject": "visas",
            "when": "type == 'letter'",
        },
    ],
}


def load(data: Any, **kw: Any) -> Any:
    kw.setdefault("roles", ROLES)
    kw.setdefault("departments", DEPARTMENTS)
    kw.setdefault("attributes", ATTRIBUTES)
    return load_definition(yaml.safe_dump(data, allow_unicode=True), "route.yaml", **kw)


def problems_of(data: Any, **kw: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(DefinitionError) as info:
        load(data, **kw)
    return [(p.path, p.message, p.hint) for p in info.value.problems]


def mutated(path: str, value: Any) -> dict[str, Any]:
    """GOOD with ``value`` set at a dotted path (``stages.1.policy``); ``...`` deletes."""
    data = copy.deepcopy(GOOD)
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = data
    for key in keys[:-1]:
        target = target[key]
    if value is ...:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


def test_loads_with_defaults() -> None:
    d = load(GOOD)
    assert d.code == "outgoing"
    assert [s.id for s in d.stages] == ["visas", "signature"]
    visas, signature = d.stages
    assert visas.veto is True
    assert visas.policy == Policy("all")
    assert visas.assignees[0].kind == "role"
    assert visas.assignees[1].kind == "head_of"
    assert visas.assignees[2].when is not None
    assert visas.assignees[2].when.text == "amount > 1000"
    assert signature.mode == "sequential"
    assert signature.signature is True  # sign implies it
    assert signature.escalation == "none"
    assert d.version == 1
    assert d.stage("signature") is signature
    assert d.index("signature") == 1
    assert d.label("ru") == "Исходящее"
    assert d.label("uz") == "Outgoing"


def test_to_dict_loads_back_equal() -> None:
    d = load(GOOD, version=3)
    again = load(d.to_dict(), version=3)
    assert again == d
    assert again.to_dict() == d.to_dict()


def test_any_defaults_to_no_veto() -> None:
    d = definition(stage("a", policy="any"), stage("b", policy={"percent": 50}))
    assert d.stages[0].veto is False
    assert d.stages[1].veto is True


@pytest.mark.parametrize(
    ("assignees", "required"),
    [(3, {"all": 3, "any": 1, "q2": 2, "p50": 2, "p66": 2, "p67": 3, "p100": 3, "p1": 1})],
)
def test_policy_required(assignees: int, required: dict[str, int]) -> None:
    policies = {
        "all": Policy("all"),
        "any": Policy("any"),
        "q2": Policy("quorum", 2),
        "p50": Policy("percent", 50),
        "p66": Policy("percent", 66),
        "p67": Policy("percent", 67),
        "p100": Policy("percent", 100),
        "p1": Policy("percent", 1),
    }
    assert {k: p.required(assignees) for k, p in policies.items()} == required


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_definitions_validate(path: Path) -> None:
    d = load_definition(
        path.read_text(encoding="utf-8"),
        path.name,
        roles=ROLES,
        departments=DEPARTMENTS,
        attributes=ATTRIBUTES,
    )
    assert d.code == path.stem
    for stage_ in d.stages:
        assert set(stage_.name) == {"en", "ru", "uz"}


def test_all_seven_routes_are_shipped() -> None:
    assert [p.stem for p in SHIPPED] == [
        "certificate_request",
        "incoming_letter",
        "licence_request",
        "outgoing_letter",
        "permit_request",
        "signed_document",
        "statistical_report",
    ]


def test_licence_review_is_two_of_three_without_veto() -> None:
    path = next(p for p in SHIPPED if p.stem == "licence_request")
    review = load_definition(path.read_text(encoding="utf-8"), path.name).stages[0]
    assert (review.mode, review.policy, review.veto) == ("parallel", Policy("quorum", 2), False)
    assert len(review.assignees) == 3


# --- problems: each names the path and the fix ---------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        (mutated("stages", []), "stages", "no stages"),
        (mutated("code", "Outgoing Letter"), "code", "not written the right way"),
        (mutated("stages.0.id", "signature"), "stages[1].id", "already used by stages[0]"),
        (mutated("stages.0.id", "end"), "stages[0].id", "reserved"),
        (mutated("stages.0.colour", "red"), "stages[0].colour", "unknown key 'colour'"),
        (mutated("stages.0.policy", "most"), "stages[0].policy", "is not a policy"),
        (mutated("stages.0.policy", {"quorum": 0}), "stages[0].policy", "is not a policy"),
        (mutated("stages.0.mode", "random"), "stages[0].mode", "not one of"),
        (mutated("stages.0.decisions", ["approve", "ok"]), "stages[0].decisions[1]", "not one"),
        (mutated("stages.0.decisions", ["reject"]), "stages[0].decisions", "never complete"),
        (mutated("stages.0.decisions", ["approve", "approve"]), "stages[0].decisions", "twice"),
        (mutated("stages.0.assignees", []), "stages[0].assignees", "no assignees"),
        (mutated("stages.0.deadline_days", 0), "stages[0].deadline_days", "at least 1"),
        (mutated("stages.0.deadline_days", "2"), "stages[0].deadline_days", "whole number"),
        (mutated("stages.0.name", {}), "stages[0].name", "empty"),
        (mutated("stages.0.name", {"EN": "x"}), "stages[0].name", "language key"),
        (mutated("stages.0.decisions", ...), "stages[0].decisions", "'decisions' is missing"),
        (
            mutated("stages.0.remind_days_before", 2),
            "stages[0].remind_days_before",
            "less than deadline_days",
        ),
        (
            mutated("stages.0.deadline_days", ...),
            "stages[0].remind_days_before",
            "needs a deadline",
        ),
        (mutated("stages.1.escalation", "notify_supervisor"), "stages[1].escalation", "deadline"),
        (mutated("stages.1.on_reject", "nowhere"), "stages[1].on_reject", "not a stage"),
        (mutated("stages.1.on_reject", "signature"), "stages[1].on_reject", "earlier stage"),
        (mutated("stages.0.on_reject", "visas"), "stages[0].on_reject", "earlier stage"),
        (
            mutated("stages.1.decisions", ["sign", "return"]),
            "stages[1].on_reject",
            "does not allow reject",
        ),
        (
            mutated("stages.1.signature", False),
            "stages[1].signature",
            "allows sign but says signature: false",
        ),
        (
            mutated("stages.0.decisions", ["acknowledge"]) | {"stages": None},
            "stages",
            "must be a list",
        ),
        (mutated("stages.1.when", "type = 'letter'"), "stages[1].when", "column 6"),
        (mutated("stages.1.when", "tipe == 'letter'"), "stages[1].when", "unknown attribute"),
        (mutated("stages.1.when", "1 > 2"), "stages[1].when", "can never run"),
        (mutated("stages.1.when", "false and type == 'x'"), "stages[1].when", "always false"),
        (mutated("stages.0.assignees.0.role", "approvr"), "stages[0].assignees[0].role", "unknown"),
        (
            mutated("stages.0.assignees.0.department", "LEGL"),
            "stages[0].assignees[0].department",
            "unknown department",
        ),
        (
            mutated("stages.0.assignees.1.head_of", "NOPE"),
            "stages[0].assignees[1].head_of",
            "unknown department",
        ),
        (
            mutated("stages.0.assignees.0", {"role": "approver"}),
            "stages[0].assignees[0].role",
            "needs a department",
        ),
        (
            mutated("stages.0.assignees.0", {"department": "LEGAL"}),
            "stages[0].assignees[0]",
            "not none of them",
        ),
        (
            mutated("stages.0.assignees.0", {"user": "a", "head_of": "owner"}),
            "stages[0].assignees[0]",
            "user and head_of together",
        ),
        (
            mutated("stages.0.assignees.2.when", "1 == 2"),
            "stages[0].assignees[2].when",
            "never used",
        ),
    ],
)
def test_problems(data: Any, path: str, fragment: str) -> None:
    found = problems_of(data)
    matching = [p for p in found if p[0] == path]
    assert matching, f"no problem at {path}: {found}"
    assert any(fragment in message for _, message, _ in matching), matching


def test_signature_without_a_signed_decision() -> None:
    data = mutated("stages.0.signature", True)
    data["stages"][0]["decisions"] = ["acknowledge"]
    found = problems_of(data)
    assert any("no decision carries one" in m for _, m, _ in found)


def test_quorum_larger_than_possible() -> None:
    data = mutated("stages.1.policy", {"quorum": 3})
    data["stages"][1]["assignees"] = [{"user": "a"}, {"user": "a"}, {"head_of": "owner"}]
    ((path, message, hint),) = problems_of(data)
    assert path == "stages[1].policy.quorum"
    assert "quorum 3 is more than the 2 assignee(s)" in message
    assert "at most 2" in hint
    # With a role the count is open: the engine checks it when the stage starts.
    data["stages"][1]["assignees"].append({"role": "approver", "department": "LEGAL"})
    assert load(data).stages[1].policy.value == 3


def test_unknown_names_are_allowed_without_a_list() -> None:
    data = mutated("stages.1.when", "colour == 'red'")
    data["stages"][0]["assignees"][0]["role"] = "anything"
    load(data, attributes=None, roles=None)


def test_message_names_file_line_path_and_fix() -> None:
    text = yaml.safe_dump(mutated("stages.1.on_reject", "visa"), sort_keys=False)
    with pytest.raises(DefinitionError) as info:
        load_definition(text, "outgoing_letter.yaml")
    error = info.value
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "on_reject" in t)
    assert error.source == "outgoing_letter.yaml"
    assert error.path == "stages[1].on_reject"
    assert error.problems[0].line == line
    assert "did you mean 'visas'" in error.hint
    assert str(error).startswith(f"outgoing_letter.yaml: line {line}, stages[1].on_reject: ")
    assert "(fix: " in str(error)


def test_all_problems_are_reported_together() -> None:
    data = mutated("stages.0.assignees.0.role", "boss")
    data["stages"][1]["when"] = "x =="
    with pytest.raises(DefinitionError) as info:
        load(data)
    assert len(info.value.problems) == 2
    assert "2 problems" in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("# nothing\n", "empty"),
        ("- a\n- b\n", "must be a mapping"),
        ("code: [unclosed\n", "not valid YAML"),
        ("code: a\n---\ncode: b\n", "not valid YAML"),
        ("code: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("a: &x [*x]\n", "aliases"),
        ("code: a\ncode: b\n", "appears twice"),
        ("? [a]\n: b\n", "plain text"),
        ("code: 2026-02-30\n", "not valid YAML"),
        ("[" * 1500 + "]" * 1500, "nested too deeply"),
        ("x" * (MAX_TEXT_BYTES + 1), "larger than the 256 KB"),
    ],
)
def test_bad_yaml(text: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as info:
        load_definition(text, "bad.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("bad.yaml")


def test_yaml_error_has_the_line() -> None:
    with pytest.raises(DefinitionError) as info:
        load_definition("code: a\nname:\n  en: [x\n", "bad.yaml")
    assert info.value.problems[0].line is not None
    assert info.value.problems[0].line >= 3


def test_not_text() -> None:
    with pytest.raises(DefinitionError):
        load_definition(b"code: a", "bytes.yaml")  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------

YAML_BITS = st.sampled_from(
    ["code: ", "name: ", "stages:", "\n", "  ", "- ", "id: a", "{", "}", "[", "]", ": ", "&a ",
     "*a", "!!", "'", '"', "#", "?", "|", ">", "en: x", "assignees:", "decisions: [approve]",
     "policy: ", "quorum: 2", "when: ", "\t", "%YAML 1.1\n", "---\n", "..."]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(YAML_BITS, max_size=40).map("".join)))
def test_arbitrary_text_raises_only_definition_error(text: str) -> None:
    try:
        load_definition(text, "fuzz.yaml", roles=ROLES, attributes=ATTRIBUTES)
    except DefinitionError as exc:
        error = exc
    else:
        return
    assert error.problems
    assert str(error).startswith("fuzz.yaml")


JSONISH = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.sampled_from(["a", "approve", "all", "owner", "LEGAL", "x == 1", "end", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["id", "name", "en", "assignees", "role", "user", "decisions", "policy",
                 "quorum", "when", "on_reject", "department", "head_of", "mode"]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JSONISH, max_size=3), st.sampled_from(["c", "Bad code"]))
def test_arbitrary_structures_raise_only_definition_error(stages: list[Any], code: str) -> None:
    data = {"code": code, "name": {"en": "x"}, "stages": stages}
    try:
        load(data)
    except DefinitionError as exc:
        error = exc
    else:
        return
    assert error.problems
