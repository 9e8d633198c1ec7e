"""Keeping stored bytes whole: blob records, fixity checks, garbage collection, migration."""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

import storage
from edms.audit import services as audit
from edms.blobs.models import Blob, FixityCheck, FixityStatus
from edms.db import db, upsert, utcnow
from edms.documents.models import DocumentVersion
from edms.errors import ServiceUnavailable
from edms.portal.models import ApplicationFile

logger = logging.getLogger(__name__)

#: Every column that holds a storage key. A blob referred to by none of them is garbage.
REFERENCES = [DocumentVersion.storage_key, ApplicationFile.storage_key]

Progress = Callable[[Iterable[str], int, str], Iterable[str]]


def _no_progress(items: Iterable[str], total: int, label: str) -> Iterable[str]:
    return items


def get_store() -> storage.ObjectStore:
    from flask import current_app

    store: storage.ObjectStore = current_app.extensions["edms.storage"]
    return store


# Content addressing means one object may be wanted by several requests at once: a
# request whose put found the object already there, and another (or the garbage
# collector) about to delete that object because nothing refers to it yet. Both go
# through ``_claim``, an upsert of the key's row in ``blobs``: on PostgreSQL it waits
# for any other transaction holding the row (even one that has only inserted it), on
# SQLite write transactions take turns anyway. So a deleter sees every reference a
# claimer commits, and a claimer that finds the row gone checks that the object is
# still there before it refers to it.


def _claim(session: Session, key: str, size: int = 0) -> bool:
    """Lock (creating if need be) the key's row; True if no row existed before."""
    now = utcnow()
    insert = upsert(Blob, session).values(key=key, size=size, stored_at=now)
    stmt = insert.on_conflict_do_update(  # an update that changes nothing, for its row lock
        index_elements=[Blob.key], set_={"key": insert.excluded.key}
    ).returning(Blob.stored_at)
    return bool(session.execute(stmt).scalar_one() == now)


def _referenced(session: Session, key: str) -> bool:
    return any(
        session.scalar(select(column).where(column == key).limit(1)) is not None
        for column in REFERENCES
    )


def record(stored: storage.StoredObject) -> None:
    """Note a stored object in the current transaction, before a record refers to it.

    If the put found the object already there but its row is gone, a deleter may
    have removed the object since: refuse rather than refer to a missing file.
    """
    inserted = _claim(db.session(), stored.key, stored.size)
    if inserted and not stored.created and not get_store().exists(stored.key):
        raise ServiceUnavailable("The file was being removed as it arrived; please send it again.")


def discard(store: storage.ObjectStore, key: str, bind: Any) -> bool:
    """Delete the object and its row unless a committed record refers to it; True if deleted.

    Runs in a session of its own, committed here.
    """
    with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
        _claim(session, key)
        if _referenced(session, key):
            session.rollback()
            return False
        store.delete(key)
        session.execute(delete(Blob).where(Blob.key == key))
        session.commit()
    return True


def discard_if_unreferenced(store: storage.ObjectStore, key: str) -> None:
    """Remove a blob that a failed request stored, unless something refers to it now.

    Runs after the request's session has ended.
    """
    from flask import current_app

    if discard(store, key, current_app.extensions["edms.db"]["bind"]):
        logger.info("removed blob %s left by a failed request", key[:12])


def referenced_keys() -> set[str]:
    keys: set[str] = set()
    for column in REFERENCES:
        keys.update(db.session.scalars(select(column).distinct()))
    return keys


# Fixity ----------------------------------------------------------------------


@dataclass
class FixityReport:
    run_id: str
    checked: int = 0
    ok: int = 0
    damaged: dict[str, str] = field(default_factory=dict)  # key -> status

    @property
    def clean(self) -> bool:
        return not self.damaged


