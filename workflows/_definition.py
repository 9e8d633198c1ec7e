"""Workflow definitions: the dataclasses, and loading from YAML with validation.

Loading runs in three steps and reports every problem it finds in one
``DefinitionError``: YAML (safe loader only, no aliases, no duplicate keys, a size
limit), the JSON Schema in ``_schema``, then checks the schema cannot express
(unique stage ids, on_reject going backwards, decisions that fit the policy and the
signature, quorums that can be reached, known roles, departments and attributes,
conditions that parse and are not always false).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import jsonschema

from workflows._errors import DefinitionError, ExpressionError, Problem
from workflows._expression import Expression, parse_expression
from workflows._schema import HINTS, SCHEMA
from workflows._yaml import (
    KeyPath,
    YamlDocument,
    YamlWording,
    did_you_mean,
    format_path,
    load_yaml,
    show_value,
)

MAX_TEXT_BYTES: Final = 256 * 1024
POSITIVE: Final = frozenset({"approve", "sign", "acknowledge"})
SIGNED: Final = frozenset({"approve", "sign"})

_VALIDATOR: Final = jsonschema.Draft202012Validator(SCHEMA)
_TYPE_NAMES: Final = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "boolean": "true or false",
}

_WORDING: Final = YamlWording(
    empty="the definition is empty",
    empty_hint="write code, name and stages",
    too_deep_hint="a definition is a few levels deep",
)

Path = KeyPath


def text_for(texts: Mapping[str, str], lang: str) -> str:
    """The text in ``lang``, else English, else the first one given."""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


@dataclass(frozen=True)
class AssigneeSpec:
    """Who acts on a stage. Exactly one of ``user``, ``role`` (with ``department``) or
    ``head_of`` is set; ``department`` and ``head_of`` hold a department code or
    ``"owner"`` (the document's department). ``when`` is checked by the engine before
    the spec is resolved: edms's ``resolve`` never sees a spec whose condition is false.
    """

    user: str | None = None
    role: str | None = None
    department: str | None = None
    head_of: str | None = None
    when: Expression | None = None

    @property
    def kind(self) -> str:
        """``"user"``, ``"role"`` or ``"head_of"``."""
        if self.user is not None:
            return "user"
        if self.role is not None:
            return "role"
        return "head_of"

    def to_dict(self) -> dict[str, Any]:
        """The spec as written in a definition."""
        out: dict[str, Any] = {}
        for key in ("user", "role", "department", "head_of"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.when is not None:
            out["when"] = self.when.text
        return out


@dataclass(frozen=True)
class Policy:
    """How decisions combine: ``all``, ``any``, ``quorum`` (``value`` people) or
    ``percent`` (``value`` per cent of the assignees, rounded up)."""

    kind: str = "all"
    value: int | None = None

    def required(self, assignees: int) -> int:
        """Positive decisions needed to complete a stage with this many assignees."""
        if self.kind == "all":
            return assignees
        if self.kind == "any":
            return min(1, assignees)
        if self.kind == "quorum":
            return self.value or 1
        percent = self.value or 100
        return max(1, (assignees * percent + 99) // 100) if assignees else 0

    def to_data(self) -> str | dict[str, int]:
        """The policy as written in a definition."""
        if self.kind in ("all", "any"):
            return self.kind
        return {self.kind: self.value or 0}


@dataclass(frozen=True)
class Stage:
    """One step of a route; see docs/WORKFLOWS.md for each field."""

    id: str
    name: dict[str, str]
    assignees: tuple[AssigneeSpec, ...]
    decisions: tuple[str, ...]
    mode: str = "sequential"
    policy: Policy = field(default_factory=Policy)
    veto: bool = True
    signature: bool = False
    deadline_days: int | None = None
    remind_days_before: int | None = None
    escalation: str = "none"
    when: Expression | None = None
    on_reject: str = "end"

    def label(self, lang: str = "en") -> str:
        """The stage name in ``lang`` (falls back to English)."""
        return text_for(self.name, lang)

    def to_dict(self) -> dict[str, Any]:
        """The stage as written in a definition, defaults spelled out."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": dict(self.name),
            "mode": self.mode,
            "assignees": [spec.to_dict() for spec in self.assignees],
            "policy": self.policy.to_data(),
            "veto": self.veto,
            "decisions": list(self.decisions),
            "signature": self.signature,
        }
        if self.deadline_days is not None:
            out["deadline_days"] = self.deadline_days
        if self.remind_days_before is not None:
            out["remind_days_before"] = self.remind_days_before
        out["escalation"] = self.escalation
        if self.when is not None:
            out["when"] = self.when.text
        out["on_reject"] = self.on_reject
        return out


