"""Routing documents through workflow definitions: instances, tasks, inbox, decisions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the route pages and the scheduled jobs (deadlines, delegations) with ``app``."""
    from edms.routing import services
    from edms.routing.views import bp

    if "routing" not in app.blueprints:
        app.register_blueprint(bp)
    services.register_jobs()
