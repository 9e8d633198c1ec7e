"""A process killed in the middle of an upload leaves nothing that a record points to
but is missing, and what it does leave is found by garbage collection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

import storage
from edms.auth import services as auth
from edms.blobs import services as blobs
from edms.db import db
from edms.documents.models import Document, DocumentVersion
from edms.registry import services as registry
from tests.conftest import PASSWORD
from tests.s3server import S3Server

CHILD = textwrap.dedent(
    """
    import io, sys, time
    from edms import create_app
    from edms.auth import services as auth
    from edms.db import db
    from edms.documents import services

    class Endless:
        # 64 KB every few milliseconds, for ever: the process is killed in the middle.
        def __init__(self):
            self.sent = 0
        def read(self, size=-1):
            self.sent += 1
            if self.sent == 120:  # 7.5 MB: past one 5 MB part on S3
                print("streaming", flush=True)
            time.sleep(0.002)
            return b"x" * 65536

    app = create_app()
    with app.app_context():
        clerk = auth.get_user("crasher")
        raw = {"title": "Kept", "journal": "CRASH"}
        services.register(clerk, raw, services.Upload("kept.txt", io.BytesIO(b"kept bytes")))
        db.session.commit()
        print("committed", flush=True)
        raw = {"title": "Lost", "journal": "CRASH"}
        services.register(clerk, raw, services.Upload("big.bin", Endless()))
        db.session.commit()
        print("should never get here", flush=True)
    """
)


@pytest.fixture(params=["local", "s3"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    if request.param == "local":
        return (tmp_path / "files").as_uri(), {}
    server: S3Server = request.getfixturevalue("s3")
    keys = {"EDMS_S3_ACCESS_KEY": server.access_key, "EDMS_S3_SECRET_KEY": server.secret_key}
    return server.url(create="true", part_size_mb="5"), keys


def test_killed_upload(committing_app: Flask, storage_url, tmp_path: Path) -> None:
    url, secrets = storage_url
    store = storage.from_url(
        url,
        access_key=secrets.get("EDMS_S3_ACCESS_KEY"),
        secret_key=secrets.get("EDMS_S3_SECRET_KEY"),
    )
    committing_app.extensions["edms.storage"] = store
    with committing_app.app_context():
        auth.create_department("CR", "Crash")
        auth.create_user("crasher", ["clerk"], password=PASSWORD, department_code="CR")
        registry.create_journal("CRASH", "CR", "Crash journal", "incoming")
        db.session.commit()

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDMS_")},
        **secrets,
        "EDMS_DATA_DIR": str(tmp_path / "child"),
        "EDMS_DATABASE_URL": committing_app.config["DATABASE_URL"],
        "EDMS_STORAGE_URL": url,
        "EDMS_DEMO": "true",
        "EDMS_LOG_LEVEL": "WARNING",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "committed"
        assert child.stdout.readline().strip() == "streaming"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    with committing_app.app_context():
        titles = list(db.session.scalars(select(Document.title)))
        assert titles == ["Kept"]
        for key in db.session.scalars(select(DocumentVersion.storage_key)):
            assert store.exists(key), "a record points to a missing file"
        report = blobs.gc(timedelta(0))
        assert report.unreferenced == []  # the lost upload never became an object
        if isinstance(store, storage.LocalStore):  # its temporary file is still there
            assert report.leftovers
        else:  # spooled to an anonymous file that died with the process: nothing on S3
            assert report.leftovers == []
        blobs.gc(timedelta(0), delete_now=True)
        assert list(store.incomplete(timedelta(0))) == []
        assert len(list(store.keys())) == 1
