"""PDF signing and verification over pyHanko (no Flask or SQLAlchemy). Comes with the signing issue."""

from __future__ import annotations

__all__: list[str] = []
