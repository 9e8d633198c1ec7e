"""Checks of identifiers and file names shared by forms, the API and services."""

from __future__ import annotations

import re
import unicodedata

TIN_RE = re.compile(r"\d{9}")
PINFL_RE = re.compile(r"\d{14}")
MAX_FILENAME_BYTES = 255


def tin_problem(value: str) -> str | None:
    """Why ``value`` is not a TIN (9 digits), or None. The value itself is never echoed."""
    if not TIN_RE.fullmatch(value):
        return "a TIN is exactly 9 digits"
    if value[0] == "0":
        return "a TIN does not start with 0"
    return None


def pinfl_problem(value: str) -> str | None:
    """Why ``value`` is not a PINFL (14 digits), or None."""
    if not PINFL_RE.fullmatch(value):
        return "a PINFL is exactly 14 digits"
    if value[0] not in "123456":
        return "a PINFL starts with a digit from 1 to 6"
    return None


def filename_problem(name: str | None) -> str | None:
    """Why a client-supplied file name cannot be kept, or None if it is acceptable."""
    if not name or not name.strip():
        return "the file has no name"
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        return "the file name must not contain a path ('/', '\\' or '..')"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Cn", "Zl", "Zp") for ch in name):
        return "the file name must not contain control characters"
    if len(unicodedata.normalize("NFC", name).encode()) > MAX_FILENAME_BYTES:
        return f"the file name must be at most {MAX_FILENAME_BYTES} bytes long"
    return None


def clean_filename(name: str) -> str:
    return unicodedata.normalize("NFC", name.strip())


def text_problem(value: str, max_length: int) -> str | None:
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value):
        return "must not contain control characters"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    return None
