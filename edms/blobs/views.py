"""Serving app-signed download links (``/files/<key>?expires=..&signature=..``)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, current_app, request
from werkzeug.wrappers import Response

import storage
from edms.errors import PermissionDenied
from edms.wiring import url_signer

bp = Blueprint("files", __name__)


@bp.get("/files/<key>")
def signed_file(key: str) -> Response:
    """The object a signed link names, while the link is valid; no login needed."""
    args = request.args
    filename = args.get("filename") or None
    content_type = args.get("content_type") or None
    signer = url_signer(current_app.config["EDMS"])
    if not signer.verify(
        key, args.get("expires", ""), args.get("signature", ""), filename, content_type
    ):
        raise PermissionDenied("This link is not valid or has expired.", object_type="blob")
    store: storage.ObjectStore = current_app.extensions["edms.storage"]
    size = store.stat(key).size
    response = Response(
        _stream(store, key),
        mimetype=content_type or "application/octet-stream",
        direct_passthrough=True,
    )
    response.content_length = size
    response.headers.set(
        "Content-Disposition", "attachment", **storage.content_disposition(filename or key)
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _stream(store: storage.ObjectStore, key: str) -> Iterator[bytes]:
    with store.open(key) as fh:
        while chunk := fh.read(storage.CHUNK_SIZE):
            yield chunk
