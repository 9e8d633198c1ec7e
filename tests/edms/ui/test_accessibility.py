"""Structure every page needs for keyboards and screen readers (WCAG 2.1 AA intent)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from edms.auth.models import User
from edms.documents.models import Document
from edms.registry.models import Journal
from tests.conftest import csrf_token, login
from tests.edms.ui.conftest import Page


def check_page(html: str, locale: str) -> Page:
    page = Page(html)
    assert page.html_lang == locale
    assert page.h1_count == 1, "exactly one <h1>"
    assert page.links, "the page has links"
    assert page.links[0][0] == "#main", "the skip link comes first"
    assert page.find("main", id="main"), "the skip link has a target"
    ids = page.ids()
    assert len(ids) == len(set(ids)), (
        f"duplicate ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    )
    for tag, attrs in page.controls():
        assert attrs.get("id"), f"<{tag} name={attrs.get('name')}> has no id"
        assert attrs["id"] in page.label_for, f"<{tag} id={attrs['id']}> has no <label for>"
        for described in attrs.get("aria-describedby", "").split():
            assert described in ids, f"aria-describedby points at a missing id {described}"
        if attrs.get("aria-invalid") == "true":
            assert attrs.get("aria-describedby"), "an invalid field says why"
    for _tag, attrs in page.tags:
        if _tag == "th" and "scope" not in attrs:
            raise AssertionError("every <th> has a scope")
    return page


@pytest.fixture
def pages(
    clerk_client: FlaskClient,
    clerk: User,
    make_document: Callable[..., Document],
    make_journal: Callable[..., Journal],
) -> Callable[[], dict[str, Any]]:
    journal = make_journal("IN", prefix="IN")
    doc = make_document(clerk, journal=journal, title="A letter")
    make_document(clerk, journal=journal, title="Reply", reply_to=doc.registration_number)

    def fetch() -> dict[str, Any]:
        client = clerk_client
        token = csrf_token(client, "/documents")
        return {
            "/documents": client.get("/documents"),
            "/documents?bad": client.get("/documents?date_from=x"),
            "/documents/new": client.get("/documents/new"),
            "/documents/new (errors)": client.post(
                "/documents/new",
                data={"csrf_token": token, "journal": "", "title": "", "correspondent_tin": "1"},
                content_type="multipart/form-data",
            ),
            "detail": client.get(f"/documents/{doc.id}"),
            "detail (comment error)": client.post(
                f"/documents/{doc.id}/comments", data={"csrf_token": token, "body": ""}
            ),
            "detail (share error)": client.post(
                f"/documents/{doc.id}/share", data={"csrf_token": token, "username": "nobody"}
            ),
            "edit": client.get(f"/documents/{doc.id}/edit"),
            "new version": client.get(f"/documents/{doc.id}/versions/new"),
            "new version (error)": client.post(
                f"/documents/{doc.id}/versions/new",
                data={"csrf_token": token, "file": (io.BytesIO(b""), "x.pdf")},
                content_type="multipart/form-data",
            ),
            "/account/password": client.get("/account/password"),
            "/account/password (error)": client.post(
                "/account/password", data={"csrf_token": token, "current_password": "x"}
            ),
            "/account/tokens": client.get("/account/tokens"),
            "/account/tokens (new)": client.post(
                "/account/tokens", data={"csrf_token": token, "name": "Script"}
            ),
            "not found": client.get("/no/such/page"),
        }

    return fetch


@pytest.mark.parametrize("locale", ["en", "ru", "uz"])
def test_pages_are_structured_for_assistive_technology(
    clerk_client: FlaskClient, pages: Callable[[], dict[str, Any]], locale: str
) -> None:
    clerk_client.post(
        "/language", data={"csrf_token": csrf_token(clerk_client, "/documents"), "lang": locale}
    )
    for name, reply in pages().items():
        html = reply.get_data(as_text=True)
        try:
            check_page(html, locale)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({locale}): {exc}") from exc


def test_login_page_structure(client: FlaskClient) -> None:
    check_page(client.get("/login").get_data(as_text=True), "en")
    failed = client.post(
        "/login", data={"csrf_token": csrf_token(client), "username": "x", "password": "y"}
    )
    check_page(failed.get_data(as_text=True), "en")


def test_current_page_is_marked_in_the_menu(clerk_client: FlaskClient) -> None:
    for url in ("/documents", "/documents/new", "/account/tokens", "/account/password"):
        page = Page(clerk_client.get(url).get_data(as_text=True))
        current = [a for a in page.find("a") if a.get("aria-current") == "page"]
        assert [a["href"] for a in current] == [url]


def test_error_summary_links_to_the_fields(clerk_client: FlaskClient) -> None:
    reply = clerk_client.post(
        "/account/password",
        data={"csrf_token": csrf_token(clerk_client, "/account/password")},
    )
    page = Page(reply.get_data(as_text=True))
    summary = page.find("div", class_="error-summary")
    assert summary
    assert summary[0]["role"] == "alert"
    targets = [href[1:] for href, _text in page.links if href.startswith("#") and href != "#main"]
    assert targets == ["current_password", "new_password", "confirm_password"]
    for target in targets:
        field = page.find("input", id=target)[0]
        assert field["aria-invalid"] == "true"
        assert f"{target}-error" in field["aria-describedby"]


def test_page_title_says_there_is_an_error(client: FlaskClient, clerk: User) -> None:
    reply = client.post("/login", data={"csrf_token": csrf_token(client)})
    assert "<title>Error: Log in — EDMS</title>" in reply.get_data(as_text=True)
    login(client, clerk)
    assert "<title>Registry — EDMS</title>" in client.get("/documents").get_data(as_text=True)


def test_pages_work_without_external_resources(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    page = Page(html)
    for tag, attrs in page.tags:
        for attr in ("src", "href"):
            value = attrs.get(attr, "")
            assert not value.startswith(("http:", "https:", "//")), f"<{tag} {attr}={value}>"
    css = client.get("/static/edms.css")
    assert css.status_code == 200
    assert b"@import" not in css.data
    assert b"url(http" not in css.data
    css.close()
