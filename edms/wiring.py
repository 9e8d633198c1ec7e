"""Builds the parts named by configuration: storage now; signer, index and engine later."""

from __future__ import annotations

from typing import Any

import storage
from edms.errors import ConfigError


def build_storage(settings: dict[str, Any]) -> storage.ObjectStore:
    try:
        return storage.from_url(
            settings["storage_url"],
            access_key=settings["s3_access_key"] or None,
            secret_key=settings["s3_secret_key"] or None,
        )
    except storage.InvalidStorageURL as exc:
        raise ConfigError(f"storage_url: {exc}") from None
