"""The route as an SVG picture: stages left to right, the current one highlighted,
each decision shown with a symbol and a word (never by colour alone)."""

from __future__ import annotations

import re
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from workflows._definition import AssigneeSpec, Definition, Stage
from workflows._engine import InstanceState, TaskState

BOX_W: Final = 250
GAP: Final = 56
MARGIN: Final = 16
TOP: Final = 64
LINE: Final = 18
CHARS: Final = 35  # characters that fit on one line of a box at 12px

_INVALID_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "approve": "approved",
        "sign": "signed",
        "reject": "rejected",
        "return": "returned",
        "acknowledge": "acknowledged",
        "open": "to decide",
        "waiting": "queued",
        "cancelled": "not needed",
        "current": "current stage",
        "completed": "completed",
        "skipped": "skipped",
        "pending": "not started",
        "stage_returned": "returned for rework",
        "stage_rejected": "rejected",
        "stage_cancelled": "cancelled",
        "running": "in progress",
        "returned": "returned for rework",
        "approved": "approved",
        "rejected": "rejected",
        "status": "Status",
        "round": "round",
        "sequential": "one after another",
        "parallel": "in parallel",
        "all": "all",
        "any": "any one",
        "quorum": "quorum {n}",
        "percent": "{n}%",
        "head_of": "head of {d}",
        "owner": "owning department",
        "user": "{u}",
        "role": "{r}, {d}",
        "if": "if",
        "signature": "signature",
        "days": "deadline {n} working days",
        "on_reject": "on reject",
        "for": "for {u}",
    },
    "ru": {
        "approve": "согласовано",
        "sign": "подписано",
        "reject": "отклонено",
        "return": "возвращено",
        "acknowledge": "ознакомлен",
        "open": "на рассмотрении",
        "waiting": "в очереди",
        "cancelled": "не требуется",
        "current": "текущий этап",
        "completed": "завершён",
        "skipped": "пропущен",
        "pending": "не начат",
        "stage_returned": "возвращено на доработку",
        "stage_rejected": "отклонено",
        "stage_cancelled": "отменено",
        "running": "в работе",
        "returned": "возвращено на доработку",
        "approved": "согласовано",
        "rejected": "отклонено",
        "status": "Статус",
        "round": "круг",
        "sequential": "последовательно",
        "parallel": "параллельно",
        "all": "все",
        "any": "любой",
        "quorum": "кворум {n}",
        "percent": "{n}%",
        "head_of": "руководитель: {d}",
        "owner": "подразделение-владелец",
        "user": "{u}",
        "role": "{r}, {d}",
        "if": "если",
        "signature": "подпись",
        "days": "срок {n} раб. дн.",
        "on_reject": "при отказе",
        "for": "за {u}",
    },
    "uz": {
        "approve": "kelishildi",
        "sign": "imzolandi",
        "reject": "rad etildi",
        "return": "qaytarildi",
        "acknowledge": "tanishdi",
        "open": "ko‘rib chiqilmoqda",
        "waiting": "navbatda",
        "cancelled": "kerak emas",
        "current": "joriy bosqich",
        "completed": "yakunlandi",
        "skipped": "o‘tkazib yuborildi",
        "pending": "boshlanmagan",
        "stage_returned": "qayta ishlashga qaytarildi",
        "stage_rejected": "rad etildi",
        "stage_cancelled": "bekor qilindi",
        "running": "jarayonda",
        "returned": "qayta ishlashga qaytarildi",
        "approved": "kelishildi",
        "rejected": "rad etildi",
        "status": "Holat",
        "round": "davra",
        "sequential": "ketma-ket",
        "parallel": "parallel",
        "all": "hammasi",
        "any": "istalgan biri",
        "quorum": "kvorum {n}",
        "percent": "{n}%",
        "head_of": "{d} rahbari",
        "owner": "egalik qiluvchi bo‘lim",
        "user": "{u}",
        "role": "{r}, {d}",
        "if": "agar",
        "signature": "imzo",
        "days": "muddat {n} ish kuni",
        "on_reject": "rad etilsa",
        "for": "{u} o‘rniga",
    },
}
_WORDS["en"]["cancelled_status"] = "cancelled"
_WORDS["ru"]["cancelled_status"] = "отменено"
_WORDS["uz"]["cancelled_status"] = "bekor qilindi"