def _hash_object(store: storage.ObjectStore, key: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with store.open(key) as stream:
        while chunk := stream.read(storage.CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_blob(store: storage.ObjectStore, blob: Blob, run_id: str) -> FixityCheck:
    """Re-read one blob and compare its SHA-256 and size with what was stored."""
    actual_sha: str | None = None
    actual_size: int | None = None
    detail = ""
    try:
        actual_sha, actual_size = _hash_object(store, blob.key)
    except storage.ObjectNotFound:
        status = FixityStatus.MISSING
    except storage.StorageError as exc:
        status, detail = FixityStatus.UNREADABLE, str(exc)[:500]
    else:
        same = actual_sha == blob.key and actual_size == blob.size
        status = FixityStatus.OK if same else FixityStatus.CHANGED
    check = FixityCheck(
        run_id=run_id,
        blob_key=blob.key,
        status=status.value,
        actual_sha256=actual_sha,
        actual_size=actual_size,
        detail=detail,
    )
    blob.checked_at = check.checked_at = utcnow()
    blob.check_status = status.value
    db.session.add(check)
    return check


def fixity(
    *,
    sample: int | None = None,
    since: timedelta | None = None,
    progress: Progress = _no_progress,
    commit_every: int = 100,
) -> FixityReport:
    """Check every blob (or a random ``sample`` of them, or those stored ``since`` ago).

    Results are committed as the run goes, so an interrupted run keeps what it found.
    """
    store = get_store()
    query = select(Blob.key)
    if since is not None:
        query = query.where(Blob.stored_at >= utcnow() - since)
    keys = list(db.session.scalars(query.order_by(Blob.key)))
    if sample is not None and sample < len(keys):
        keys = sorted(random.SystemRandom().sample(keys, sample))
    report = FixityReport(run_id=str(uuid.uuid4()))
    for n, key in enumerate(progress(keys, len(keys), "fixity"), start=1):
        blob = db.session.get(Blob, key)
        if blob is None:  # removed meanwhile
            continue
        check = check_blob(store, blob, report.run_id)
        report.checked += 1
        if check.status == FixityStatus.OK:
            report.ok += 1
        else:
            report.damaged[key] = check.status
            logger.error("fixity: blob %s is %s", key, check.status)
        if n % commit_every == 0:
            db.session.commit()
    audit.record(
        "storage.fixity",
        "storage",
        report.run_id,
        {"checked": report.checked, "ok": report.ok, "damaged": report.damaged},
    )
    db.session.commit()
    return report


# Garbage collection ----------------------------------------------------------


@dataclass
class GcReport:
    unreferenced: list[str] = field(default_factory=list)  # old enough to go
    too_recent: int = 0  # unreferenced, but inside the grace period
    leftovers: list[str] = field(default_factory=list)  # of interrupted uploads
    deleted: bool = False


def gc(
    grace: timedelta, *, delete_now: bool = False, progress: Progress = _no_progress
) -> GcReport:
    """Find (and with ``delete_now`` remove) blobs no record refers to, older than ``grace``.

    A blob younger than the grace period may belong to an upload whose
    transaction has not committed yet, so it is always kept.
    """
    store = get_store()
    referenced = referenced_keys()
    cutoff = utcnow() - grace
    report = GcReport(deleted=delete_now)
    stored = list(store.keys())
    for key in progress(stored, len(stored), "scan"):
        if key in referenced:
            continue
        try:
            modified = store.stat(key).modified
        except storage.ObjectNotFound:
            continue
        if modified < cutoff:
            report.unreferenced.append(key)
        else:
            report.too_recent += 1
    report.leftovers = list(store.incomplete(grace))
    if delete_now:
        from flask import current_app

        bind = current_app.extensions["edms.db"]["bind"]
        # Each one claimed and checked again: a reference may have come meanwhile.
        report.unreferenced = [key for key in report.unreferenced if discard(store, key, bind)]
        for name in report.leftovers:
            store.remove_incomplete(name)
        audit.record(
            "storage.gc",
            "storage",
            None,
            {
                "store": store.describe(),
                "deleted": len(report.unreferenced),
                "leftovers": len(report.leftovers),
            },
        )
        db.session.commit()
    return report


# Migration -------------------------------------------------------------------


@dataclass
class MigrationReport:
    copied: int = 0
    already_there: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def migrate(target: storage.ObjectStore, *, progress: Progress = _no_progress) -> MigrationReport:
    """Copy every blob to ``target``, verifying each copy's SHA-256; safe to run again.

    A blob already in the target with the right size is skipped, so an interrupted
    migration resumes where it stopped. The source is never changed.
    """
    source = get_store()
    target.check()
    report = MigrationReport()
    rows = list(db.session.execute(select(Blob.key, Blob.size).order_by(Blob.key)))
    sizes = dict(rows)
    for key in progress([key for key, _ in rows], len(rows), "copy"):
        try:
            if target.exists(key) and target.stat(key).size == sizes[key]:
                report.already_there += 1
                continue
            with source.open(key) as stream:
                copy = target.put(stream)
        except storage.StorageError as exc:
            report.failed[key] = str(exc)
            continue
        if copy.key != key or copy.size != sizes[key]:
            # The source's bytes are not what was stored: never pass damage on.
            if copy.created:
                target.delete(copy.key)
            report.failed[key] = f"the source object is damaged (hashes to {copy.key[:12]}…)"
            continue
        report.copied += 1
    audit.record(
        "storage.migrate",
        "storage",
        None,
        {
            "target": target.describe(),
            "copied": report.copied,
            "skipped": report.already_there,
            "failed": len(report.failed),
        },
    )
    db.session.commit()
    return report


def switch_storage_url(config_file: str, url: str) -> None:
    """Set ``storage_url`` in a TOML configuration file, keeping the rest of it as it is."""
    import json
    import os
    import re
    import tomllib
    from pathlib import Path

    path = Path(config_file)
    text = path.read_text() if path.exists() else ""
    line = f"storage_url = {json.dumps(url)}"  # a JSON string is a valid TOML basic string
    pattern = re.compile(r"^storage_url\s*=.*$", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(line, text)
    else:
        text = f"{text.rstrip()}\n{line}\n".lstrip("\n")
    tomllib.loads(text)  # never write a file the application could not read
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
