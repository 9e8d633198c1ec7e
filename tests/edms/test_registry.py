"""Journals and their gapless yearly numbering."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from edms.db import db
from edms.errors import Conflict, ValidationError
from edms.registry import services
from edms.registry.models import JournalSequence


def test_numbers_are_consecutive_per_journal_and_year(ctx, make_journal) -> None:
    incoming = make_journal("INC", prefix="IN")
    outgoing = make_journal("OUTG", direction="outgoing", prefix="OUT")
    assert [services.next_number(incoming, 2026) for _ in range(3)] == [1, 2, 3]
    assert services.next_number(outgoing, 2026) == 1
    assert services.next_number(incoming, 2027) == 1
    assert incoming.format_number(2026, 123) == "IN-2026/000123"


def test_a_rolled_back_registration_gives_its_number_back(ctx, make_journal) -> None:
    journal = make_journal()
    assert services.next_number(journal, 2026) == 1
    db.session.commit()
    assert services.next_number(journal, 2026) == 2
    db.session.rollback()
    assert services.next_number(journal, 2026) == 2
    seq = db.session.scalar(select(JournalSequence).where(JournalSequence.journal_id == journal.id))
    assert seq is not None
    assert seq.last_value == 2


def test_journal_validation(ctx, make_journal) -> None:
    make_journal("DUP")
    with pytest.raises(Conflict):
        services.create_journal("DUP", "DUP", "Again", "incoming")
    with pytest.raises(ValidationError) as exc:
        services.create_journal("bad code!", "", "", "sideways")
    assert set(exc.value.errors) == {"code", "prefix", "name", "direction"}


def test_unknown_or_inactive_journal_is_refused(ctx, make_journal) -> None:
    journal = make_journal()
    journal.is_active = False
    db.session.flush()
    with pytest.raises(ValidationError, match="journal"):
        services.get_journal(journal.code)
    with pytest.raises(ValidationError, match="journal"):
        services.get_journal("NOPE")


def test_document_types_are_seeded_by_the_migration(ctx) -> None:
    codes = {t.code for t in services.list_document_types()}
    assert {"general", "letter", "application", "order", "decision"} <= codes
