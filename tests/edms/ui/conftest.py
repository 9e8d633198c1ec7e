"""Fixtures of the UI tests: compiled message catalogues, logged-in clients, HTML checks."""

from __future__ import annotations

import html as html_lib
import os
import re
import tempfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from edms.auth.models import Role, User
from tests.conftest import csrf_token, login

TRANSLATIONS = Path(__file__).resolve().parents[3] / "edms" / "translations"


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``<lang>/LC_MESSAGES/messages.po`` that is newer than its ``.mo``.

    Like ``pybabel compile -f`` (fuzzy entries kept), written to a temporary file and
    renamed, so parallel test workers never read a half-written catalogue.
    """
    compiled = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with open(po_path, "rb") as fh:
            catalog = read_po(fh, locale=po_path.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog, use_fuzzy=True)
            os.replace(tmp, mo_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        compiled.append(mo_path)
    return compiled


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues(app: Flask) -> None:
    """The .mo files are build products git ignores: make them, so `pytest` alone works."""
    from edms.extensions import babel

    compile_catalogues()
    # Flask-Babel caches the catalogues it loaded, maybe before the .mo files existed.
    with app.app_context():
        babel.domain_instance.cache.clear()


# Clients ------------------------------------------------------------------------


@pytest.fixture
def clerk(make_user: Callable[..., User]) -> User:
    return make_user(Role.CLERK)


@pytest.fixture
def clerk_client(client: FlaskClient, clerk: User) -> FlaskClient:
    login(client, clerk)
    return client


def form_login(client: FlaskClient, username: str, password: str, url: str = "/login") -> Any:
    """Log in through the form, as a browser does."""
    token = csrf_token(client, url)
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


# HTML ----------------------------------------------------------------------------


class Page(HTMLParser):
    """The parts of a page the accessibility checks look at."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.label_for: list[str] = []
        self.h1_count = 0
        self.html_lang: str | None = None
        self.links: list[tuple[str, str]] = []
        self._link: dict[str, Any] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "html":
            self.html_lang = values.get("lang")
        elif tag == "h1":
            self.h1_count += 1
        elif tag == "label" and values.get("for"):
            self.label_for.append(values["for"])
        elif tag == "a":
            self._link = {"href": values.get("href", ""), "text": ""}

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((self._link["href"], " ".join(self._link["text"].split())))
            self._link = None

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            values
            for name, values in self.tags
            if name == tag and all(values.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def controls(self) -> list[tuple[str, dict[str, str]]]:
        """Inputs, selects and text areas a person fills in (not hidden fields or buttons)."""
        skip = {"hidden", "submit", "button", "reset", "image"}
        return [
            (tag, values)
            for tag, values in self.tags
            if tag in ("select", "textarea")
            or (tag == "input" and values.get("type", "text") not in skip)
        ]

    def ids(self) -> list[str]:
        return [values["id"] for _tag, values in self.tags if values.get("id")]


def text_of(html: str) -> str:
    """The visible text of a page with its whitespace collapsed (for "in" checks)."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())
