"""Sending a stored version's bytes to a client; the pages and the API share it."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import send_file
from werkzeug.wrappers import Response

from edms.documents import services
from edms.documents.models import DocumentVersion


def disposition(filename: str) -> dict[str, str]:
    """``filename`` for old clients and, for a non-ASCII name, ``filename*`` in UTF-8.

    The ASCII fallback of an all-Cyrillic name would be a bare ``.pdf``; it is then
    ``document.pdf``. Quoting and escaping are left to werkzeug's header writer.
    """
    if filename.isascii():
        return {"filename": filename}
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()-]+", "", ascii_name).strip()
    stem, dot, ext = ascii_name.rpartition(".")
    if not any(ch.isalnum() for ch in (stem if dot else ascii_name)):
        ascii_name = f"document.{ext}" if dot and ext.isalnum() else "document"
    return {"filename": ascii_name, "filename*": "UTF-8''" + quote(filename, safe="")}


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
        "Content-Disposition", "attachment", **disposition(version.original_filename)
    )
    # Stored files are never run as pages of this site, whatever they contain.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
