"""Routing documents through workflow definitions: instances, tasks, inbox, decisions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the route pages with ``app`` (importing the services registers their jobs)."""
    from edms.routing.admin import bp as admin_bp
    from edms.routing.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
