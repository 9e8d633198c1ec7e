"""Blob records, fixity checks, garbage collection and migration between backends."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import storage
from edms.blobs import services
from edms.blobs.models import Blob, FixityCheck
from edms.db import db
from storage import LocalStore, S3Store


def corrupt(store: storage.ObjectStore, key: str, data: bytes = b"tampered") -> None:
    """Change an object's bytes behind the application's back."""
    if isinstance(store, LocalStore):
        (store.root / "objects" / key[:2] / key[2:4] / key).write_bytes(data)
    elif isinstance(store, S3Store):
        client: Any = store._client
        client.put_object(store.bucket, store._name(key), io.BytesIO(data), len(data))
    else:
        raise NotImplementedError(type(store))


def test_each_stored_file_is_one_blob_row(ctx, make_user, make_document) -> None:
    clerk = make_user("clerk")
    make_document(clerk, content=b"same")
    make_document(clerk, content=b"same")
    make_document(clerk, content=b"other")
    assert db.session.scalar(select(func.count()).select_from(Blob)) == 2


def test_fixity_finds_changed_and_missing_blobs(ctx, store, make_user, make_document) -> None:
    clerk = make_user("clerk")
    docs = [make_document(clerk, content=f"document {i}".encode()) for i in range(4)]
    keys = [d.versions[0].storage_key for d in docs]
    report = services.fixity()
    assert (report.checked, report.ok, report.damaged) == (4, 4, {})

    corrupt(store, keys[0])
    store.delete(keys[1])
    report = services.fixity()
    assert report.damaged == {keys[0]: "changed", keys[1]: "missing"}
    assert not report.clean
    changed = db.session.get(Blob, keys[0])
    assert changed is not None
    assert changed.check_status == "changed"
    assert changed.checked_at is not None
    checks = db.session.scalars(
        select(FixityCheck).where(FixityCheck.run_id == report.run_id)
    ).all()
    assert len(checks) == 4
    bad = next(c for c in checks if c.blob_key == keys[0])
    assert bad.actual_size == len(b"tampered")
    assert bad.actual_sha256 != keys[0]


def test_fixity_sample_and_since(ctx, make_user, make_document) -> None:
    clerk = make_user("clerk")
    for i in range(5):
        make_document(clerk, content=f"sampled {i}".encode())
    assert services.fixity(sample=2).checked == 2
    assert services.fixity(since=timedelta(days=1)).checked == 5
    old = db.session.scalars(select(Blob)).first()
    assert old is not None
    old.stored_at = old.stored_at - timedelta(days=30)
    db.session.commit()
    assert services.fixity(since=timedelta(days=1)).checked == 4


def test_gc_removes_only_old_unreferenced_blobs(ctx, store, make_user, make_document) -> None:
    doc = make_document(make_user("clerk"), content=b"kept")
    kept = doc.versions[0].storage_key
    orphan = store.put(io.BytesIO(b"nobody refers to me")).key

    young = services.gc(timedelta(hours=1))
    assert young.unreferenced == []
    assert young.too_recent == 1

    dry = services.gc(timedelta(0))
    assert dry.unreferenced == [orphan]
    assert store.exists(orphan)  # a dry run deletes nothing

    done = services.gc(timedelta(0), delete_now=True)
    assert done.unreferenced == [orphan]
    assert not store.exists(orphan)
    assert store.exists(kept)


def test_migrate_copies_verifies_and_resumes(
    ctx, store, tmp_path, make_user, make_document
) -> None:
    clerk = make_user("clerk")
    keys = [
        make_document(clerk, content=f"move {i}".encode()).versions[0].storage_key for i in range(3)
    ]
    target = LocalStore(tmp_path / "new")
    with store.open(keys[0]) as fh:
        target.put(fh)  # as if an earlier run was interrupted after one blob

    report = services.migrate(target)
    assert (report.copied, report.already_there, report.failed) == (2, 1, {})
    assert sorted(target.keys()) == sorted(keys)
    again = services.migrate(target)
    assert (again.copied, again.already_there) == (0, 3)


def test_migrate_never_copies_damage(ctx, store, tmp_path, make_user, make_document) -> None:
    key = make_document(make_user("clerk"), content=b"precious").versions[0].storage_key
    corrupt(store, key)
    target = LocalStore(tmp_path / "new")
    report = services.migrate(target)
    assert list(report.failed) == [key]
    assert "damaged" in report.failed[key]
    assert list(target.keys()) == []


def test_migrate_to_s3(ctx, s3, make_user, make_document) -> None:
    from tests.conftest import make_s3_store

    clerk = make_user("clerk")
    keys = {
        make_document(clerk, content=os.urandom(1000)).versions[0].storage_key for _ in range(3)
    }
    target = make_s3_store(s3)
    report = services.migrate(target)
    assert report.copied == 3
    assert set(target.keys()) == keys


def test_switch_storage_url_keeps_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "edms.toml"
    config.write_text('# production\nstorage_url = "file:///old"\npage_size = 10\n')
    services.switch_storage_url(str(config), "s3://minio:9000/docs?secure=false")
    assert config.read_text() == (
        '# production\nstorage_url = "s3://minio:9000/docs?secure=false"\npage_size = 10\n'
    )
    fresh = tmp_path / "new.toml"
    services.switch_storage_url(str(fresh), "file:///srv/files")
    assert fresh.read_text() == 'storage_url = "file:///srv/files"\n'


# The commands ----------------------------------------------------------------


def test_fixity_command_exit_status(app, ctx, store, make_user, make_document) -> None:
    key = make_document(make_user("clerk"), content=b"checked").versions[0].storage_key
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["storage", "fixity"])
    assert ok.exit_code == 0, ok.output
    assert "1 intact, 0 damaged" in ok.output
    corrupt(store, key)
    bad = runner.invoke(args=["storage", "fixity", "--sample", "5"])
    assert bad.exit_code == 1
    assert f"changed    {key}" in bad.output


def test_gc_command_is_a_dry_run_by_default(app, ctx, store) -> None:
    store.put(io.BytesIO(b"orphan"))
    result = app.test_cli_runner().invoke(args=["storage", "gc"])
    assert result.exit_code == 0
    assert "kept inside the grace period" in result.output
    assert "dry run" in result.output


def test_migrate_command_switches_only_when_told(
    app, ctx, tmp_path, make_user, make_document, monkeypatch
) -> None:
    make_document(make_user("clerk"))
    config = tmp_path / "edms.toml"
    config.write_text('storage_url = "file:///old"\n')
    monkeypatch.setenv("EDMS_CONFIG", str(config))
    target = (tmp_path / "new").as_uri()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["storage", "migrate", "--to", target])
    assert result.exit_code == 0, result.output
    assert "copied 1 blobs" in result.output
    assert config.read_text() == 'storage_url = "file:///old"\n'
    result = runner.invoke(args=["storage", "migrate", "--to", target, "--switch"])
    assert result.exit_code == 0, result.output
    assert f'storage_url = "{target}"' in config.read_text()
    bad = runner.invoke(args=["storage", "migrate", "--to", "ftp://nowhere"])
    assert bad.exit_code != 0
    assert "ftp" in bad.output


def test_a_put_that_finds_its_object_gone_is_refused(ctx, store) -> None:
    from edms.errors import ServiceUnavailable

    stored = store.put(io.BytesIO(b"deduplicated"))
    store.delete(stored.key)  # removed by a deleter after the put found it
    again = storage.StoredObject(stored.key, stored.size, stored.sha256, created=False)
    with pytest.raises(ServiceUnavailable, match="send it again"):
        services.record(again)


def test_discard_keeps_what_is_referenced(app, ctx, store, make_user, make_document) -> None:
    bind = app.extensions["edms.db"]["bind"]
    kept = make_document(make_user("clerk"), content=b"in use").versions[0].storage_key
    orphan = store.put(io.BytesIO(b"not in use")).key
    assert services.discard(store, kept, bind) is False
    assert store.exists(kept)
    assert db.session.get(Blob, kept) is not None
    assert services.discard(store, orphan, bind) is True
    assert not store.exists(orphan)
