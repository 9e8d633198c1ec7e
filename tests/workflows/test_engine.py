"""The engine's rules, one by one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workflows import (
    Calendar,
    Cancel,
    Decide,
    Definition,
    Effect,
    Engine,
    Escalate,
    Finished,
    InstanceState,
    InvalidEvent,
    InvalidState,
    Notify,
    Reassign,
    Remind,
    Resubmit,
    Result,
    SignatureRequired,
    TaskClosed,
    TaskOpened,
    Tick,
    load_definition,
)

from .conftest import NOW, Resolve, definition, make_resolver, stage

CONFIG = Path(__file__).resolve().parents[2] / "config" / "workflows"


def kinds(effects: list[Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


def opened(result: Result) -> list[tuple[str, str]]:
    return [(e.task.id, e.task.assignee) for e in result.effects if isinstance(e, TaskOpened)]


def closed(result: Result) -> list[tuple[str, str]]:
    return [(e.task_id, e.reason) for e in result.effects if isinstance(e, TaskClosed)]


def notices(result: Result) -> list[tuple[str, str]]:
    return [(e.user, e.kind) for e in result.effects if isinstance(e, Notify)]


class Driver:
    """Applies events in turn, keeping the latest state."""

    def __init__(self, d: Definition, resolve: Resolve, context: dict[str, Any] | None = None):
        self.engine = Engine(d, resolve, Calendar())
        self.now = NOW
        self.result = self.engine.start(context or {}, self.now, "author")
        self.state = self.result.state

    def __call__(self, event: Any) -> Result:
        self.result = self.engine.apply(self.state, event, self.now)
        self.state = self.result.state
        return self.result

    def decide(self, task_id: str, decision: str = "approve", **kw: Any) -> Result:
        actor = kw.pop("actor", None) or self.state.tasks[task_id].assignee
        return self(Decide(task_id, actor, decision, **kw))

    def status(self, task_id: str) -> str:
        return self.state.tasks[task_id].status


# --- stages and policies ------------------------------------------------------------


def test_sequential_opens_one_task_at_a_time_in_order(resolve: Resolve) -> None:
    d = definition(
        stage("visas", assignees=[{"user": "a"}, {"user": "b"}, {"user": "c"}]),
        stage("sign", assignees=[{"user": "boss"}]),
    )
    run = Driver(d, resolve)
    assert opened(run.result) == [("visas:1:1", "a")]
    assert [t.status for t in run.state.tasks.values()] == ["open", "waiting", "waiting"]
    assert opened(run.decide("visas:1:1")) == [("visas:1:2", "b")]
    assert opened(run.decide("visas:1:2")) == [("visas:1:3", "c")]
    result = run.decide("visas:1:3")
    assert opened(result) == [("sign:1:1", "boss")]
    assert run.state.stage_id == "sign"
    result = run.decide("sign:1:1")
    assert run.state.status == "approved"
    assert kinds(result.effects) == ["TaskClosed", "Finished", "Notify"]
    assert notices(result) == [("author", "approved")]


def test_parallel_opens_all_at_once(resolve: Resolve) -> None:
    d = definition(
        stage("review", mode="parallel", assignees=[{"role": "approver", "department": "LEGAL"},
                                                    {"user": "x"}]),
    )  # fmt: skip
    run = Driver(d, resolve)
    assert opened(run.result) == [
        ("review:1:1", "lawyer1"),
        ("review:1:2", "lawyer2"),
        ("review:1:3", "x"),
    ]
    run.decide("review:1:2")
    run.decide("review:1:1")
    assert run.state.status == "running"
    run.decide("review:1:3")
    assert run.state.status == "approved"


def test_any_completes_on_first_approve_and_closes_the_rest(resolve: Resolve) -> None:
    d = definition(
        stage("a", mode="parallel", policy="any", assignees=[{"user": "p"}, {"user": "q"},
                                                             {"user": "r"}]),
        stage("b", assignees=[{"user": "boss"}]),
    )  # fmt: skip
    run = Driver(d, resolve)
    result = run.decide("a:1:2")
    assert closed(result) == [
        ("a:1:2", "decided"),
        ("a:1:1", "not needed"),
        ("a:1:3", "not needed"),
    ]
    assert run.status("a:1:1") == "cancelled"
    assert opened(result) == [("b:1:1", "boss")]


def test_any_without_veto_goes_on_after_a_reject(resolve: Resolve) -> None:
    d = definition(stage("a", policy="any", assignees=[{"user": "p"}, {"user": "q"}]))
    run = Driver(d, resolve)
    assert opened(run.decide("a:1:1", "reject")) == [("a:1:2", "q")]  # sequential: next one
    run.decide("a:1:2", "reject")
    assert run.state.status == "rejected"


def test_quorum_without_veto(resolve: Resolve) -> None:
    three = [{"user": "p"}, {"user": "q"}, {"user": "r"}]
    d = definition(stage("a", mode="parallel", policy={"quorum": 2}, veto=False, assignees=three))
    run = Driver(d, resolve)
    run.decide("a:1:1", "reject")
    assert run.state.status == "running"  # a reject only counts against the quorum
    run.decide("a:1:2")
    assert run.state.status == "running"
    result = run.decide("a:1:3")
    assert run.state.status == "approved"
    assert closed(result) == [("a:1:3", "decided")]

    run = Driver(d, resolve)
    run.decide("a:1:1", "reject")
    result = run.decide("a:1:3", "reject")  # 2 of 3 can no longer be reached
    assert run.state.status == "rejected"
    assert closed(result) == [("a:1:3", "decided"), ("a:1:2", "not needed")]


def test_quorum_with_veto(resolve: Resolve) -> None:
    three = [{"user": "p"}, {"user": "q"}, {"user": "r"}]
    d = definition(stage("a", mode="parallel", policy={"quorum": 2}, assignees=three))
    run = Driver(d, resolve)
    run.decide("a:1:1")
    result = run.decide("a:1:2", "reject")
    assert run.state.status == "rejected"
    assert closed(result) == [("a:1:2", "decided"), ("a:1:3", "not needed")]


def test_percent(resolve: Resolve) -> None:
    three = [{"user": "p"}, {"user": "q"}, {"user": "r"}]
    d = definition(stage("a", mode="parallel", policy={"percent": 50}, assignees=three))
    run = Driver(d, resolve)
    run.decide("a:1:1")
    assert run.state.status == "running"
    run.decide("a:1:3")
    assert run.state.status == "approved"


def test_all_with_veto_rejects_on_one_reject(resolve: Resolve) -> None:
    d = definition(stage("a", assignees=[{"user": "p"}, {"user": "q"}]), stage("b"))
    run = Driver(d, resolve)
    result = run.decide("a:1:1", "reject", comment="no")
    assert run.state.status == "rejected"
    assert run.status("a:1:2") == "cancelled"
    assert kinds(result.effects) == ["TaskClosed", "Finished", "Notify"]
    assert notices(result) == [("author", "rejected")]
    assert run.state.tasks["a:1:1"].comment == "no"


def test_on_reject_goes_back_with_a_new_round(resolve: Resolve) -> None:
    d = definition(
        stage("visas", assignees=[{"user": "lawyer"}]),
        stage("sign", assignees=[{"user": "boss"}], on_reject="visas"),
    )
    run = Driver(d, resolve)
    run.decide("visas:1:1")
    result = run.decide("sign:1:1", "reject")
    assert (run.state.status, run.state.stage_id, run.state.round) == ("running", "visas", 2)
    assert opened(result) == [("visas:2:1", "lawyer")]
    run.decide("visas:2:1")
    run.decide("sign:2:1")
    assert run.state.status == "approved"
    assert list(run.state.tasks) == ["visas:1:1", "sign:1:1", "visas:2:1", "sign:2:1"]


def test_acknowledge_only_stage_completes_when_all_acknowledge(resolve: Resolve) -> None:
    d = definition(
        stage("read", mode="parallel", decisions=["acknowledge"],
              assignees=[{"user": "p"}, {"user": "q"}]),
    )  # fmt: skip
    run = Driver(d, resolve)
    with pytest.raises(InvalidEvent, match="allows acknowledge, not 'approve'"):
        run.decide("read:1:1", "approve")
    run.decide("read:1:1", "acknowledge")
    assert run.state.status == "running"
    run.decide("read:1:2", "acknowledge")
    assert run.state.status == "approved"


# --- conditions ---------------------------------------------------------------------


def test_when_skips_stages_and_assignees(resolve: Resolve) -> None:
    d = definition(
        stage("big", when="amount > 1000", assignees=[{"user": "cfo"}]),
        stage("visas", assignees=[
            {"user": "lawyer", "when": "confidentiality != 'confidential'"},
            {"user": "boss"},
        ]),
    )  # fmt: skip
    run = Driver(d, resolve, {"amount": 10, "confidentiality": "confidential"})
    assert run.state.stage_id == "visas"
    assert opened(run.result) == [("visas:1:1", "boss")]
    run = Driver(d, resolve, {"amount": 5000})
    assert opened(run.result) == [("big:1:1", "cfo")]
    run.decide("big:1:1")
    assert opened(run.result) == [("visas:1:1", "lawyer")]


def test_every_stage_skipped_is_approved_at_once(resolve: Resolve) -> None:
    d = definition(stage("a", when="amount > 1"), stage("b", when="amount > 2"))
    run = Driver(d, resolve, {"amount": 0})
    assert (run.state.status, run.state.stage_id) == ("approved", None)
    assert kinds(run.result.effects) == ["Finished", "Notify"]


# --- return and resubmit ------------------------------------------------------------


def test_return_to_the_author_and_resubmit(resolve: Resolve) -> None:
    d = definition(
        stage("visas", assignees=[{"user": "p"}]),
        stage("review", mode="parallel", assignees=[{"user": "q"}, {"user": "r"}]),
    )
    run = Driver(d, resolve)
    run.decide("visas:1:1")
    result = run.decide("review:1:1", "return", comment="fix page 2")
    assert (run.state.status, run.state.stage_id) == ("returned", "review")
    assert closed(result) == [("review:1:1", "decided"), ("review:1:2", "returned")]
    note = [e for e in result.effects if isinstance(e, Notify)]
    assert note == [
        Notify(
            "author",
            "returned",
            {"stage_id": "review", "task_id": "review:1:1", "by": "q", "comment": "fix page 2"},
        )
    ]
    assert run.state.open_tasks() == []
    with pytest.raises(InvalidEvent, match="not running"):
        run.decide("review:1:2")
    with pytest.raises(InvalidEvent, match="only the author"):
        run(Resubmit("q"))
    assert run(Tick()).effects == []
    result = run(Resubmit("author"))
    assert (run.state.status, run.state.stage_id, run.state.round) == ("running", "review", 2)
    assert opened(result) == [("review:2:1", "q"), ("review:2:2", "r")]
    with pytest.raises(InvalidEvent, match="not returned"):
        run(Resubmit("author"))


def test_resubmit_with_new_attributes(resolve: Resolve) -> None:
    d = definition(
        stage("a", assignees=[{"user": "p"}]),
        stage("big", when="amount > 1000", assignees=[{"user": "cfo"}]),
    )
    run = Driver(d, resolve, {"amount": 1})
    run.decide("a:1:1", "return")
    run(Resubmit("author", context={"amount": 5000}))
    assert run.state.context == {"amount": 5000}
    run.decide("a:2:1")
    assert run.state.stage_id == "big"


def test_return_to_an_earlier_stage_restarts_it_at_once(resolve: Resolve) -> None:
    d = definition(
        stage("draft", assignees=[{"user": "p"}]),
        stage("visas", assignees=[{"user": "q"}]),
        stage("sign", assignees=[{"user": "boss"}]),
    )
    run = Driver(d, resolve)
    run.decide("draft:1:1")
    run.decide("visas:1:1")
    for bad in ("sign", "nowhere"):
        with pytest.raises(InvalidEvent, match="earlier stage"):
            run.decide("sign:1:1", "return", return_to=bad)
    with pytest.raises(InvalidEvent, match="goes with the decision return"):
        run.decide("sign:1:1", "approve", return_to="draft")
    result = run.decide("sign:1:1", "return", return_to="visas")
    assert (run.state.status, run.state.stage_id, run.state.round) == ("running", "visas", 2)
    assert opened(result) == [("visas:2:1", "q")]
    assert notices(result) == []


def test_return_not_allowed_by_the_stage(resolve: Resolve) -> None:
    run = Driver(definition(stage("a", decisions=["approve", "reject"])), resolve)
    with pytest.raises(InvalidEvent, match="not 'return'"):
        run.decide("a:1:1", "return")


# --- signatures ---------------------------------------------------------------------


def test_signature_stage(resolve: Resolve) -> None:
    d = definition(stage("sign", decisions=["approve", "sign", "reject"], signature=True,
                         assignees=[{"user": "boss"}, {"user": "deputy"}]))  # fmt: skip
    run = Driver(d, resolve)
    assert kinds(run.result.effects) == ["TaskOpened", "SignatureRequired"]
    for decision in ("approve", "sign"):
        for missing in (None, "", "  "):
            with pytest.raises(InvalidEvent, match="needs a signature"):
                run.decide("sign:1:1", decision, signature=missing)
    result = run.decide("sign:1:1", "sign", signature="sig-42")
    assert run.state.tasks["sign:1:1"].signature == "sig-42"
    assert SignatureRequired("sign:1:2") in result.effects
    run.decide("sign:1:2", "reject")  # no signature needed to refuse
    assert run.state.status == "rejected"


# --- deadlines ----------------------------------------------------------------------


def deadline_route(escalation: str) -> Definition:
    return definition(
        stage("a", deadline_days=3, remind_days_before=1, escalation=escalation,
              assignees=[{"user": "p"}]),
    )  # fmt: skip


def test_due_at_uses_working_days(resolve: Resolve) -> None:
    run = Driver(deadline_route("none"), resolve)
    task = run.state.tasks["a:1:1"]
    assert task.opened_at == NOW  # a Friday
    assert task.due_at == NOW + timedelta(days=5)  # Wednesday, same time
    assert task.due_at is not None
    assert task.due_at.weekday() == 2


def test_remind_once_then_escalate_once(resolve: Resolve) -> None:
    run = Driver(deadline_route("notify_supervisor"), resolve)
    run.now = NOW + timedelta(days=3)  # Monday: two working days before due
    assert run(Tick()).effects == []
    run.now = NOW + timedelta(days=4)  # Tuesday: one working day before due
    assert run(Tick()).effects == [Remind("a:1:1")]
    assert run(Tick()).effects == []
    run.now = NOW + timedelta(days=5)  # exactly due: not yet overdue
    assert run(Tick()).effects == []
    run.now = NOW + timedelta(days=5, seconds=1)
    effects = run(Tick()).effects
    assert effects == [
        Escalate("a:1:1", "supervisor", "notify"),
        Notify("p", "overdue", {"task_id": "a:1:1", "due_at": "2026-03-11T10:00:00+00:00"}),
    ]
    assert run.state.tasks["a:1:1"].escalated
    run.now = NOW + timedelta(days=9)
    assert run(Tick()).effects == []


def test_escalation_kinds(resolve: Resolve) -> None:
    late = NOW + timedelta(days=30)
    run = Driver(deadline_route("reassign_to_supervisor"), resolve)
    run.now = late
    effects = run(Tick()).effects
    assert effects[0] == Escalate("a:1:1", "supervisor", "reassign")
    # edms answers with a Reassign to the supervisor it resolved.
    result = run(Reassign("a:1:1", "chief", "escalation"))
    assert opened(result) == [("a:1:1", "chief")]
    assert run.state.tasks["a:1:1"].on_behalf_of == "p"
    assert run(Tick()).effects == []  # escalated once, even after the move

    run = Driver(deadline_route("none"), resolve)
    run.now = late
    assert run(Tick()).effects == []


def test_tick_without_deadlines_or_when_finished(resolve: Resolve) -> None:
    run = Driver(definition(stage("a")), resolve)
    run.now = NOW + timedelta(days=100)
    assert run(Tick()).effects == []
    run(Cancel("author"))
    assert run(Tick()).effects == []


# --- reassign, cancel ---------------------------------------------------------------


def test_reassign_keeps_the_original_assignee(resolve: Resolve) -> None:
    d = definition(stage("a", assignees=[{"user": "boss"}, {"user": "next"}]))
    run = Driver(d, resolve)
    result = run(Reassign("a:1:1", "deputy", "holiday"))
    task = run.state.tasks["a:1:1"]
    assert (task.assignee, task.on_behalf_of, task.status) == ("deputy", "boss", "open")
    assert opened(result) == [("a:1:1", "deputy")]
    assert notices(result) == [("boss", "reassigned")]
    run(Reassign("a:1:1", "deputy2"))  # a second move keeps the first assignee
    assert run.state.tasks["a:1:1"].on_behalf_of == "boss"
    run(Reassign("a:1:1", "boss"))  # back to the original: nobody's behalf
    assert run.state.tasks["a:1:1"].on_behalf_of is None
    run(Reassign("a:1:2", "other"))  # a waiting task moves silently
    assert run.state.tasks["a:1:2"].assignee == "other"
    with pytest.raises(InvalidEvent, match="already assigned"):
        run(Reassign("a:1:1", "boss"))
    with pytest.raises(InvalidEvent, match="user name"):
        run(Reassign("a:1:1", ""))
    with pytest.raises(InvalidEvent, match="no task"):
        run(Reassign("zzz", "x"))


def test_the_delegate_and_the_original_may_decide(resolve: Resolve) -> None:
    three = [{"user": "boss"}, {"user": "q"}, {"user": "r"}]
    d = definition(stage("a", mode="parallel", assignees=three))
    run = Driver(d, resolve)
    run(Reassign("a:1:1", "deputy"))
    run(Reassign("a:1:2", "deputy2"))
    run.decide("a:1:1", actor="deputy")
    run.decide("a:1:2", actor="q")  # back early: the original still may
    first, second = run.state.tasks["a:1:1"], run.state.tasks["a:1:2"]
    assert (first.assignee, first.on_behalf_of, first.decided_by) == ("deputy", "boss", "deputy")
    assert (second.assignee, second.on_behalf_of, second.decided_by) == ("deputy2", "q", "q")
    with pytest.raises(InvalidEvent, match="only open tasks"):
        run(Reassign("a:1:1", "x"))


def test_decisions_by_others_are_refused(resolve: Resolve) -> None:
    run = Driver(definition(stage("a", assignees=[{"user": "p"}, {"user": "q"}])), resolve)
    with pytest.raises(InvalidEvent, match="not assigned to 'q'"):
        run.decide("a:1:1", actor="q")
    with pytest.raises(InvalidEvent, match="waiting, not open"):
        run.decide("a:1:2")
    with pytest.raises(InvalidEvent, match="no task"):
        run.decide("a:9:9", actor="p")
    run.decide("a:1:1")
    with pytest.raises(InvalidEvent, match="done, not open"):
        run.decide("a:1:1")


def test_cancel_closes_open_tasks(resolve: Resolve) -> None:
    d = definition(stage("a", mode="parallel", assignees=[{"user": "p"}, {"user": "q"}]))
    run = Driver(d, resolve)
    result = run(Cancel("admin", "duplicate"))
    assert run.state.status == "cancelled"
    assert closed(result) == [("a:1:1", "cancelled"), ("a:1:2", "cancelled")]
    assert Finished("cancelled") in result.effects
    assert Notify("author", "cancelled", {"by": "admin", "reason": "duplicate"}) in result.effects
    assert run.state.open_tasks() == []
    with pytest.raises(InvalidEvent, match="already cancelled"):
        run(Cancel("admin"))
    with pytest.raises(InvalidEvent, match="not running"):
        run(Reassign("a:1:1", "x"))

    run = Driver(d, resolve)
    assert notices(run(Cancel("author"))) == []  # nobody to tell


def test_cancel_a_returned_instance(resolve: Resolve) -> None:
    run = Driver(definition(stage("a")), resolve)
    run.decide("a:1:1", "return")
    assert closed(run(Cancel("author"))) == []
    assert run.state.status == "cancelled"


# --- nobody to act ------------------------------------------------------------------


def test_no_assignees_at_start_is_refused(resolve: Resolve) -> None:
    d = definition(stage("a", assignees=[{"role": "approver", "department": "MIN"}]))
    with pytest.raises(InvalidEvent, match="stage 'a' cannot start: nobody to act"):
        Engine(d, resolve).start({}, NOW, "author")


def test_quorum_larger_than_resolved_at_start_is_refused(resolve: Resolve) -> None:
    d = definition(
        stage("a", policy={"quorum": 3}, assignees=[{"role": "approver", "department": "LEGAL"}])
    )
    with pytest.raises(InvalidEvent, match=r"2 assignee\(s\) for a quorum of 3"):
        Engine(d, resolve).start({}, NOW, "author")


def test_no_assignees_later_returns_to_the_author(resolve: Resolve) -> None:
    table = {"head@owner": ["head"]}
    d = definition(
        stage("a", assignees=[{"user": "p"}]),
        stage("b", assignees=[{"role": "approver", "department": "MIN"}]),
    )
    run = Driver(d, make_resolver(table))
    result = run.decide("a:1:1")
    assert (run.state.status, run.state.stage_id) == ("returned", "b")
    assert Notify("author", "no_assignees", {"stage_id": "b", "found": 0, "required": 0}) in (
        result.effects
    )
    run(Resubmit("author"))  # still nobody: returned again, told again
    assert run.state.status == "returned"
    table["approver@MIN"] = ["new_approver"]
    result = run(Resubmit("author"))
    assert opened(result) == [("b:3:1", "new_approver")]


def test_repeated_names_get_one_task(resolve: Resolve) -> None:
    d = definition(stage("a", mode="parallel", assignees=[
        {"user": "lawyer1"}, {"role": "approver", "department": "LEGAL"}, {"user": "lawyer1"},
    ]))  # fmt: skip
    run = Driver(d, resolve)
    assert opened(run.result) == [("a:1:1", "lawyer1"), ("a:1:2", "lawyer2")]


# --- state and serialization --------------------------------------------------------


def test_round_trip_through_json(resolve: Resolve) -> None:
    d = definition(
        stage("a", assignees=[{"user": "p"}, {"user": "q"}], deadline_days=2, signature=True),
        stage("b", mode="parallel", assignees=[{"user": "r"}, {"user": "s"}]),
    )
    run = Driver(d, resolve, {"type": "letter", "amount": 1.5, "tags": ["x"], "n": None})
    states = [run.state]
    run(Reassign("a:1:1", "deputy"))
    states.append(run.state)
    run.decide("a:1:1", signature="sig", comment="ok «да»")
    states.append(run.state)
    run.decide("a:1:2", "return")
    states.append(run.state)
    for state in states:
        data = json.loads(json.dumps(state.to_dict()))
        again = InstanceState.from_dict(data)
        assert again == state
        assert again.to_dict() == data


def test_apply_leaves_the_given_state_alone(resolve: Resolve) -> None:
    d = definition(stage("a", mode="parallel", assignees=[{"user": "p"}, {"user": "q"}]))
    engine = Engine(d, resolve)
    state = engine.start({"x": [1]}, NOW, "author").state
    before = state.to_dict()
    engine.apply(state, Decide("a:1:1", "p", "approve"), NOW)
    engine.apply(state, Cancel("p"), NOW)
    engine.apply(state, Reassign("a:1:2", "z"), NOW)
    with pytest.raises(InvalidEvent):
        engine.apply(state, Decide("a:1:1", "q", "approve"), NOW)
    assert state.to_dict() == before


def test_deterministic(resolve: Resolve) -> None:
    path = CONFIG / "licence_request.yaml"
    d = load_definition(path.read_text(encoding="utf-8"), path.name)
    results = []
    for _ in range(2):
        engine = Engine(d, resolve)
        result = engine.start({"type": "licence"}, NOW, "author")
        result = engine.apply(result.state, Decide("review:1:4", "stat1", "approve"), NOW)
        results.append((result.state.to_dict(), result.effects))
    assert results[0] == results[1]


def test_context_must_be_json(resolve: Resolve) -> None:
    engine = Engine(definition(stage("a")), resolve)
    for bad in ({"when": NOW}, {"x": float("nan")}, {1: "a"}, {"x": {"y": object()}}):
        with pytest.raises(InvalidEvent, match="context"):
            engine.start(bad, NOW, "author")
    with pytest.raises(InvalidEvent, match="mapping"):
        engine.start([], NOW, "author")  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent, match="author"):
        engine.start({}, NOW, "")


def test_now_must_be_aware(resolve: Resolve) -> None:
    engine = Engine(definition(stage("a")), resolve)
    with pytest.raises(InvalidEvent, match="timezone-aware"):
        engine.start({}, datetime(2026, 1, 1), "author")


def test_other_version_is_refused(resolve: Resolve) -> None:
    v1 = definition(stage("a"))
    v2 = definition(stage("a"), version=2)
    state = Engine(v1, resolve).start({}, NOW, "author").state
    with pytest.raises(InvalidEvent, match="version 1, not test_route version 2"):
        Engine(v2, resolve).apply(state, Tick(), NOW)


def test_unknown_event_is_refused(resolve: Resolve) -> None:
    engine = Engine(definition(stage("a")), resolve)
    state = engine.start({}, NOW, "author").state
    with pytest.raises(InvalidEvent, match="unknown event"):
        engine.apply(state, "approve", NOW)  # type: ignore[arg-type]


def test_bad_resolver_output(resolve: Resolve) -> None:
    engine = Engine(definition(stage("a")), lambda spec, ctx: [""])
    with pytest.raises(InvalidEvent, match="not a user name"):
        engine.start({}, NOW, "author")


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(format=99),
        lambda d: d.update(status="lost"),
        lambda d: d.pop("author"),
        lambda d: d.update(round="1"),
        lambda d: d.update(round=True),
        lambda d: d.update(context=[]),
        lambda d: d.update(tasks={}),
        lambda d: d["tasks"].append(dict(d["tasks"][0])),
        lambda d: d["tasks"][0].update(status="maybe"),
        lambda d: d["tasks"][0].update(due_at="tomorrow"),
        lambda d: d["tasks"][0].update(opened_at=5),
        lambda d: d["tasks"][0].pop("reminded"),
        lambda d: d["tasks"][0].update(id="a:1:x"),
        lambda d: d["tasks"][0].update(id="b:1:1"),
        lambda d: d["tasks"].__setitem__(0, "task"),
    ],
)
def test_from_dict_refuses_malformed_data(resolve: Resolve, damage: Any) -> None:
    d = definition(stage("a", deadline_days=1))
    data = Engine(d, resolve).start({}, NOW, "author").state.to_dict()
    damage(data)
    with pytest.raises(InvalidState):
        InstanceState.from_dict(data)


def test_from_dict_refuses_non_mappings() -> None:
    with pytest.raises(InvalidState):
        InstanceState.from_dict([])  # type: ignore[arg-type]


# --- the shipped routes end to end --------------------------------------------------


def drive(engine: Engine, state: InstanceState, plan: list[tuple[str, str]]) -> InstanceState:
    for task_id, decision in plan:
        task = state.tasks[task_id]
        event = Decide(task_id, task.assignee, decision, signature="sig")
        state = engine.apply(state, event, NOW).state
    return state


def shipped(name: str) -> Definition:
    path = CONFIG / f"{name}.yaml"
    return load_definition(path.read_text(encoding="utf-8"), path.name)


def test_outgoing_letter_end_to_end(resolve: Resolve) -> None:
    engine = Engine(shipped("outgoing_letter"), resolve)
    result = engine.start({"type": "letter"}, NOW, "author")
    state = drive(
        engine,
        result.state,
        [("visas:1:1", "approve"), ("visas:1:2", "approve"), ("visas:1:3", "approve")],
    )
    assert state.stage_id == "signature"
    state = drive(engine, state, [("signature:1:1", "reject")])
    assert (state.stage_id, state.round) == ("visas", 2)  # back through the visas
    state = drive(
        engine,
        state,
        [("visas:2:1", "approve"), ("visas:2:2", "approve"), ("visas:2:3", "approve"),
         ("signature:2:1", "sign"), ("dispatch:2:2", "acknowledge")],
    )  # fmt: skip
    assert state.status == "approved"
    assert state.tasks["dispatch:2:1"].status == "cancelled"


def test_licence_request_end_to_end(resolve: Resolve) -> None:
    engine = Engine(shipped("licence_request"), resolve)
    state = engine.start({"type": "licence"}, NOW, "applicant").state
    assert [t.assignee for t in state.open_tasks()] == ["lawyer1", "lawyer2", "lic1", "stat1"]
    state = drive(engine, state, [("review:1:1", "reject"), ("review:1:3", "approve")])
    assert state.stage_id == "review"
    state = drive(engine, state, [("review:1:4", "approve")])
    assert state.stage_id == "decision"
    state = drive(engine, state, [("decision:1:1", "approve")])
    assert state.status == "approved"


def test_incoming_letter_and_statistical_report(resolve: Resolve) -> None:
    engine = Engine(shipped("incoming_letter"), resolve)
    state = engine.start({"type": "letter"}, NOW, "clerk1").state
    state = drive(
        engine,
        state,
        [("registration:1:1", "acknowledge"), ("resolution:1:1", "approve"),
         ("execution:1:2", "acknowledge")],
    )  # fmt: skip
    assert state.status == "approved"

    engine = Engine(shipped("statistical_report"), resolve)
    state = engine.start({"type": "report"}, NOW, "company").state
    state = drive(engine, state, [("review:1:1", "return")])
    assert state.status == "returned"