@dataclass(frozen=True)
class Definition:
    """A validated route. ``version`` is kept by edms (1 unless it says otherwise)."""

    code: str
    name: dict[str, str]
    stages: tuple[Stage, ...]
    description: dict[str, str] | None = None
    version: int = 1

    def label(self, lang: str = "en") -> str:
        """The route's name in ``lang`` (falls back to English)."""
        return text_for(self.name, lang)

    def stage(self, stage_id: str) -> Stage:
        """The stage with this id (``KeyError`` if there is none)."""
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def index(self, stage_id: str) -> int:
        """Position of the stage with this id (``KeyError`` if there is none)."""
        for i, stage in enumerate(self.stages):
            if stage.id == stage_id:
                return i
        raise KeyError(stage_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data that loads back (as YAML or JSON) to an equal definition."""
        out: dict[str, Any] = {"code": self.code, "name": dict(self.name)}
        if self.description is not None:
            out["description"] = dict(self.description)
        out["stages"] = [stage.to_dict() for stage in self.stages]
        return out


# --- loading ------------------------------------------------------------------------


def _problems(out: YamlDocument) -> list[Problem]:
    return [Problem(format_path(p.path), p.message, p.hint, p.line) for p in out.problems]


def _schema_problems(data: Any, out: YamlDocument) -> None:
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: [str(k) for k in e.absolute_path])
    for error in errors:
        path: Path = tuple(error.absolute_path)
        _schema_problem(error, path, out)


def _schema_problem(error: jsonschema.ValidationError, path: Path, out: YamlDocument) -> None:
    last = next((k for k in reversed(path) if isinstance(k, str)), "")
    hint = HINTS.get(last, "")
    kind = error.validator
    instance = error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if kind == "required" and isinstance(instance, dict):
        for key in expected:
            if key not in instance:
                out.add((*path, key), f"{key!r} is missing", HINTS.get(key, ""))
                return
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                out.add(
                    (*path, str(key)),
                    f"unknown key {key!r}",
                    f"{did_you_mean(str(key), allowed)}allowed keys: {', '.join(allowed)}",
                )
        return
    if kind == "type":
        wanted = _TYPE_NAMES.get(str(expected), str(expected))
        out.add(path, f"{show_value(instance)} must be {wanted}", hint)
    elif kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        out.add(path, f"{show_value(instance)} is not one of: {choices}", hint)
    elif kind == "pattern" and "propertyNames" in error.schema_path:
        out.add(
            path,
            f"language key {show_value(instance)} is not two lowercase letters",
            "use en, ru, uz",
        )
    elif kind == "pattern":
        out.add(path, f"{show_value(instance)} is not written the right way", hint)
    elif kind == "oneOf" and last == "policy":
        out.add(path, f"{show_value(instance)} is not a policy", hint)
    elif kind == "minItems":
        what = {"stages": "the route has no stages", "assignees": "the stage has no assignees"}
        out.add(path, what.get(last, f"{last} is empty"), hint)
    elif kind == "uniqueItems":
        out.add(path, f"{last} lists the same value twice", "list each value once")
    elif kind == "minProperties":
        out.add(path, "is empty", hint)
    elif kind == "propertyNames":
        out.add(path, "language keys are two lowercase letters", "use en, ru, uz")
    elif kind in ("minimum", "maximum"):
        bound = "at least" if kind == "minimum" else "at most"
        out.add(path, f"{show_value(instance)} must be {bound} {expected}", hint)
    else:
        out.add(path, error.message, hint)


def load_definition(
    text: str,
    source: str = "<definition>",
    *,
    roles: Collection[str] | None = None,
    departments: Collection[str] | None = None,
    attributes: Collection[str] | None = None,
    version: int = 1,
) -> Definition:
    """Parse and validate a YAML definition.

    ``source`` names the text in messages (a file name). ``roles``, ``departments`` and
    ``attributes``, when given, are the known role names, department codes and
    document attribute names: anything else is a problem. Raises ``DefinitionError``
    listing every problem; an invalid definition never loads.
    """
    if not isinstance(text, str):
        raise DefinitionError(source, [Problem("", "a definition is text", "decode it as UTF-8")])
    out = load_yaml(text, max_bytes=MAX_TEXT_BYTES, wording=_WORDING)
    data = out.data
    if not out.problems:
        _schema_problems(data, out)
    definition = None
    if not out.problems:
        definition = _check(data, out, roles, departments, attributes, version)
    if out.problems or definition is None:
        raise DefinitionError(source, _problems(out))
    return definition


# --- semantic checks ----------------------------------------------------------------


def _expression(
    text: str, path: Path, out: YamlDocument, attributes: Collection[str] | None
) -> Expression | None:
    try:
        expr = parse_expression(text)
    except ExpressionError as exc:
        out.add(
            path,
            f"the condition {show_value(text)} does not parse: {exc.reason} at column {exc.column}",
            "see the expression language in docs/WORKFLOWS.md",
        )
        return None
    if attributes is not None:
        known = set(attributes)
        for name, column in expr.name_columns():
            if name not in known:
                out.add(
                    path,
                    f"unknown attribute {name!r} at column {column} of {show_value(text)}",
                    f"{did_you_mean(name, known)}known attributes: {', '.join(sorted(known))}",
                )
    return expr


def _check(
    data: dict[str, Any],
    out: YamlDocument,
    roles: Collection[str] | None,
    departments: Collection[str] | None,
    attributes: Collection[str] | None,
    version: int,
) -> Definition | None:
    raw_stages: list[dict[str, Any]] = data["stages"]
    first_use: dict[str, int] = {}
    for i, raw in enumerate(raw_stages):
        sid = raw["id"]
        if sid == "end":
            out.add(("stages", i, "id"), "'end' is reserved for on_reject", "choose another id")
        elif sid in first_use:
            out.add(
                ("stages", i, "id"),
                f"stage id {sid!r} is already used by stages[{first_use[sid]}]",
                "give each stage an id of its own",
            )
        else:
            first_use[sid] = i
    stages = [
        _check_stage(i, raw, first_use, out, roles, departments, attributes)
        for i, raw in enumerate(raw_stages)
    ]
    if out.problems:
        return None
    return Definition(
        code=data["code"],
        name=dict(data["name"]),
        description=dict(data["description"]) if "description" in data else None,
        stages=tuple(s for s in stages if s is not None),
        version=version,
    )


def _check_stage(
    i: int,
    raw: dict[str, Any],
    first_use: Mapping[str, int],
    out: YamlDocument,
    roles: Collection[str] | None,
    departments: Collection[str] | None,
    attributes: Collection[str] | None,
) -> Stage | None:
    at: Path = ("stages", i)
    sid = raw["id"]
    decisions = tuple(raw["decisions"])
    if not POSITIVE & set(decisions):
        out.add(
            (*at, "decisions"),
            f"stage {sid!r} can never complete: none of its decisions approves",
            "add approve, sign or acknowledge",
        )
    signature = raw.get("signature")
    if "sign" in decisions and signature is False:
        out.add(
            (*at, "signature"),
            f"stage {sid!r} allows sign but says signature: false",
            "remove signature: false (sign implies a signature) or the sign decision",
        )
    needs_signature = bool(signature) or "sign" in decisions
    if needs_signature and not SIGNED & set(decisions):
        out.add(
            (*at, "decisions"),
            f"stage {sid!r} requires a signature but no decision carries one",
            "add approve or sign to decisions, or drop signature: true",
        )

    specs = [
        _check_assignee((*at, "assignees", j), spec, out, roles, departments, attributes)
        for j, spec in enumerate(raw["assignees"])
    ]
    policy = _policy(raw.get("policy", "all"))
    if policy.kind == "quorum" and policy.value is not None:
        most = _most_assignees([s for s in specs if s is not None])
        if most is not None and policy.value > most:
            out.add(
                (*at, "policy", "quorum"),
                f"quorum {policy.value} is more than the {most} assignee(s) stage {sid!r} can have",
                f"lower the quorum to at most {most}, or add assignees",
            )
    veto = raw.get("veto", policy.kind != "any")

    deadline = raw.get("deadline_days")
    remind = raw.get("remind_days_before")
    escalation = raw.get("escalation", "none")
    if remind is not None and deadline is None:
        out.add((*at, "remind_days_before"), "a reminder needs a deadline", "add deadline_days")
    elif remind is not None and deadline is not None and remind >= deadline:
        out.add(
            (*at, "remind_days_before"),
            f"remind_days_before ({remind}) must be less than deadline_days ({deadline})",
            "remind fewer working days before the deadline than the deadline itself",
        )
    if escalation != "none" and deadline is None:
        out.add((*at, "escalation"), "escalation needs a deadline", "add deadline_days")

    when = None
    if "when" in raw:
        when = _expression(raw["when"], (*at, "when"), out, attributes)
        if when is not None and when.constant_value() is False:
            out.add(
                (*at, "when"),
                f"stage {sid!r} can never run: its condition is always false",
                "remove the stage or fix the condition",
            )

    on_reject = raw.get("on_reject", "end")
    if on_reject != "end":
        target = first_use.get(on_reject)
        if target is None:
            earlier = [s for s, k in first_use.items() if k < i]
            out.add(
                (*at, "on_reject"),
                f"on_reject names {on_reject!r}, which is not a stage of this route",
                f"{did_you_mean(on_reject, earlier)}write end or one of: {', '.join(earlier) or '-'}"
                if earlier
                else "write end: there is no earlier stage to go back to",
            )
        elif target >= i:
            out.add(
                (*at, "on_reject"),
                f"on_reject must go back to an earlier stage; {on_reject!r} is not before {sid!r}",
                "write end or the id of an earlier stage",
            )
        if "reject" not in decisions:
            out.add(
                (*at, "on_reject"),
                f"on_reject has no effect: stage {sid!r} does not allow reject",
                "add reject to decisions or remove on_reject",
            )

    if any(s is None for s in specs) or (when is None and "when" in raw):
        return None
    return Stage(
        id=sid,
        name=dict(raw["name"]),
        mode=raw.get("mode", "sequential"),
        assignees=tuple(s for s in specs if s is not None),
        policy=policy,
        veto=bool(veto),
        decisions=decisions,
        signature=needs_signature,
        deadline_days=deadline,
        remind_days_before=remind,
        escalation=escalation,
        when=when,
        on_reject=on_reject,
    )


def _policy(raw: str | dict[str, int]) -> Policy:
    if isinstance(raw, str):
        return Policy(raw)
    ((kind, value),) = raw.items()
    return Policy(kind, int(value))


def _most_assignees(specs: list[AssigneeSpec]) -> int | None:
    """Most distinct people the specs can yield, or ``None`` when a role is unbounded."""
    users: set[str] = set()
    heads: set[str] = set()
    for spec in specs:
        if spec.when is not None and spec.when.constant_value() is False:
            continue
        if spec.role is not None:
            return None
        if spec.user is not None:
            users.add(spec.user)
        elif spec.head_of is not None:
            heads.add(spec.head_of)
    return len(users) + len(heads)


def _check_assignee(
    path: Path,
    raw: dict[str, Any],
    out: YamlDocument,
    roles: Collection[str] | None,
    departments: Collection[str] | None,
    attributes: Collection[str] | None,
) -> AssigneeSpec | None:
    before = len(out.problems)
    kinds = [k for k in ("user", "role", "head_of") if k in raw]
    if len(kinds) != 1:
        found = f"{' and '.join(kinds)} together" if kinds else "none of them"
        out.add(
            path,
            f"an assignee is a user, a role or a head_of, not {found}",
            "write {user: name}, {role: approver, department: LEGAL} or {head_of: owner}",
        )
    if "role" in raw and "department" not in raw:
        out.add(
            (*path, "role"),
            f"role {raw['role']!r} needs a department",
            "add department: owner (the document's department) or a department code",
        )
    if "department" in raw and "role" not in raw:
        out.add(
            (*path, "department"),
            "department goes with a role",
            "add role: ..., or write {head_of: CODE} for the head of a department",
        )
    if roles is not None and "role" in raw and raw["role"] not in roles:
        out.add(
            (*path, "role"),
            f"unknown role {raw['role']!r}",
            f"{did_you_mean(raw['role'], roles)}known roles: {', '.join(sorted(roles))}",
        )
    if departments is not None:
        for key in ("department", "head_of"):
            code = raw.get(key)
            if code is not None and code != "owner" and code not in departments:
                out.add(
                    (*path, key),
                    f"unknown department {code!r}",
                    f"{did_you_mean(code, departments)}write owner or one of: "
                    f"{', '.join(sorted(departments))}",
                )
    when = None
    if "when" in raw:
        when = _expression(raw["when"], (*path, "when"), out, attributes)
        if when is not None and when.constant_value() is False:
            out.add(
                (*path, "when"),
                "this assignee is never used: its condition is always false",
                "remove the assignee or fix the condition",
            )
    if len(out.problems) > before:
        return None
    return AssigneeSpec(
        user=raw.get("user"),
        role=raw.get("role"),
        department=raw.get("department"),
        head_of=raw.get("head_of"),
        when=when,
    )
