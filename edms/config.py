"""Settings: built-in defaults < EDMS_CONFIG file < EDMS_* environment < overrides.

Every key is declared once in ``SPEC`` with its type and check; its default
value lives in ``config/defaults.toml``. Unknown keys and invalid values stop
the application at start-up with a message that names the key.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from edms.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = ROOT / "config" / "defaults.toml"
# EDMS_* environment variables that are not settings.
NOT_SETTINGS = ("EDMS_CONFIG", "EDMS_TEST_")


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be a positive whole number"


def _non_negative(value: int) -> str | None:
    return None if value >= 0 else "must be zero or more"


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be a port number from 1 to 65535"


def _one_of(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _positive_number(value: float) -> str | None:
    return None if value > 0 else "must be a positive number"


def _log_level(value: str) -> str | None:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    return None if value.upper() in levels else f"must be one of {', '.join(levels)}"


def _languages(value: list[Any]) -> str | None:
    known = {"uz", "ru", "en"}
    if not value or not all(isinstance(v, str) and v in known for v in value):
        return "must be a non-empty list drawn from uz, ru, en"
    return None


def _scheduler(value: str) -> str | None:
    return None if value in ("thread", "off") else "must be thread or off"


def _rate_limit(value: str) -> str | None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        return 'use the notation of the limits library, e.g. "30 per minute; 500 per day"'
    return None


def _base_url(value: str) -> str | None:
    if value and not value.startswith(("https://", "http://")):
        return "must be empty or start with https:// (or http://)"
    return None


def _holidays(value: list[Any]) -> str | None:
    for item in value:
        if isinstance(item, date):
            continue
        try:
            date.fromisoformat(str(item))
        except ValueError:
            return f"{item!r} is not a date like 2026-03-21"
    return None


def _signing_level(value: str) -> str | None:
    from signing import Level, SigningError

    try:
        Level.parse(value)
    except SigningError as exc:
        return str(exc)
    return None


def _optional_secret(value: str) -> str | None:
    if value and len(value) < 16:
        return "must be empty or at least 16 characters long"
    return None


@dataclass(frozen=True)
class Setting:
    type: type
    check: Callable[[Any], str | None] | None = None


SPEC: dict[str, Setting] = {
    "data_dir": Setting(str),
    "database_url": Setting(str),
    "storage_url": Setting(str),
    "s3_access_key": Setting(str),
    "s3_secret_key": Setting(str),
    "secret_key": Setting(str),
    "debug": Setting(bool),
    "demo": Setting(bool),
    "port": Setting(int, _port),
    "max_upload_mb": Setting(int, _positive),
    "session_cookie_secure": Setting(bool),
    "session_lifetime_minutes": Setting(int, _positive),
    "login_max_failures": Setting(int, _positive),
    "login_lockout_minutes": Setting(int, _positive),
    "languages": Setting(list, _languages),
    "default_locale": Setting(str),
    "default_timezone": Setting(str),
    "holidays": Setting(list, _holidays),
    "trusted_proxies": Setting(int, _non_negative),
    "page_size": Setting(int, _positive),
    "max_page_size": Setting(int, _positive),
    "log_level": Setting(str, _log_level),
    "smtp_host": Setting(str),
    "smtp_port": Setting(int, _port),
    "smtp_from": Setting(str),
    "smtp_starttls": Setting(bool),
    "smtp_username": Setting(str),
    "smtp_password": Setting(str),
    "smtp_timeout_seconds": Setting(int, _positive),
    "mail_base_url": Setting(str, _base_url),
    "portal_confirm_hours": Setting(int, _positive),
    "portal_decision_journal": Setting(str),
    "portal_api_rate_limit": Setting(str, _rate_limit),
    "portal_rate_limit_storage": Setting(str),
    "scheduler": Setting(str, _scheduler),
    "scheduler_interval_seconds": Setting(int, _positive),
    "scheduler_lease_minutes": Setting(int, _positive),
    "signing_level": Setting(str, _signing_level),
    "signing_tsa_url": Setting(str, _base_url),
    "signing_trust_store": Setting(str),
    "signing_pki_dir": Setting(str),
    "signing_credential_key": Setting(str, _optional_secret),
    "signing_verify_max_mb": Setting(int, _positive),
    "signing_offline_verify": Setting(bool),
    "signing_stamp_font": Setting(str),
    "signing_organisation": Setting(str),
    "signing_seal_file": Setting(str),
    "signing_seal_passphrase": Setting(str),
    "search_backend": Setting(str, _one_of("whoosh", "postgres")),
    "search_index_dir": Setting(str),
    "search_indexer": Setting(str, _one_of("thread", "off")),
    "search_poll_seconds": Setting(float, _positive_number),
    "search_batch": Setting(int, _positive),
    "search_max_chars": Setting(int, _positive),
    "search_extract_timeout": Setting(float, _positive_number),
    "search_time_limit": Setting(float, _positive_number),
}


def _coerce(key: str, raw: Any, source: str) -> Any:
    """Turn a value from a file, the environment or overrides into the key's type."""
    expected = SPEC[key].type
    value = raw
    if isinstance(raw, str) and expected is not str:
        text = raw.strip()
        if expected is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                value = True
            elif lowered in ("0", "false", "no", "off"):
                value = False
            else:
                raise ConfigError(f"{key} ({source}): expected true or false, got {raw!r}")
        elif expected is int:
            try:
                value = int(text)
            except ValueError:
                raise ConfigError(
                    f"{key} ({source}): expected a whole number, got {raw!r}"
                ) from None
        elif expected is float:
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(f"{key} ({source}): expected a number, got {raw!r}") from None
        elif expected is list:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{key} ({source}): expected a whole number, got {raw!r}")
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, expected):
        raise ConfigError(
            f"{key} ({source}): expected {expected.__name__}, got {type(raw).__name__} {raw!r}"
        )
    check = SPEC[key].check
    problem = check(value) if check else None
    if problem:
        raise ConfigError(f"{key} ({source}): {problem}")
    return value


