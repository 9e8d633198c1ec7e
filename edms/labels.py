"""Words for codes: translated labels of statuses, directions, decisions ... in templates."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from flask import Blueprint


def label(table: Mapping[str, object], code: str | None) -> str:
    """The (lazily translated) label of ``code`` in ``table``, or the code itself."""
    if code is None:
        return ""
    return str(table.get(code, code))


def label_filters(bp: Blueprint, tables: Mapping[str, Mapping[str, object]]) -> None:
    """Make each table a template filter: ``{{ doc.status|status_label }}``."""
    for name, table in tables.items():
        bp.add_app_template_filter(partial(label, table), name)
