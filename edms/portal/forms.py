"""Application forms from a service's JSON Schema: fields to render, typed values, messages.

A service's ``form`` (see ``edms.portal.catalogue``) is a flat JSON Schema. This
module turns it into:

- ``fields(schema, lang, values)``: what a template needs to draw each input
  (``FormField``), in the order the properties are written;
- ``coerce(schema, raw)``: typed data from what a browser posts (all text) or what
  the API sends (JSON), with a message for each value that cannot be read;
- ``validate(schema, data)``: the JSON Schema check (draft 2020-12, with the formats
  date, email, tin and pinfl), one plain message per field;
- ``validate_all(schema, raw)``: both, the first message of each field kept.

Messages are short sentences for a person ("enter a whole number", "must be at most
100") and never repeat the value sent: it may be personal data.

Reading values (``coerce``):

- Text is stripped and put in Unicode NFC; an empty value, or ``None``, is "not
  given" and left out of the data. Text longer than ``MAX_STRING`` (10,000
  characters) is refused whatever the schema says; control characters are refused
  (a ``textarea`` may have line breaks and tabs; its line ends become ``\\n``), and
  so are lone surrogates and bidirectional overrides.
- Integers: ``"12"``, ``"-3"``, ``"1 234"`` (groups of three digits separated by a
  space, a no-break space or a narrow no-break space, as written in Uzbekistan and
  Russia) -> ``12``, ``-3``, ``1234``. Refused: ``"12.5"``, ``"12,0"``, ``"1e3"``,
  booleans, lists. A JSON number with no fraction (``3.0``) is read as ``3``.
- Numbers: as integers, plus a fraction after ``.`` or ``,`` (``"12,5"`` and
  ``"12.5"`` are both 12.5; a comma is always the decimal separator, never a
  thousands separator, so ``"1,234"`` is 1.234). No exponents, no ``inf``/``nan``.
  A value written without a fraction stays an ``int``.
- Checkboxes: ``True``, ``"on"``, ``"true"``, ``"1"``, ``"yes"`` -> ``True``;
  ``False``, ``"off"``, ``"false"``, ``"0"``, ``"no"`` -> ``False``. An unticked box
  is simply absent from a browser's post, and stays absent.
- Keys the schema does not have are refused ("unknown field"): a view leaves out its
  own fields (the CSRF token, buttons) before calling ``coerce``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import jsonschema

from edms.portal.catalogue import MAX_STRING, text
from edms.validators import pinfl_problem, tin_problem

__all__ = [
    "KINDS",
    "MAX_STRING",
    "FormField",
    "coerce",
    "fields",
    "parse_decimal",
    "parse_integer",
    "parse_number",
    "validate",
    "validate_all",
]

KINDS: Final = ("text", "textarea", "email", "date", "integer", "number", "select", "checkbox")

_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_GROUPED: Final = r"[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+"
_INTEGER_RE: Final = re.compile(rf"([+-]?)({_GROUPED}|[0-9]+)")
_NUMBER_RE: Final = re.compile(rf"([+-]?)({_GROUPED}|[0-9]+)(?:[.,]([0-9]+))?")
_MAX_NUMBER_TEXT: Final = 40
_SPACES: Final = re.compile(r"[ \u00a0\u202f]")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EMAIL_LOCAL_RE: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_EMAIL_LABEL_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_BIDI: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_TRUE: Final = frozenset({"on", "true", "1", "yes"})
_FALSE: Final = frozenset({"off", "false", "0", "no"})
_YES: Final = {"uz": "Ha", "ru": "Да", "en": "Yes"}
_NO: Final = {"uz": "Yo‘q", "ru": "Нет", "en": "No"}
_MAX_UNKNOWN: Final = 10

ENTER: Final = "enter a value"
WHOLE: Final = "enter a whole number"
NUMBER: Final = "enter a number"
TEXT: Final = "must be text"
BOOLEAN: Final = "must be true or false"
CHOOSE: Final = "choose one of the options"
TICK: Final = "tick this box to continue"
DATE: Final = "must be a date like 2026-01-31"
EMAIL: Final = "enter an e-mail address like name@example.uz"
CONTROL: Final = "must not contain control characters"
UNKNOWN: Final = "unknown field"


# --- rendering ----------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One input of a form, ready for a template.

    ``kind`` is one of ``KINDS``; ``options`` are ``(value, label)`` pairs of a
    select; ``value`` is the current value as the input's text (``"true"`` for a
    ticked checkbox, ``""`` when there is none) and ``display`` the same for a reader
    (a select's label, Yes/No in the language). ``pattern`` is the schema's regular
    expression as written (JSON Schema searches it; anchor it for an HTML
    ``pattern``); ``input_mode`` is an HTML ``inputmode`` hint or ``None``.
    """

    name: str
    label: str
    help: str
    kind: str
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    input_mode: str | None = None
    value: str = ""
    display: str = ""

    @property
    def checked(self) -> bool:
        """Whether a checkbox is ticked."""
        return self.kind == "checkbox" and self.value == "true"


