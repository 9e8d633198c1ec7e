"""Sending a stored version's bytes to a client; the pages and the API share it."""

from __future__ import annotations

from flask import send_file
from werkzeug.wrappers import Response

import storage
from edms.documents import services
from edms.documents.models import DocumentVersion


def send_version(version: DocumentVersion) -> Response:
    """The version's file as an attachment, with its media type, ETag and size."""
    stream = services.open_version(version)
    response = send_file(
        stream,
        mimetype=version.media_type,
        as_attachment=True,
        download_name=version.original_filename,
        etag=version.sha256,
        last_modified=version.created_at,
        conditional=True,
        max_age=0,
    )
    response.headers["Content-Length"] = str(version.size)
    response.headers.set(
        "Content-Disposition",
        "attachment",
        **storage.content_disposition(version.original_filename),
    )
    # Stored files are never run as pages of this site, whatever they contain.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
