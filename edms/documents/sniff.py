"""Media types from content (libmagic), never from what the client claims."""

from __future__ import annotations

import magic

SNIFF_BYTES = 64 * 1024

# libmagic calls some formats by a container type; the file name extension and a
# member name in the head of the archive say which format it really is.
_ZIP_FORMATS = {
    ".docx": (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".xlsx": (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".pptx": (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
}
_TEXT_FORMATS = {".csv": "text/csv", ".md": "text/markdown"}


def sniff(head: bytes, filename: str) -> str:
    """The media type of content that starts with ``head``."""
    detected: str = magic.from_buffer(head, mime=True) or "application/octet-stream"
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if detected in ("application/zip", "application/octet-stream") and ext in _ZIP_FORMATS:
        marker, media_type = _ZIP_FORMATS[ext]
        if head.startswith(b"PK") and marker in head:
            return media_type
    if detected == "text/plain" and ext in _TEXT_FORMATS:
        return _TEXT_FORMATS[ext]
    return detected