def _properties(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    properties = schema.get("properties")
    return dict(properties) if isinstance(properties, Mapping) else {}


def _required(schema: Mapping[str, Any]) -> set[str]:
    required = schema.get("required")
    return {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()


def _kind(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return str(kind)
    if "enum" in prop:
        return "select"
    fmt = prop.get("format")
    if fmt in ("date", "email"):
        return str(fmt)
    if prop.get("x-widget") == "textarea":
        return "textarea"
    return "text"


def _number_text(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return ""
    shown = format(Decimal(repr(value)), "f")
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return shown


def _as_input(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        if kind == "checkbox":
            return "true" if value else ""
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value[:MAX_STRING]
    return ""  # never draw a list or a mapping into an input


def fields(
    schema: Mapping[str, Any], lang: str, values: Mapping[str, Any] | None = None
) -> list[FormField]:
    """The inputs of ``schema`` in ``lang``, filled with ``values`` (typed data, or the
    text a person typed), in the order of ``properties``."""
    values = values or {}
    required = _required(schema)
    out: list[FormField] = []
    for name, prop in _properties(schema).items():
        if not isinstance(prop, Mapping):
            continue
        kind = _kind(prop)
        raw = values.get(name)
        value = _as_input(raw, kind)
        options: tuple[tuple[str, str], ...] = ()
        display = value
        if kind == "select":
            titles = prop.get("x-enum-titles") or {}
            options = tuple(
                (str(v), text(titles.get(v), lang) or str(v)) for v in prop.get("enum", ())
            )
            display = dict(options).get(value, value)
        elif kind == "checkbox":
            display = text(_YES, lang) if raw is True else text(_NO, lang) if raw is False else ""
        max_length = prop.get("maxLength")
        if kind in ("text", "textarea", "email"):
            max_length = min(max_length or MAX_STRING, MAX_STRING)
        fmt = prop.get("format")
        input_mode = None
        if fmt in ("tin", "pinfl"):
            max_length = 9 if fmt == "tin" else 14
            input_mode = "numeric"
        elif kind == "integer":
            input_mode = "numeric"
        elif kind == "number":
            input_mode = "decimal"
        out.append(
            FormField(
                name=name,
                label=text(prop.get("x-title"), lang) or name,
                help=text(prop.get("x-help"), lang),
                kind=kind,
                required=name in required,
                options=options,
                minimum=prop.get("minimum"),
                maximum=prop.get("maximum"),
                min_length=prop.get("minLength"),
                max_length=max_length,
                pattern=prop.get("pattern"),
                input_mode=input_mode,
                value=value,
                display=display,
            )
        )
    return out


# --- reading values -----------------------------------------------------------------


def parse_decimal(value: str) -> Decimal | None:
    """A number as people write it here (see the module docstring), or ``None``."""
    value = value.strip()
    if len(value) > _MAX_NUMBER_TEXT:
        return None
    match = _NUMBER_RE.fullmatch(value)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    digits = whole if whole.isdigit() else _SPACES.sub("", whole)
    try:
        return Decimal(f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}")
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        return None


def parse_integer(value: str) -> int | None:
    """A whole number as people write it here (``"1 234"``, ``"-5"``), or ``None``."""
    value = value.strip()
    if len(value) > _MAX_NUMBER_TEXT:
        return None
    if value.isascii() and value.isdigit():  # the usual case
        return int(value)
    match = _INTEGER_RE.fullmatch(value)
    if match is None:
        return None
    sign, whole = match.groups()
    return int(sign + _SPACES.sub("", whole))


def parse_number(value: str) -> int | float | None:
    """A number as people write it here: an ``int`` when written without a fraction,
    else a ``float`` (``"12,5"`` -> 12.5), or ``None``."""
    parsed = parse_decimal(value)
    if parsed is None:
        return None
    if parsed == parsed.to_integral_value() and "." not in value and "," not in value:
        return int(parsed)
    return float(parsed)


def _text_problem(value: str, multiline: bool) -> str | None:
    allowed = "\n\t" if multiline else ""
    for ch in value:
        category = unicodedata.category(ch)
        if (category == "Cc" and ch not in allowed) or category == "Cs" or ch in _BIDI:
            return CONTROL
    return None


def _coerce_text(value: Any, multiline: bool) -> tuple[Any, str | None]:
    if isinstance(value, datetime):
        value = value.date().isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    if not isinstance(value, str):
        return None, TEXT
    if len(value) > 2 * MAX_STRING:  # refuse before any work on a huge value
        return None, f"must be at most {MAX_STRING} characters"
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    problem = _text_problem(value, multiline)
    if problem:
        return None, problem
    value = unicodedata.normalize("NFC", value)
    if len(value) > MAX_STRING:
        return None, f"must be at most {MAX_STRING} characters"
    return (value or None), None


def _coerce_integer(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, WHOLE
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value), None
        return None, WHOLE
    if isinstance(value, str):
        if not value.strip():
            return None, None
        parsed = parse_integer(value)
        return (parsed, None) if parsed is not None else (None, WHOLE)
    return None, WHOLE


def _coerce_number(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, NUMBER
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        return (value, None) if math.isfinite(value) else (None, NUMBER)
    if isinstance(value, str):
        if not value.strip():
            return None, None
        parsed = parse_number(value)
        return (parsed, None) if parsed is not None else (None, NUMBER)
    return None, NUMBER


def _coerce_boolean(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and len(value) <= 10:
        word = value.strip().lower()
        if not word:
            return None, None
        if word in _TRUE:
            return True, None
        if word in _FALSE:
            return False, None
    return None, BOOLEAN


def _field_key(key: Any) -> str:
    """``key`` as an error key, when it is a plausible field name; else ``"_"``."""
    return key if isinstance(key, str) and _NAME_RE.fullmatch(key) else "_"


def _ordered(schema: Mapping[str, Any], errors: dict[str, str]) -> dict[str, str]:
    order = {name: i for i, name in enumerate(_properties(schema))}
    return dict(sorted(errors.items(), key=lambda kv: order.get(kv[0], len(order))))


def coerce(
    schema: Mapping[str, Any], raw: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values from form text or JSON (see the module docstring).

    Returns ``(data, errors)``: ``data`` has the values that could be read (a value
    left empty is left out), ``errors`` a message for each value that could not,
    by field name (``"_"`` for keys that are not even plausible field names).
    """
    properties = _properties(schema)
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    unknown = 0
    for key in raw:
        prop = properties.get(key) if isinstance(key, str) else None
        if not isinstance(prop, Mapping):
            unknown += 1
            if unknown <= _MAX_UNKNOWN:
                errors.setdefault(_field_key(key), UNKNOWN)
            else:
                errors["_"] = "too many unknown fields"
            continue
        value = raw[key]
        if value is None:
            continue
        kind = prop.get("type")
        if kind == "integer":
            typed, problem = _coerce_integer(value)
        elif kind == "number":
            typed, problem = _coerce_number(value)
        elif kind == "boolean":
            typed, problem = _coerce_boolean(value)
        else:
            typed, problem = _coerce_text(value, prop.get("x-widget") == "textarea")
        if problem is not None:
            errors[key] = problem
        elif typed is not None:
            data[key] = typed
    return data, _ordered(schema, errors)


# --- validation ---------------------------------------------------------------------


class _FormatProblem(ValueError):
    """A value that does not fit its format; the message is for the person."""


def _valid_email(value: str) -> bool:
    if len(value) > 254 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not 1 <= len(local) <= 64 or not _EMAIL_LOCAL_RE.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(_EMAIL_LABEL_RE.fullmatch(label) for label in labels):
        return False
    tld = labels[-1]
    return (tld.isalpha() and len(tld) >= 2) or tld.lower().startswith("xn--")


FORMATS: Final = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date", raises=_FormatProblem)
def _check_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE_RE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return True
        except ValueError:
            pass
    raise _FormatProblem(DATE)


@FORMATS.checks("email", raises=_FormatProblem)
def _check_email(value: object) -> bool:
    if not isinstance(value, str) or _valid_email(value):
        return True
    raise _FormatProblem(EMAIL)


@FORMATS.checks("tin", raises=_FormatProblem)
def _check_tin(value: object) -> bool:
    problem = tin_problem(value) if isinstance(value, str) else None
    if problem:
        raise _FormatProblem(problem)
    return True


@FORMATS.checks("pinfl", raises=_FormatProblem)
def _check_pinfl(value: object) -> bool:
    problem = pinfl_problem(value) if isinstance(value, str) else None
    if problem:
        raise _FormatProblem(problem)
    return True


def _bound(value: Any) -> str:
    return _number_text(value) if isinstance(value, int | float) else str(value)


def _missing(prop: Mapping[str, Any]) -> str:
    kind = _kind(prop)
    if kind == "checkbox":
        return TICK
    if kind == "select":
        return CHOOSE
    return ENTER


def _message(error: jsonschema.ValidationError, prop: Mapping[str, Any]) -> str:
    kind = error.validator
    expected: Any = error.validator_value
    if kind == "type":
        wanted = expected[0] if isinstance(expected, list) and expected else expected
        return {"integer": WHOLE, "number": NUMBER, "boolean": BOOLEAN}.get(str(wanted), TEXT)
    if kind == "minimum":
        return f"must be at least {_bound(expected)}"
    if kind == "maximum":
        return f"must be at most {_bound(expected)}"
    if kind == "exclusiveMinimum":
        return f"must be more than {_bound(expected)}"
    if kind == "exclusiveMaximum":
        return f"must be less than {_bound(expected)}"
    if kind == "minLength":
        return ENTER if expected == 1 else f"must be at least {expected} characters"
    if kind == "maxLength":
        return f"must be at most {expected} characters"
    if kind == "pattern":
        return "is not in the expected format"
    if kind == "enum":
        return CHOOSE
    if kind == "const":
        return TICK if prop.get("type") == "boolean" else "is not the expected value"
    if kind == "format":
        cause = error.cause
        if isinstance(cause, _FormatProblem):
            return str(cause)
        return {"date": DATE, "email": EMAIL}.get(str(expected), "is not in the expected format")
    return "is not valid"


def validate(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, str]:
    """The problems of typed ``data`` against ``schema``: one message per field (the
    first found), in the order of the form; ``{}`` when the data is valid."""
    properties = _properties(schema)
    errors: dict[str, str] = {}
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(properties.get(key) if isinstance(key, str) else None, Mapping):
            errors.setdefault(_field_key(key), UNKNOWN)
            continue
        if value is None:  # JSON null: not given
            continue
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                errors[key] = f"must be at most {MAX_STRING} characters"
                continue
            problem = _text_problem(value, properties[key].get("x-widget") == "textarea")
            if problem:
                errors[key] = problem
                continue
        checked[key] = value
    validator = jsonschema.Draft202012Validator(dict(schema), format_checker=FORMATS)
    for error in validator.iter_errors(checked):
        if error.validator == "required" and not error.absolute_path:
            for name in error.validator_value:
                if name not in checked and name not in errors:
                    errors[name] = _missing(properties.get(name, {}))
            continue
        path = list(error.absolute_path)
        name = path[0] if path and isinstance(path[0], str) else "_"
        if name not in errors:
            errors[name] = _message(error, properties.get(name, {}))
    return _ordered(schema, errors)


def validate_all(
    schema: Mapping[str, Any], raw: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``coerce`` then ``validate``: ``(data, errors)``, the first message of each field
    kept (a value that cannot be read is not also reported as missing)."""
    data, errors = coerce(schema, raw)
    for name, message in validate(schema, data).items():
        errors.setdefault(name, message)
    return data, _ordered(schema, errors)