def _merge(settings: dict[str, Any], values: Mapping[str, Any], source: str) -> None:
    for key, raw in values.items():
        norm = key.lower()
        if norm not in SPEC:
            raise ConfigError(f"{key} ({source}): unknown setting")
        settings[norm] = _coerce(norm, raw, source)


def _read_toml(path: Path, source: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {path} is not valid TOML: {exc}") from None


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the effective settings, validated, with derived paths and URLs filled in."""
    env = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    _merge(settings, _read_toml(DEFAULTS_FILE, "defaults"), "config/defaults.toml")
    missing = set(SPEC) - set(settings)
    if missing:
        raise ConfigError(f"config/defaults.toml lacks {', '.join(sorted(missing))}")
    if env.get("EDMS_CONFIG"):
        path = Path(env["EDMS_CONFIG"])
        _merge(settings, _read_toml(path, "EDMS_CONFIG"), str(path))
    from_env = {}
    for name, raw in env.items():
        if not name.startswith("EDMS_") or name.startswith(NOT_SETTINGS):
            continue
        key = name[len("EDMS_") :].lower()
        if key not in SPEC:
            raise ConfigError(f"{name} (environment): unknown setting")
        from_env[key] = raw
    _merge(settings, from_env, "environment")
    if overrides:
        _merge(settings, overrides, "overrides")
    return _finish(settings)


def _finish(settings: dict[str, Any]) -> dict[str, Any]:
    data_dir = Path(settings["data_dir"]).expanduser().resolve()
    settings["data_dir"] = str(data_dir)
    if not settings["database_url"]:
        settings["database_url"] = f"sqlite:///{data_dir / 'edms.sqlite3'}"
    if not settings["storage_url"]:
        settings["storage_url"] = (data_dir / "files").as_uri()
    pki_dir = settings["signing_pki_dir"]
    settings["signing_pki_dir"] = str(
        Path(pki_dir).expanduser().resolve() if pki_dir else data_dir / "pki"
    )
    settings["signing_level"] = _canonical_level(settings["signing_level"])
    index_dir = settings["search_index_dir"]
    settings["search_index_dir"] = str(
        Path(index_dir).expanduser().resolve() if index_dir else data_dir / "search"
    )
    if settings["default_locale"] not in settings["languages"]:
        raise ConfigError(
            f"default_locale: {settings['default_locale']!r} is not one of languages "
            f"({', '.join(settings['languages'])})"
        )
    if settings["max_page_size"] < settings["page_size"]:
        raise ConfigError("max_page_size: must not be smaller than page_size")
    if settings["smtp_host"] and "@" not in settings["smtp_from"]:
        raise ConfigError(
            "smtp_from: required when smtp_host is set (an address like edms@example.org)"
        )
    if settings["smtp_username"] and not settings["smtp_host"]:
        raise ConfigError("smtp_username: set smtp_host too, or leave both empty")
    settings["mail_base_url"] = settings["mail_base_url"].rstrip("/")
    if not settings["secret_key"]:
        if not (settings["debug"] or settings["demo"]):
            raise ConfigError(
                "secret_key: required outside debug and demo modes (set EDMS_SECRET_KEY)"
            )
        settings["secret_key"] = _demo_secret(data_dir)
    elif len(settings["secret_key"]) < 16:
        raise ConfigError("secret_key: must be at least 16 characters long")
    return settings


def _canonical_level(value: str) -> str:
    from signing import Level

    return Level.parse(value).value


def _demo_secret(data_dir: Path) -> str:
    """A random key kept in the data directory, so demo sessions survive restarts."""
    path = data_dir / "demo-secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
    # Written aside and linked into place, so a concurrent reader never sees it half-written.
    tmp = data_dir / f".demo-secret-key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process was first; use its key
    finally:
        tmp.unlink()
    return path.read_text().strip()