_SYMBOLS: Final = {
    "approve": "✓",
    "sign": "✍",
    "reject": "✗",
    "return": "↩",
    "acknowledge": "☑",
    "open": "●",
    "waiting": "○",
    "cancelled": "–",
}
_STAGE_STYLE: Final = {
    # status: (stroke, fill, stroke width, dash, symbol)
    "current": ("#1d4ed8", "#eff6ff", 3, "", "▶"),
    "stage_returned": ("#b45309", "#fffbeb", 3, "", "↩"),
    "completed": ("#15803d", "#f0fdf4", 1.5, "", "✓"),
    "stage_rejected": ("#b91c1c", "#fef2f2", 3, "", "✗"),
    "stage_cancelled": ("#6b7280", "#f9fafb", 1.5, "", "–"),
    "skipped": ("#9ca3af", "#ffffff", 1.5, "6 4", "↷"),
    "pending": ("#6b7280", "#ffffff", 1.5, "", "○"),
}


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _fit(text: str, chars: int = CHARS) -> str:
    text = " ".join(_clean(text).split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{x:g}" y="{y:g}"{extra}>{escape(_fit(content, 200))}</text>'


def _spec_text(spec: AssigneeSpec, words: dict[str, str]) -> str:
    def dept(code: str | None) -> str:
        return words["owner"] if code == "owner" else str(code)

    if spec.user is not None:
        text = words["user"].format(u=spec.user)
    elif spec.role is not None:
        text = words["role"].format(r=spec.role, d=dept(spec.department))
    else:
        text = words["head_of"].format(d=dept(spec.head_of))
    if spec.when is not None:
        text = f"{text} ({words['if']} {spec.when.text})"
    return text


def _policy_text(stage: Stage, words: dict[str, str]) -> str:
    policy = stage.policy
    if policy.kind in ("all", "any"):
        rule = words[policy.kind]
    else:
        rule = words[policy.kind].format(n=policy.value)
    return f"{words[stage.mode]} · {rule}"


def _task_text(task: TaskState, words: dict[str, str]) -> tuple[str, str]:
    key = task.decision if task.status == "done" and task.decision else task.status
    who = task.assignee
    if task.on_behalf_of:
        who = f"{who} ({words['for'].format(u=task.on_behalf_of)})"
    return _SYMBOLS.get(key, "?"), f"{who} — {words.get(key, key)}"


def _stage_statuses(definition: Definition, state: InstanceState | None) -> list[str]:
    if state is None:
        return ["pending"] * len(definition.stages)
    ran = {task.stage_id for task in state.tasks.values()}
    try:
        current = definition.index(state.stage_id or "")
    except KeyError:
        current = -1 if state.stage_id is None else len(definition.stages)
    if state.stage_id is None:  # every stage was skipped
        return ["skipped"] * len(definition.stages)
    out = []
    for i, stage in enumerate(definition.stages):
        if i < current:
            out.append("completed" if stage.id in ran else "skipped")
        elif i == current:
            out.append(
                {
                    "running": "current",
                    "returned": "stage_returned",
                    "approved": "completed",
                    "rejected": "stage_rejected",
                    "cancelled": "stage_cancelled",
                }[state.status]
            )
        else:
            out.append("skipped" if state.status == "approved" else "pending")
    return out


def _latest_tasks(stage: Stage, state: InstanceState | None) -> list[TaskState]:
    if state is None:
        return []
    tasks = [t for t in state.tasks.values() if t.stage_id == stage.id]
    if not tasks:
        return []
    latest = max(t.round for t in tasks)
    return [t for t in tasks if t.round == latest]


def render_svg(
    definition: Definition, state: InstanceState | None = None, labels_lang: str = "en"
) -> str:
    """Draw the route as SVG text: stages as boxes left to right, their assignees (or,
    with ``state``, the tasks of each stage's latest round with their decisions) stacked
    inside, the current stage highlighted, on_reject loops underneath. Labels are in
    ``labels_lang`` (en, ru, uz; anything else is English). No scripts, no external
    references; all text escaped; ``role="img"`` with a title and a description."""
    words = _WORDS.get(labels_lang, _WORDS["en"])
    lang = labels_lang if labels_lang in _WORDS else "en"
    statuses = _stage_statuses(definition, state)

    blocks: list[list[tuple[str, str]]] = []  # per stage: (symbol, text) rows
    for stage in definition.stages:
        tasks = _latest_tasks(stage, state)
        if tasks:
            blocks.append([_task_text(task, words) for task in tasks])
        else:
            blocks.append([("•", _spec_text(spec, words)) for spec in stage.assignees])

    def details(stage: Stage) -> list[str]:
        lines = [_policy_text(stage, words)]
        extra = []
        if stage.signature:
            extra.append(f"✍ {words['signature']}")
        if stage.deadline_days:
            extra.append(f"{words['days'].format(n=stage.deadline_days)}")
        if extra:
            lines.append(" · ".join(extra))
        if stage.when is not None:
            lines.append(f"{words['if']} {stage.when.text}")
        return lines

    rows = max(len(details(s)) + len(b) for s, b in zip(definition.stages, blocks, strict=True))
    box_h = 40 + LINE * rows + 28
    backs = [s for s in definition.stages if s.on_reject != "end"]
    width = 2 * MARGIN + len(definition.stages) * (BOX_W + GAP) - GAP
    height = TOP + box_h + (36 + 22 * len(backs) if backs else 0) + MARGIN
    ident = f"wf-{definition.code}"
    title = definition.label(lang)
    status_line = ""
    if state is not None:
        status_word = (
            words["cancelled_status"] if state.status == "cancelled" else words[state.status]
        )
        status_line = f"{words['status']}: {status_word} · {words['round']} {state.round}"

    description = []
    for i, (stage, status, block) in enumerate(
        zip(definition.stages, statuses, blocks, strict=True), start=1
    ):
        people = "; ".join(text for _, text in block)
        description.append(f"{i}. {stage.label(lang)} ({words[status]}): {people}")

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="sans-serif" '
        f'font-size="12" lang="{lang}">',
        f'<title id="{ident}-title">{escape(_clean(title))}'
        f"{escape(_clean(' — ' + status_line)) if status_line else ''}</title>",
        f'<desc id="{ident}-desc">{escape(_clean(". ".join(description)))}</desc>',
        "<defs>",
        '<marker id="' + ident + '-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#374151"/></marker>',
        "</defs>",
        _text(MARGIN, 24, title, font_size="16", font_weight="bold", fill="#111827"),
    ]
    if status_line:
        out.append(_text(MARGIN, 44, status_line, fill="#374151"))

    for i, (stage, status, block) in enumerate(
        zip(definition.stages, statuses, blocks, strict=True)
    ):
        x = MARGIN + i * (BOX_W + GAP)
        stroke, fill, stroke_w, dash, mark = _STAGE_STYLE[status]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g id="{ident}-stage-{stage.id}" data-status="{status}">')
        out.append(f"<title>{escape(_clean(stage.label(lang)))}</title>")
        out.append(
            f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{box_h}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{stroke_w}"{dash_attr}/>'
        )
        y = TOP + 20
        out.append(
            _text(x + 10, y, f"{i + 1}. {_fit(stage.label(lang), CHARS - 4)}", font_weight="bold")
        )
        y += 4
        for line in details(stage):
            y += LINE
            out.append(_text(x + 10, y, _fit(line), fill="#4b5563"))
        for symbol, line in block:
            y += LINE
            out.append(_text(x + 10, y, f"{symbol} {_fit(line, CHARS - 2)}", fill="#111827"))
        out.append(
            _text(
                x + 10,
                TOP + box_h - 10,
                f"{mark} {words[status]}",
                fill=stroke,
                font_weight="bold" if status in ("current", "stage_returned") else "normal",
            )
        )
        out.append("</g>")
        if i + 1 < len(definition.stages):
            ya = TOP + box_h / 2
            out.append(
                f'<line x1="{x + BOX_W}" y1="{ya:g}" x2="{x + BOX_W + GAP - 2}" y2="{ya:g}" '
                f'stroke="#374151" stroke-width="1.5" marker-end="url(#{ident}-arrow)"/>'
            )

    bottom = TOP + box_h
    for k, stage in enumerate(backs):
        i = definition.index(stage.id)
        j = definition.index(stage.on_reject)
        x1 = MARGIN + i * (BOX_W + GAP) + BOX_W / 2
        x2 = MARGIN + j * (BOX_W + GAP) + BOX_W / 2
        depth = 24 + 22 * k
        out.append(
            f'<path d="M {x1:g} {bottom} C {x1:g} {bottom + depth}, {x2:g} {bottom + depth}, '
            f'{x2:g} {bottom + 2}" fill="none" stroke="#b91c1c" stroke-width="1.2" '
            f'stroke-dasharray="4 3" marker-end="url(#{ident}-arrow)"/>'
        )
        out.append(
            _text(
                (x1 + x2) / 2,
                bottom + depth * 0.75 + 14,
                f"✗ {words['on_reject']}",
                fill="#b91c1c",
                text_anchor="middle",
            )
        )
    out.append("</svg>")
    return "\n".join(out)
