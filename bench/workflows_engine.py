"""Benchmark: workflow engine decisions per second, in pure Python (no database).

Drives ``--instances`` instances (default 10,000) of the shipped outgoing letter route
to completion: three visas, the head's signature, one dispatch acknowledgement, each a
``Decide`` through ``Engine.apply``, with a deadline ``Tick`` after every decision, and
every state serialized to JSON and back as edms would store it. Reports engine
decisions per second with and without the serialization round trip, as the median of
``--rounds`` rounds. This is a benchmark, not a test: it exits 0 whatever the figures.

Usage: ``.venv/bin/python bench/workflows_engine.py [--instances 10000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflows import (  # noqa: E402
    AssigneeSpec,
    Calendar,
    Decide,
    Definition,
    Engine,
    InstanceState,
    Tick,
    load_definition,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USERS = {
    ("approver", "LEGAL"): ["lawyer1", "lawyer2"],
    ("clerk", "CHANCERY"): ["chancery1", "chancery2"],
}


def resolve(spec: AssigneeSpec, context: Mapping[str, Any]) -> list[str]:
    if spec.user is not None:
        return [spec.user]
    if spec.role is not None:
        return USERS.get((spec.role, spec.department or ""), [])
    return ["head"]


def run(definition: Definition, instances: int, persist: bool) -> tuple[int, float]:
    """Drive every instance to the end; return (decisions, seconds)."""
    engine = Engine(definition, resolve, Calendar())
    decisions = 0
    began = time.perf_counter()
    for i in range(instances):
        now = START + timedelta(minutes=i % 600)
        state = engine.start({"type": "letter", "amount": i}, now, "author").state
        while state.status == "running":
            task = state.open_tasks()[0]
            stage = definition.stage(task.stage_id)
            decision = "sign" if "sign" in stage.decisions else stage.decisions[0]
            state = engine.apply(
                state, Decide(task.id, task.assignee, decision, signature="sig"), now
            ).state
            decisions += 1
            state = engine.apply(state, Tick(), now).state
            if persist:
                state = InstanceState.from_dict(json.loads(json.dumps(state.to_dict())))
        if state.status != "approved":
            raise SystemExit(f"instance {i} ended {state.status}")
    return decisions, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = ROOT / "config" / "workflows" / "outgoing_letter.yaml"
    definition = load_definition(path.read_text(encoding="utf-8"), path.name)
    print(f"workflow engine: {args.instances} outgoing letters to completion, "
          f"median of {args.rounds} rounds, Python {sys.version.split()[0]}")  # fmt: skip
    for persist, label in ((False, "engine only"), (True, "with JSON state round trip")):
        rates = []
        for _ in range(args.rounds):
            decisions, seconds = run(definition, args.instances, persist)
            rates.append(decisions / seconds)
        rate = statistics.median(rates)
        print(f"  {label:<28} {decisions} decisions  {rate:>10,.0f} decisions/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
