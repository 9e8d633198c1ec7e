"""The JSON API under /api/v1 (flask-smorest, OpenAPI 3 at /api/v1/openapi.json).

Clients authenticate with ``Authorization: Bearer <token>`` (tokens are made on
the account page); errors are RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

import http
from typing import Any

from flask import Flask

from edms.extensions import Api, csrf

SECURITY_SCHEME = "bearerAuth"
PROBLEM_CONTENT_TYPE = "application/problem+json"

_DESCRIPTION = """\
Send an API token (made on your account page) in every request as
`Authorization: Bearer <token>`; cookies are not used.

Errors are RFC 9457 problems (`application/problem+json`). Invalid input is a
422 whose `errors` name each field at fault.
"""


def init_api(app: Flask) -> None:
    from edms.api.schemas import ProblemSchema
    from edms.api.views import blueprints

    api = Api()
    # flask-smorest documents its error responses with ERROR_SCHEMA.
    api.ERROR_SCHEMA = ProblemSchema
    app.extensions["edms.api"] = api
    api.init_app(
        app,
        spec_kwargs={
            "info": {"description": _DESCRIPTION},
            "security": [{SECURITY_SCHEME: []}],
        },
    )
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "An EDMS API token (edms_...)."},
    )
    _errors_are_problems(api, api.spec.components.responses_lazy)
    for blueprint in blueprints:
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")


def _errors_are_problems(api: Api, responses: dict[str, dict[str, Any]]) -> None:
    """Give flask-smorest's error responses the content type ``edms.errors`` sends."""
    for name, response in responses.items():
        if name != api.DEFAULT_ERROR_RESPONSE_NAME and http.HTTPStatus[name] < 400:
            continue
        content = response.get("content", {})
        if "application/json" in content:
            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
