"""Random definitions driven by random events never break the engine's invariants."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from workflows import (
    Cancel,
    Decide,
    Definition,
    Engine,
    Finished,
    InstanceState,
    InvalidEvent,
    Notify,
    Reassign,
    Resubmit,
    Result,
    TaskClosed,
    TaskOpened,
    Tick,
)

from .conftest import NOW, definition, make_resolver

USERS = ["u1", "u2", "u3", "u4", "u5", "boss", "author", "stranger"]
TABLE = {
    "approver@A": ["u1", "u2"],
    "approver@B": ["u3"],
    "approver@C": ["u1", "u4", "u5"],
    "approver@EMPTY": [],
    "head@owner": ["boss"],
    "head@A": ["u2"],
}
CONDITIONS = [
    "type == 'licence'",
    "amount > 1000",
    "confidentiality != 'confidential'",
    "type in ['letter', 'licence']",
    "not (amount <= 10) or type == 'report'",
]
ALL_DECISIONS = ["approve", "reject", "return", "acknowledge", "sign"]
LEGAL = {
    "running",
    "returned",
    "approved",
    "rejected",
    "cancelled",
}

SPECS = st.one_of(
    st.sampled_from(["u1", "u2", "u3", "boss"]).map(lambda u: {"user": u}),
    st.sampled_from(["A", "B", "C", "EMPTY"]).map(lambda d: {"role": "approver", "department": d}),
    st.sampled_from(["owner", "A"]).map(lambda d: {"head_of": d}),
)


@st.composite
def spec_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    specs = draw(st.lists(SPECS, min_size=1, max_size=4))
    for spec in specs:
        if draw(st.integers(0, 4)) == 0:
            spec["when"] = draw(st.sampled_from(CONDITIONS))
    return specs


def most(specs: list[dict[str, Any]]) -> int | None:
    if any("role" in s for s in specs):
        return None
    return len({s["user"] for s in specs if "user" in s}) + len(
        {s["head_of"] for s in specs if "head_of" in s}
    )


@st.composite
def definitions(draw: st.DrawFn) -> Definition:
    stages: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 5))):
        specs = draw(spec_lists())
        flavour = draw(st.sampled_from(["approve", "acknowledge", "sign"]))
        extra = draw(st.lists(st.sampled_from(["reject", "return"]), unique=True))
        if flavour == "acknowledge":
            decisions = ["acknowledge", *extra]
        elif flavour == "sign":
            decisions = ["sign", *extra] + (["approve"] if draw(st.booleans()) else [])
        else:
            decisions = ["approve", *extra]
        raw: dict[str, Any] = {
            "id": f"s{i}",
            "name": {"en": f"Stage {i}"},
            "mode": draw(st.sampled_from(["sequential", "parallel"])),
            "assignees": specs,
            "decisions": decisions,
        }
        policy = draw(st.sampled_from(["all", "any", "quorum", "percent", None]))
        if policy in ("all", "any"):
            raw["policy"] = policy
        elif policy == "quorum":
            limit = most(specs)
            raw["policy"] = {"quorum": draw(st.integers(1, max(1, min(3, limit or 3))))}
        elif policy == "percent":
            raw["policy"] = {"percent": draw(st.integers(1, 100))}
        if draw(st.booleans()):
            raw["veto"] = draw(st.booleans())
        if flavour == "sign" or draw(st.integers(0, 3)) == 0:
            raw["signature"] = True
            if flavour == "acknowledge":
                raw["decisions"].append("approve")
        if "reject" in decisions and i and draw(st.booleans()):
            raw["on_reject"] = f"s{draw(st.integers(0, i - 1))}"
        if draw(st.booleans()):
            deadline = draw(st.integers(1, 5))
            raw["deadline_days"] = deadline
            if deadline > 1 and draw(st.booleans()):
                raw["remind_days_before"] = draw(st.integers(1, deadline - 1))
            raw["escalation"] = draw(
                st.sampled_from(["notify_supervisor", "reassign_to_supervisor", "none"])
            )
        if draw(st.integers(0, 3)) == 0:
            raw["when"] = draw(st.sampled_from(CONDITIONS))
        stages.append(raw)
    return definition(*stages)


CONTEXTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["letter", "licence", "report"]),
        "amount": st.integers(0, 5000),
        "confidentiality": st.sampled_from(["public", "confidential"]),
    }
)


class Model:
    """The open tasks as edms would know them from the effects alone."""

    def __init__(self) -> None:
        self.open: dict[str, str] = {}
        self.closed: set[str] = set()

    def apply(self, effects: list[Any]) -> None:
        for effect in effects:
            if isinstance(effect, TaskOpened):
                task = effect.task
                assert task.id not in self.closed, f"{task.id} reopened"
                if task.id in self.open:
                    assert self.open[task.id] != task.assignee, "opened twice, not moved"
                assert task.status == "open"
                self.open[task.id] = task.assignee
            elif isinstance(effect, TaskClosed):
                assert effect.task_id in self.open, f"{effect.task_id} closed but not open"
                del self.open[effect.task_id]
                self.closed.add(effect.task_id)


def check(d: Definition, before: InstanceState | None, result: Result, model: Model) -> None:
    state = result.state
    assert state.status in LEGAL
    open_tasks = state.open_tasks()
    if state.status != "running":
        assert open_tasks == []
    for task in open_tasks:
        assert task.stage_id == state.stage_id
        assert task.round == state.round
        assert task.assignee
        assert task.opened_at is not None
    if state.stage_id is not None and state.status == "running":
        if d.stage(state.stage_id).mode == "sequential":
            assert len(open_tasks) <= 1
        assert open_tasks, "a running instance has something to do"
    for task_id, task in state.tasks.items():
        assert task_id == task.id == f"{task.stage_id}:{task.round}:{task_id.rsplit(':', 1)[1]}"
        assert task.status in ("waiting", "open", "done", "cancelled")
        if task.status == "waiting":
            assert (task.stage_id, task.round) == (state.stage_id, state.round)
        assert task.round <= state.round
        assert (task.status == "done") == (task.decision is not None)
    if before is not None:
        # Nothing lost; history is never rewritten.
        for task_id, old in before.tasks.items():
            assert task_id in state.tasks
            if old.status in ("done", "cancelled"):
                assert state.tasks[task_id] == old
        assert state.round >= before.round
    model.apply(result.effects)
    assert model.open == {t.id: t.assignee for t in open_tasks}
    finished = [e for e in result.effects if isinstance(e, Finished)]
    if state.finished and (before is None or not before.finished):
        assert finished == [Finished(state.status)]
    else:
        assert finished == []
    data = state.to_dict()
    assert InstanceState.from_dict(json.loads(json.dumps(data))) == state


def positive(d: Definition, task_id: str, state: InstanceState) -> Decide:
    task = state.tasks[task_id]
    stage = d.stage(task.stage_id)
    decision = next(x for x in ("approve", "sign", "acknowledge") if x in stage.decisions)
    return Decide(task_id, task.assignee, decision, signature="sig")


def random_event(data: st.DataObject, d: Definition, state: InstanceState) -> Any:
    kind = data.draw(
        st.sampled_from(
            ["decide", "decide", "decide", "decide", "stranger", "tick", "reassign",
             "cancel", "resubmit", "resubmit"]
        )
    )  # fmt: skip
    if state.status == "returned" and data.draw(st.booleans()):
        kind = "resubmit"
    open_tasks = state.open_tasks()
    if kind == "decide" and open_tasks:
        task = data.draw(st.sampled_from(open_tasks))
        stage = d.stage(task.stage_id)
        decision = data.draw(st.sampled_from(stage.decisions))
        actor = task.on_behalf_of if task.on_behalf_of and data.draw(st.booleans()) else None
        return_to = None
        if decision == "return" and data.draw(st.booleans()):
            return_to = data.draw(st.sampled_from([s.id for s in d.stages]))
        signature = "sig" if data.draw(st.integers(0, 5)) else None
        return Decide(task.id, actor or task.assignee, decision, "c", return_to, signature)
    if kind == "stranger":
        task_id = data.draw(st.sampled_from([*state.tasks, "nope:1:1"]))
        return Decide(
            task_id,
            data.draw(st.sampled_from(USERS)),
            data.draw(st.sampled_from(ALL_DECISIONS)),
            signature="sig",
        )
    if kind == "reassign" and state.tasks:
        task_id = data.draw(st.sampled_from(list(state.tasks)))
        return Reassign(task_id, data.draw(st.sampled_from(USERS)), "test")
    if kind == "cancel" and data.draw(st.integers(0, 3)) == 0:
        return Cancel(data.draw(st.sampled_from(["author", "admin"])), "test")
    if kind == "resubmit":
        actor = "author" if data.draw(st.integers(0, 3)) else "u1"
        context = data.draw(st.none() | CONTEXTS)
        return Resubmit(actor, context)
    return Tick()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(d=definitions(), context=CONTEXTS, data=st.data())
def test_random_events_keep_the_invariants_and_approvals_terminate(
    d: Definition, context: dict[str, Any], data: st.DataObject
) -> None:
    engine = Engine(d, make_resolver(TABLE))
    try:
        result = engine.start(context, NOW, "author")
    except InvalidEvent as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert "cannot start" in refused
        event("start refused")
        return
    model = Model()
    check(d, None, result, model)
    state = result.state
    now = NOW
    for _ in range(data.draw(st.integers(0, 40))):
        event_ = random_event(data, d, state)
        if isinstance(event_, Tick):
            now += timedelta(hours=data.draw(st.integers(0, 72)))
        before = state.to_dict()
        try:
            result = engine.apply(state, event_, now)
        except InvalidEvent:
            assert state.to_dict() == before  # refused: nothing changed
            event(f"refused {type(event_).__name__}")
            continue
        event(f"applied {type(event_).__name__} -> {result.state.status}")
        assert state.to_dict() == before  # the given state is never changed
        check(d, state, result, model)
        state = result.state

    # Termination: when everyone approves, the instance ends in a bounded number of steps.
    bound = sum(len(USERS) + 2 for _ in d.stages) + 2
    for _ in range(bound):
        if state.finished:
            break
        if state.status == "returned":
            step: Any = Resubmit("author")
        else:
            step = positive(d, state.open_tasks()[0].id, state)
        result = engine.apply(state, step, now)
        check(d, state, result, model)
        if state.status == "returned" and result.state.status == "returned":
            # A stage nobody can staff stays returned until edms fixes it or cancels.
            assert any(isinstance(e, Notify) and e.kind == "no_assignees" for e in result.effects)
            state = result.state
            result = engine.apply(state, Cancel("author"), now)
            check(d, state, result, model)
            state = result.state
            break
        state = result.state
    assert state.finished
    assert state.open_tasks() == []
    assert model.open == {}
    event(f"ended {state.status} in round {min(state.round, 3)}")


@pytest.mark.parametrize("seed", range(3))
def test_every_shipped_route_finishes_when_all_approve(seed: int) -> None:
    from pathlib import Path

    from workflows import load_definition

    table = {
        "approver@LEGAL": ["l1", "l2"][: seed + 1],
        "approver@LICENSING": ["lic"],
        "approver@STATS": ["st"],
        "approver@owner": ["e1", "e2"],
        "clerk@owner": ["c1"],
        "clerk@CHANCERY": ["k1", "k2"],
        "head@owner": ["head"],
        "head@MIN": ["minister"],
    }
    config = Path(__file__).resolve().parents[2] / "config" / "workflows"
    for path in sorted(config.glob("*.yaml")):
        d = load_definition(path.read_text(encoding="utf-8"), path.name)
        engine = Engine(d, make_resolver(table))
        state = engine.start({"type": "letter"}, NOW, "author").state
        for _ in range(50):
            if state.finished:
                break
            state = engine.apply(state, positive(d, state.open_tasks()[0].id, state), NOW).state
        assert state.status == "approved", path.name
