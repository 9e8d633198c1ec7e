"""Time-limited download links: presigned by S3, or signed by the application."""

from __future__ import annotations

import urllib.request
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import select

import storage
from edms.audit.models import AuditEvent
from edms.db import db
from tests.edms.api.conftest import problem


def _follow(client, url: str):
    """Fetch a link as a browser would: the app for its own links, S3 over HTTP."""
    parts = urlsplit(url)
    if parts.path.startswith("/files/"):
        return client.get(f"{parts.path}?{parts.query}")
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback test server
        return reply.status, reply.read(), reply.headers


def test_link_downloads_without_a_token(api, client, store, make_user, make_document, token_for):
    clerk = make_user("clerk")
    doc = make_document(clerk, content=b"%PDF-1.4 linked\n", filename="Xat.pdf")
    token = token_for(clerk)
    reply = api.get(f"/documents/{doc.id}/versions/1/link?minutes=5", token)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["url"].startswith("http")
    assert body["expires_at"]
    fetched = _follow(client, body["url"])
    if isinstance(store, storage.S3Store):
        status, data, _headers = fetched
        assert status == 200
        assert data == b"%PDF-1.4 linked\n"
    else:
        assert fetched.status_code == 200
        assert fetched.data == b"%PDF-1.4 linked\n"
        assert fetched.mimetype == "application/pdf"
        assert "filename=Xat.pdf" in fetched.headers["Content-Disposition"]
        assert "sandbox" in fetched.headers["Content-Security-Policy"]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "document.link"))
    assert [e.details for e in events] == [{"version": 1, "minutes": 5}]


def test_altered_or_expired_links_are_refused(
    api, client, store, make_user, make_document, token_for
):
    if isinstance(store, storage.S3Store):
        return  # S3 checks its own signatures; this is about the application's links
    clerk = make_user("clerk")
    doc = make_document(clerk)
    url = api.get(f"/documents/{doc.id}/versions/1/link", token_for(clerk)).get_json()["url"]
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    altered = {**query, "content_type": "text/html"}
    assert client.get(f"{parts.path}?{urlencode(altered)}").status_code == 403
    expired = {**query, "expires": "1000"}
    assert client.get(f"{parts.path}?{urlencode(expired)}").status_code == 403
    other = parts.path.rsplit("/", 1)[0] + "/" + "0" * 64
    assert client.get(f"{other}?{parts.query}").status_code == 403
    assert client.get(parts.path).status_code == 403


def test_link_needs_access_and_a_sane_duration(api, make_user, make_document, token_for):
    owner = make_user("clerk")
    doc = make_document(owner)
    stranger = make_user("clerk")
    problem(api.get(f"/documents/{doc.id}/versions/1/link", token_for(stranger)), 404)
    token = token_for(owner)
    problem(api.get(f"/documents/{doc.id}/versions/1/link?minutes=0", token), 422, "minutes")
    problem(api.get(f"/documents/{doc.id}/versions/1/link?minutes=99999", token), 422, "minutes")
    problem(api.get(f"/documents/{doc.id}/versions/1/link?minutes=soon", token), 422, "minutes")
    problem(api.get(f"/documents/{doc.id}/versions/9/link", token), 404)
