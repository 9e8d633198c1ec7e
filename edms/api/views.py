"""API routes (to be filled)."""

from __future__ import annotations

from flask_smorest import Blueprint

blueprints: list[Blueprint] = []
