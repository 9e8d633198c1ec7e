"""The migrations build the schema the models describe, and undo it."""

from __future__ import annotations

import sqlalchemy as sa

from edms import migrate
from edms.db import Base


def test_upgrade_check_downgrade(fresh_database_url: str) -> None:
    migrate.upgrade(fresh_database_url)
    migrate.check(fresh_database_url)  # raises if models and migrations disagree
    engine = sa.create_engine(fresh_database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrate.downgrade(fresh_database_url, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(fresh_database_url)  # and up again from scratch
    finally:
        engine.dispose()


def test_blob_records_are_backfilled_from_existing_versions(fresh_database_url: str) -> None:
    """Files stored before the blobs table existed become blob records on upgrade."""
    migrate.upgrade(fresh_database_url, "6a74b9b55276")
    engine = sa.create_engine(fresh_database_url)
    key = "ab" * 32
    now = "2026-01-02 03:04:05+00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO departments (id, code, name, created_at, updated_at) "
                    "VALUES (1, 'D', 'D', :now, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO journals (id, code, prefix, name, direction, is_active, created_at, "
                    "updated_at) VALUES (1, 'J', 'J', 'J', 'incoming', true, :now, :now)"
                ),
                {"now": now},
            )
            doc_type = conn.execute(sa.text("SELECT id FROM document_types LIMIT 1")).scalar_one()
            for n, doc_id in enumerate(("11" * 16, "22" * 16), start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO documents (id, title, document_type_id, journal_id, "
                        "registration_number, registration_date, sequence_year, sequence_number, "
                        "direction, summary, language, confidentiality, department_id, status, "
                        "created_at, updated_at) VALUES (:id, 't', :type, 1, :number, '2026-01-02', "
                        "2026, :n, 'incoming', '', 'uz', 'internal', 1, 'registered', :now, :now)"
                    ),
                    {
                        "id": doc_id if engine.dialect.name == "sqlite" else _uuid(doc_id),
                        "type": doc_type,
                        "number": f"J-2026/00000{n}",
                        "n": n,
                        "now": now,
                    },
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO document_versions (id, document_id, number, original_filename, "
                        "media_type, size, sha256, storage_key, comment, created_at) VALUES (:vid, :id, "
                        "1, 'a.pdf', 'application/pdf', 42, :key, :key, '', :now)"
                    ),
                    {
                        "vid": _vid(engine, n),
                        "id": doc_id if engine.dialect.name == "sqlite" else _uuid(doc_id),
                        "key": key,
                        "now": now,
                    },
                )
        migrate.upgrade(fresh_database_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT key, size FROM blobs")).all()
        assert [(r[0], r[1]) for r in rows] == [(key, 42)]  # one blob for both versions
    finally:
        engine.dispose()


def _uuid(hex_id: str) -> str:
    import uuid

    return str(uuid.UUID(hex_id))


def _vid(engine: sa.Engine, n: int) -> str:
    hex_id = f"{n:032x}"
    return hex_id if engine.dialect.name == "sqlite" else _uuid(hex_id)
