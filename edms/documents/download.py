"""Sending a stored version's bytes to a client; the pages and the API share it."""

from __future__ import annotations

from flask import send_file
from werkzeug.wrappers import Response

import storage
from edms.documents import services
from edms.documents.models import DocumentVersion

#: Media types a browser may show in a frame of the site instead of downloading.
INLINE_TYPES = frozenset({"application/pdf"})


def send_version(version: DocumentVersion, *, inline: bool = False) -> Response:
    """The version's file, with its media type, ETag and size.

    An attachment, unless ``inline`` is asked for and the type is one a browser
    shows safely (PDF, in its own viewer).
    """
    inline = inline and version.media_type in INLINE_TYPES
    stream = services.open_version(version)
    response = send_file(
        stream,
        mimetype=version.media_type,
        as_attachment=not inline,
        download_name=version.original_filename,
        etag=version.sha256,
        last_modified=version.created_at,
        conditional=True,
        max_age=0,
    )
    response.headers["Content-Length"] = str(version.size)
    response.headers.set(
        "Content-Disposition",
        "inline" if inline else "attachment",
        **storage.content_disposition(version.original_filename),
    )
    # Stored files are never run as pages of this site, whatever they contain. A PDF
    # shown inline cannot be sandboxed (browsers then refuse their PDF viewer), but it
    # may load nothing and only be framed by this site.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; object-src 'self'; frame-ancestors 'self'"
        if inline
        else "sandbox; default-src 'none'"
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response
