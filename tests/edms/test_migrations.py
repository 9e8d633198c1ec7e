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
