"""Builds the parts named by configuration: storage, the working-day calendar; signer and index later."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Any

import storage
import workflows
from edms.errors import ConfigError

#: Where the application serves app-signed download links (backends that cannot presign).
FILES_PATH = "/files"


def url_signer(settings: dict[str, Any]) -> storage.UrlSigner:
    """The signer of download links, with a key of its own derived from the secret key."""
    secret = hmac.new(
        settings["secret_key"].encode(), b"edms storage download links", hashlib.sha256
    ).digest()
    return storage.UrlSigner(secret, FILES_PATH)


def build_storage(settings: dict[str, Any]) -> storage.ObjectStore:
    try:
        return storage.from_url(
            settings["storage_url"],
            access_key=settings["s3_access_key"] or None,
            secret_key=settings["s3_secret_key"] or None,
            signer=url_signer(settings),
        )
    except storage.InvalidStorageURL as exc:
        raise ConfigError(f"storage_url: {exc}") from None


def build_calendar(settings: dict[str, Any]) -> workflows.Calendar:
    """Working days for deadlines: weekends and the ``holidays`` setting are not."""
    days = {
        day if isinstance(day, date) else date.fromisoformat(str(day))
        for day in settings["holidays"]
    }
    return workflows.Calendar(days)
