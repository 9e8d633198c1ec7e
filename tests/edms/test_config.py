"""Settings precedence and fail-fast validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from edms import create_app
from edms.config import SPEC, load_settings
from edms.errors import ConfigError


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"EDMS_DATA_DIR": str(tmp_path), "EDMS_DEMO": "true", **extra}


def test_embedded_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ=_env(tmp_path))
    assert settings["database_url"] == f"sqlite:///{tmp_path / 'edms.sqlite3'}"
    assert settings["storage_url"] == (tmp_path / "files").as_uri()
    assert settings["max_upload_mb"] == 512
    assert settings["port"] == 5000
    assert len(settings["secret_key"]) > 30  # a demo key kept in the data dir
    assert load_settings(environ=_env(tmp_path))["secret_key"] == settings["secret_key"]


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    config = tmp_path / "edms.toml"
    config.write_text('page_size = 10\nmax_upload_mb = 100\nlog_level = "DEBUG"\n')
    env = _env(tmp_path, EDMS_CONFIG=str(config), EDMS_MAX_UPLOAD_MB="50")
    settings = load_settings({"log_level": "ERROR"}, environ=env)
    assert settings["page_size"] == 10  # file over defaults
    assert settings["max_upload_mb"] == 50  # environment over file
    assert settings["log_level"] == "ERROR"  # overrides over everything


def test_every_setting_has_a_default() -> None:
    import tomllib

    from edms.config import DEFAULTS_FILE

    with open(DEFAULTS_FILE, "rb") as fh:
        assert set(tomllib.load(fh)) == set(SPEC)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"EDMS_PORRT": "5000"}, "EDMS_PORRT"),
        ({"EDMS_PORT": "seventy"}, "port"),
        ({"EDMS_PORT": "70000"}, "port"),
        ({"EDMS_MAX_UPLOAD_MB": "0"}, "max_upload_mb"),
        ({"EDMS_DEBUG": "perhaps"}, "debug"),
        ({"EDMS_LOG_LEVEL": "LOUD"}, "log_level"),
        ({"EDMS_LANGUAGES": "uz,fr"}, "languages"),
        ({"EDMS_DEFAULT_LOCALE": "en", "EDMS_LANGUAGES": "uz,ru"}, "default_locale"),
        ({"EDMS_DEMO": "false"}, "secret_key"),
        ({"EDMS_SECRET_KEY": "short"}, "secret_key"),
        ({"EDMS_HOLIDAYS": "2026-03-21,2026-13-01"}, "holidays"),
    ],
)
def test_bad_settings_fail_naming_the_key(tmp_path: Path, env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        load_settings(environ=_env(tmp_path, **env))


def test_unknown_key_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "edms.toml"
    config.write_text("databse_url = 'sqlite://'\n")
    with pytest.raises(ConfigError, match="databse_url"):
        load_settings(environ=_env(tmp_path, EDMS_CONFIG=str(config)))


def test_broken_or_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "edms.toml"
    config.write_text("port = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ=_env(tmp_path, EDMS_CONFIG=str(config)))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ=_env(tmp_path, EDMS_CONFIG=str(tmp_path / "missing.toml")))


def test_unknown_override_and_wrong_type() -> None:
    with pytest.raises(ConfigError, match="colour"):
        create_app({"colour": "blue", "demo": True})
    with pytest.raises(ConfigError, match="page_size"):
        create_app({"page_size": "many", "demo": True})


def test_bad_storage_url_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="storage_url"):
        create_app({"demo": True, "data_dir": str(tmp_path), "storage_url": "ftp://x/y"})


def test_secure_cookies_by_default(app) -> None:
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
