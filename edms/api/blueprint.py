"""What every API route shares: Bearer token authentication and request body parsing."""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any, TypeVar

import marshmallow as ma
from flask import Request, g, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from edms.auth.services import user_for_token
from edms.db import db
from edms.errors import AuthenticationRequired

F = TypeVar("F", bound=Callable[..., Any])


def authenticate() -> None:
    """Before each API request: the user of the ``Authorization: Bearer`` token, or 401.

    Only the token counts: a session cookie the client may also send is ignored,
    so a page visited in the browser cannot make API calls in the user's name.
    """
    g.pop("user", None)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationRequired("Send an API token as 'Authorization: Bearer <token>'.")
    user = user_for_token(token)
    if user is None:
        raise AuthenticationRequired("The API token is not valid, or it has been revoked.")
    db.session.commit()  # the token's last use, kept whatever the request does next
    g.user = user


class ApiParser(FlaskParser):
    """webargs for the API: forms are multipart, body types are strict.

    - ``form``: the fields and the files of a ``multipart/form-data`` body,
      together, so one schema documents and reads them; another content type
      is a 415, a body that does not parse is a 400 (werkzeug itself would
      quietly see an empty form).
    - ``json``: a body that is not ``application/json`` is a 415 rather than
      being read as ``{}``.
    - Unknown query parameters are refused (422), like unknown body fields.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_form(self, req: Request, schema: ma.Schema) -> Any:
        if req.mimetype != "multipart/form-data":
            raise UnsupportedMediaType(
                f"The request body must be multipart/form-data, not {req.mimetype or 'missing'}."
            )
        if not req.mimetype_params.get("boundary"):
            raise BadRequest("The multipart/form-data Content-Type has no boundary.")
        form, files = req.form, req.files  # a body over the limit raises 413 here
        if not form and not files:
            raise BadRequest(
                "The request body is not valid multipart/form-data (is the boundary "
                "right?), or it has no parts."
            )
        merged: MultiDict[str, Any] = MultiDict(form.items(multi=True))
        for name in files:  # a file part wins over a text part of the same name
            merged.setlist(name, files.getlist(name))
        return self._makeproxy(merged, schema)

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            raise UnsupportedMediaType(
                f"The request body must be application/json, not {req.mimetype or 'missing'}."
            )
        return super()._raw_load_json(req)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint whose routes need a token and answer problems."""

    ARGUMENTS_PARSER = ApiParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form": "multipart/form-data",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_request(authenticate)

    def problems(self, *statuses: int) -> Callable[[F], F]:
        """Document that the route may answer with these error statuses (problem+json)."""

        def decorator(func: F) -> F:
            for status in statuses:
                func = self.alt_response(status, response=http.HTTPStatus(status).name)(func)
            return func

        return decorator
