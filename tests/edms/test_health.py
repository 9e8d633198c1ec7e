"""/healthz tells whether the database and the storage can be used."""

from __future__ import annotations

import sqlalchemy as sa

from edms.db import db
from storage import MemoryStore


def test_healthy(client) -> None:
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json == {
        "status": "up",
        "checks": {"database": {"status": "up"}, "storage": {"status": "up"}},
    }


def test_storage_down(app, client) -> None:
    down = MemoryStore()
    down.available = False
    app.extensions["edms.storage"] = down
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json["checks"]["storage"]["status"] == "down"
    assert reply.json["checks"]["database"]["status"] == "up"


def test_database_down(app, client, tmp_path) -> None:
    broken = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/edms.sqlite3")
    saved = app.extensions["edms.db"]["bind"]
    db.set_bind(app, broken)
    try:
        reply = client.get("/healthz")
    finally:
        db.set_bind(app, saved)
    assert reply.status_code == 503
    assert reply.json["checks"]["database"]["status"] == "down"
    assert "missing" not in reply.get_data(as_text=True)  # no paths or URLs leak


def test_security_headers(client) -> None:
    reply = client.get("/login")
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "SAMEORIGIN"
