"""Workflow definitions and engine (plain Python, no Flask or SQLAlchemy). Comes with the workflows issue."""

from __future__ import annotations

__all__: list[str] = []
