"""The JSON API under /api/v1 (flask-smorest, OpenAPI 3 at /api/v1/openapi.json)."""

from __future__ import annotations

from flask import Flask

from edms.extensions import api, csrf


def init_api(app: Flask) -> None:
    from edms.api.views import blueprints

    api.init_app(app)
    for blueprint in blueprints:
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
