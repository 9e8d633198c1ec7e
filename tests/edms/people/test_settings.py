"""The SMTP and scheduler settings are checked at start-up, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edms.config import load_settings
from edms.errors import ConfigError


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"EDMS_DATA_DIR": str(tmp_path), "EDMS_DEMO": "true", **values}


def test_defaults_send_no_mail_and_run_the_scheduler_thread(tmp_path: Path) -> None:
    settings = load_settings(environ=_env(tmp_path))
    assert settings["smtp_host"] == ""
    assert settings["scheduler"] == "thread"
    assert settings["smtp_starttls"] is True


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"EDMS_SCHEDULER": "cron"}, "scheduler"),
        ({"EDMS_SCHEDULER_INTERVAL_SECONDS": "0"}, "scheduler_interval_seconds"),
        ({"EDMS_SCHEDULER_LEASE_MINUTES": "-1"}, "scheduler_lease_minutes"),
        ({"EDMS_SMTP_PORT": "0"}, "smtp_port"),
        ({"EDMS_SMTP_STARTTLS": "sometimes"}, "smtp_starttls"),
        ({"EDMS_SMTP_HOST": "mail.example.uz"}, "smtp_from"),
        ({"EDMS_SMTP_USERNAME": "edms"}, "smtp_username"),
        ({"EDMS_MAIL_BASE_URL": "edms.example.uz"}, "mail_base_url"),
        ({"EDMS_SMTP_TIMEOUT_SECONDS": "0"}, "smtp_timeout_seconds"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(environ=_env(tmp_path, **env))


def test_the_smtp_password_is_not_in_error_messages(tmp_path: Path) -> None:
    secret = "very-secret-smtp-password"
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=_env(tmp_path, EDMS_SMTP_PASSWORD=secret, EDMS_SMTP_USERNAME="edms"))
    assert secret not in str(caught.value)


def test_mail_settings(tmp_path: Path) -> None:
    settings = load_settings(
        environ=_env(
            tmp_path,
            EDMS_SMTP_HOST="mail.example.uz",
            EDMS_SMTP_FROM="edms@example.uz",
            EDMS_MAIL_BASE_URL="https://edms.example.uz/",
            EDMS_SCHEDULER="off",
        )
    )
    assert settings["mail_base_url"] == "https://edms.example.uz"
    assert settings["scheduler"] == "off"
