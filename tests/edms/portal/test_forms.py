"""Forms from a service's JSON Schema: the fields drawn, values read, messages given."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.portal.forms import (
    MAX_STRING,
    FormField,
    coerce,
    fields,
    parse_decimal,
    parse_integer,
    parse_number,
    validate,
    validate_all,
)


def titled(en: str) -> dict[str, str]:
    return {"uz": f"{en} (uz)", "ru": f"{en} (ru)", "en": en}


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "name", "count", "agree"],
    "properties": {
        "name": {"type": "string", "maxLength": 20, "x-title": titled("Name")},
        "kind": {
            "type": "string",
            "enum": ["shop", "cafe"],
            "x-title": titled("Kind"),
            "x-help": titled("Choose"),
            "x-enum-titles": {"shop": titled("Shop"), "cafe": titled("Café")},
        },
        "count": {"type": "integer", "minimum": 0, "maximum": 100, "x-title": titled("Count")},
        "area": {"type": "number", "minimum": 0.5, "maximum": 1000, "x-title": titled("Area")},
        "start": {"type": "string", "format": "date", "x-title": titled("Start")},
        "email": {"type": "string", "format": "email", "x-title": titled("E-mail")},
        "tin": {"type": "string", "format": "tin", "x-title": titled("TIN")},
        "pinfl": {"type": "string", "format": "pinfl", "x-title": titled("PINFL")},
        "notes": {
            "type": "string",
            "x-widget": "textarea",
            "minLength": 3,
            "x-title": titled("Notes"),
        },
        "code": {"type": "string", "pattern": "^[0-9]{4}$", "x-title": titled("Code")},
        "flag": {"type": "boolean", "x-title": titled("Flag")},
        "agree": {"type": "boolean", "const": True, "x-title": titled("Agree")},
    },
}
GOOD_RAW = {"kind": "shop", "name": "Anvar", "count": "5", "agree": "on"}


# --- fields -------------------------------------------------------------------------


def test_fields_in_the_order_of_the_properties() -> None:
    assert [f.name for f in fields(SCHEMA, "en")] == list(SCHEMA["properties"])
    assert [f.kind for f in fields(SCHEMA, "en")] == [
        "text",
        "select",
        "integer",
        "number",
        "date",
        "email",
        "text",
        "text",
        "textarea",
        "text",
        "checkbox",
        "checkbox",
    ]


def test_a_select_field() -> None:
    kind = fields(SCHEMA, "ru", {"kind": "cafe"})[1]
    assert kind == FormField(
        name="kind",
        label="Kind (ru)",
        help="Choose (ru)",
        kind="select",
        required=True,
        options=(("shop", "Shop (ru)"), ("cafe", "Café (ru)")),
        value="cafe",
        display="Café (ru)",
    )


def test_a_checkbox_field() -> None:
    ticked = {f.name: f for f in fields(SCHEMA, "uz", {"agree": True, "flag": False})}
    assert ticked["agree"].kind == "checkbox"
    assert ticked["agree"].required
    assert ticked["agree"].checked
    assert ticked["agree"].value == "true"
    assert ticked["agree"].display == "Ha"
    assert not ticked["flag"].checked
    assert ticked["flag"].value == ""
    assert ticked["flag"].display == "Yo‘q"
    empty = {f.name: f for f in fields(SCHEMA, "en")}
    assert not empty["agree"].checked
    assert empty["agree"].display == ""


def test_a_date_field_and_the_value_as_text() -> None:
    by_name = {
        f.name: f
        for f in fields(
            SCHEMA,
            "en",
            {"start": date(2026, 1, 31), "count": 7, "area": 1e20, "name": ["x"], "notes": None},
        )
    }
    start = by_name["start"]
    assert (start.kind, start.label, start.value, start.required) == (
        "date",
        "Start",
        "2026-01-31",
        False,
    )
    assert by_name["count"].value == "7"
    assert by_name["count"].minimum == 0
    assert by_name["count"].maximum == 100
    assert by_name["count"].input_mode == "numeric"
    assert by_name["area"].value == "100000000000000000000"
    assert by_name["area"].input_mode == "decimal"
    assert by_name["name"].value == ""  # a list is never drawn
    assert by_name["name"].max_length == 20
    assert by_name["notes"].value == ""
    assert by_name["notes"].max_length == MAX_STRING
    assert by_name["notes"].min_length == 3
    assert by_name["tin"].max_length == 9
    assert by_name["tin"].input_mode == "numeric"
    assert by_name["pinfl"].max_length == 14
    assert by_name["code"].pattern == "^[0-9]{4}$"
    assert fields(SCHEMA, "en", {"start": datetime(2026, 1, 31, 10)})[4].value == "2026-01-31"
    assert fields(SCHEMA, "en", {"area": 2.5})[3].value == "2.5"


def test_a_language_without_text_falls_back_to_english() -> None:
    assert fields(SCHEMA, "fr")[1].label == "Kind"
    untitled = {"type": "object", "properties": {"x": {"type": "string"}}}
    assert fields(untitled, "en")[0].label == "x"


def test_what_a_person_typed_is_shown_again() -> None:
    by_name = {f.name: f for f in fields(SCHEMA, "en", {"count": "12.5", "name": "x" * 20_000})}
    assert by_name["count"].value == "12.5"
    assert len(by_name["name"].value) == MAX_STRING


# --- reading values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 12 ", 12),
        ("-3", -3),
        ("+4", 4),
        ("1 234", 1234),
        ("1\u00a0234\u00a0567", 1234567),
        ("1\u202f234", 1234),
        (12, 12),
        (3.0, 3),
        ("0", 0),
    ],
)
def test_integers_read(raw: Any, expected: int) -> None:
    data, errors = coerce(SCHEMA, {"count": raw})
    assert errors == {}
    assert data == {"count": expected}
    assert type(data["count"]) is int


@pytest.mark.parametrize(
    "raw",
    [
        "12.5",
        "12,0",
        "1e3",
        "12 34",
        "1,234",
        "١٢",  # Arabic-Indic digits
        "five",
        "0x10",
        True,
        False,
        3.5,
        float("nan"),
        float("inf"),
        [1],
        {"a": 1},
        "9" * 50,
    ],
)
def test_not_integers(raw: Any) -> None:
    assert coerce(SCHEMA, {"count": raw}) == ({}, {"count": "enter a whole number"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12,5", 12.5),
        ("12.5", 12.5),
        ("1 234,5", 1234.5),
        ("1,234", 1.234),
        ("-0,5", -0.5),
        ("7", 7),
        (7, 7),
        (2.25, 2.25),
    ],
)
def test_numbers_read(raw: Any, expected: float) -> None:
    assert coerce(SCHEMA, {"area": raw}) == ({"area": expected}, {})


@pytest.mark.parametrize(
    "raw", ["1e3", "nan", "inf", "1.2.3", "1,2,3", ",5", "5.", True, float("nan"), ["1"]]
)
def test_not_numbers(raw: Any) -> None:
    assert coerce(SCHEMA, {"area": raw}) == ({}, {"area": "enter a number"})


def test_number_parsers() -> None:
    assert parse_integer("1 000 000") == 1_000_000
    assert parse_integer("1 00") is None
    assert parse_number("12") == 12
    assert isinstance(parse_number("12"), int)
    assert parse_number("12,0") == 12.0
    assert isinstance(parse_number("12,0"), float)
    assert str(parse_decimal("0,1")) == "0.1"
    assert parse_decimal("") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("on", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (True, True),
        ("off", False),
        ("false", False),
        ("0", False),
        (False, False),
    ],
)
def test_checkboxes_read(raw: Any, expected: bool) -> None:
    assert coerce(SCHEMA, {"flag": raw}) == ({"flag": expected}, {})


@pytest.mark.parametrize("raw", ["maybe", 1, 0, [True], "on" * 10])
def test_not_checkboxes(raw: Any) -> None:
    assert coerce(SCHEMA, {"flag": raw}) == ({}, {"flag": "must be true or false"})


def test_text_is_stripped_normalised_and_empty_is_absent() -> None:
    data, errors = coerce(
        SCHEMA,
        {
            "name": "  Cafe\u0301  ",
            "email": "",
            "code": "   ",
            "count": "",
            "flag": "",
            "tin": None,
        },
    )
    assert errors == {}
    assert data == {"name": "Café"}  # NFC: one character é


def test_a_textarea_keeps_its_lines() -> None:
    data, errors = coerce(SCHEMA, {"notes": "one\r\ntwo\rthree\n\tfour"})
    assert errors == {}
    assert data == {"notes": "one\ntwo\nthree\n\tfour"}


@pytest.mark.parametrize(
    "raw",
    ["a\x00b", "a\x1bb", "line\nbreak", "tab\there", "bell\x07", "\ud800", "evil\u202etxt.exe"],
)
def test_control_characters_are_refused(raw: str) -> None:
    assert coerce(SCHEMA, {"name": raw}) == ({}, {"name": "must not contain control characters"})


def test_a_textarea_still_refuses_other_controls() -> None:
    assert coerce(SCHEMA, {"notes": "a\x00b"})[1] == {
        "notes": "must not contain control characters"
    }


def test_huge_strings_are_refused_whatever_the_schema_says() -> None:
    limit = f"must be at most {MAX_STRING} characters"
    assert coerce(SCHEMA, {"notes": "x" * (MAX_STRING + 1)}) == ({}, {"notes": limit})
    assert coerce(SCHEMA, {"notes": "x" * 5_000_000}) == ({}, {"notes": limit})
    assert coerce(SCHEMA, {"notes": "x" * MAX_STRING})[1] == {}
    # Spaces around do not count.
    assert coerce(SCHEMA, {"notes": " " + "x" * MAX_STRING + " "})[1] == {}


@pytest.mark.parametrize("raw", [["a"], {"a": "b"}, 5, 5.5, True, b"bytes"])
def test_wrong_json_types_for_text(raw: Any) -> None:
    assert coerce(SCHEMA, {"name": raw}) == ({}, {"name": "must be text"})


def test_dates_from_python_are_written_as_iso() -> None:
    assert coerce(SCHEMA, {"start": date(2026, 3, 1)}) == ({"start": "2026-03-01"}, {})


def test_unknown_fields() -> None:
    raw: dict[Any, Any] = {**GOOD_RAW, "csrf": "x", "<script>": "y", 5: "z"}
    data, errors = coerce(SCHEMA, raw)
    assert errors == {"csrf": "unknown field", "_": "unknown field"}
    assert data["count"] == 5
    many = {f"extra_{i}": "1" for i in range(100)}
    errors = coerce(SCHEMA, many)[1]
    assert len(errors) == 11
    assert errors["_"] == "too many unknown fields"


def test_a_schema_without_properties_accepts_nothing() -> None:
    assert coerce({"type": "object"}, {"a": "1"}) == ({}, {"a": "unknown field"})
    assert fields({"type": "object"}, "en") == []
    assert validate({"type": "object"}, {}) == {}


# --- validation ---------------------------------------------------------------------


def test_a_good_form() -> None:
    assert validate_all(SCHEMA, GOOD_RAW) == (
        {"kind": "shop", "name": "Anvar", "count": 5, "agree": True},
        {},
    )


def test_required_fields_say_what_to_do() -> None:
    assert validate(SCHEMA, {}) == {
        "name": "enter a value",
        "kind": "choose one of the options",
        "count": "enter a value",
        "agree": "tick this box to continue",
    }


def test_null_is_not_given() -> None:
    assert validate(SCHEMA, {"kind": "shop", "name": None, "count": 1, "agree": True}) == {
        "name": "enter a value"
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "bar", "choose one of the options"),
        ("count", 101, "must be at most 100"),
        ("count", -1, "must be at least 0"),
        ("area", 0.25, "must be at least 0.5"),
        ("area", 1000.5, "must be at most 1000"),
        ("name", "x" * 21, "must be at most 20 characters"),
        ("notes", "ab", "must be at least 3 characters"),
        ("code", "12345", "is not in the expected format"),
        ("start", "2026-02-30", "must be a date like 2026-01-31"),
        ("start", "31.01.2026", "must be a date like 2026-01-31"),
        ("start", "2026-1-31", "must be a date like 2026-01-31"),
        ("email", "not-an-address", "enter an e-mail address like name@example.uz"),
        ("email", "a@b", "enter an e-mail address like name@example.uz"),
        ("email", "a@@b.uz", "enter an e-mail address like name@example.uz"),
        ("email", "a..b@mail.uz", "enter an e-mail address like name@example.uz"),
        ("email", "a@-mail.uz", "enter an e-mail address like name@example.uz"),
        ("tin", "12345678", "a TIN is exactly 9 digits"),
        ("tin", "012345678", "a TIN does not start with 0"),
        ("pinfl", "1234", "a PINFL is exactly 14 digits"),
        ("pinfl", "71234567890123", "a PINFL starts with a digit from 1 to 6"),
        ("agree", False, "tick this box to continue"),
        ("count", "5", "enter a whole number"),
        ("count", 2.5, "enter a whole number"),
        ("area", "5", "enter a number"),
        ("name", ["x"], "must be text"),
        ("name", {"a": 1}, "must be text"),
        ("flag", "yes", "must be true or false"),
        ("name", "x\x00", "must not contain control characters"),
        ("notes", "x" * (MAX_STRING + 1), f"must be at most {MAX_STRING} characters"),
        ("nothing", "x", "unknown field"),
    ],
)
def test_messages(field: str, value: Any, message: str) -> None:
    data = {"kind": "shop", "name": "Anvar", "count": 5, "agree": True, field: value}
    assert validate(SCHEMA, data) == {field: message}


@pytest.mark.parametrize(
    "value",
    ["anvar@example.uz", "a.b-c+d@mail.example.com", "x@xn--80ak6aa92e.com", "A_B@Mail.UZ"],
)
def test_good_emails(value: str) -> None:
    assert validate(SCHEMA, {**GOOD_RAW, "count": 5, "agree": True, "email": value}) == {}


def test_good_identifiers_and_dates() -> None:
    data = {"kind": "cafe", "name": "A", "count": 0, "agree": True}
    data |= {"tin": "123456789", "pinfl": "31234567890123", "start": "2024-02-29"}
    assert validate(SCHEMA, data) == {}


def test_one_message_per_field_the_first() -> None:
    schema = {
        "type": "object",
        "properties": {
            "code": {
                "type": "string",
                "maxLength": 3,
                "pattern": "^[0-9]+$",
                "x-title": titled("C"),
            }
        },
    }
    assert validate(schema, {"code": "abcdef"}) == {"code": "must be at most 3 characters"}


def test_errors_follow_the_order_of_the_form() -> None:
    raw = {"agree": "no", "name": "", "count": "x", "kind": "?", "zzz": "1"}
    _data, errors = validate_all(SCHEMA, raw)
    assert list(errors) == ["name", "kind", "count", "agree", "zzz"]


def test_a_value_that_cannot_be_read_is_not_also_missing() -> None:
    data, errors = validate_all(SCHEMA, {**GOOD_RAW, "count": "12.5"})
    assert errors == {"count": "enter a whole number"}
    assert "count" not in data


def test_validate_all_reads_api_json_too() -> None:
    data, errors = validate_all(
        SCHEMA, {"kind": "cafe", "name": "Ann", "count": 7, "agree": True, "area": 12.5}
    )
    assert errors == {}
    assert data["area"] == 12.5


# --- hostile input ------------------------------------------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.builds(lambda s: f"SECRET{s}", st.text(max_size=10)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*SCHEMA["properties"], "extra"]) | st.text(max_size=8), _values, max_size=8
    )
)
def test_any_input_gives_messages_never_the_values(raw: dict[Any, Any]) -> None:
    secrets = {"SECRET"}
    data, errors = validate_all(SCHEMA, raw)
    for key, message in errors.items():
        assert isinstance(message, str)
        assert message
        assert not any(s in message for s in secrets)
        assert key == "_" or key in raw or key in SCHEMA["required"]
    assert set(data) <= set(SCHEMA["properties"])
    # Every problem of what was read is among the errors, and it is drawn without error.
    assert set(validate(SCHEMA, data)) <= set(errors)
    fields(SCHEMA, "en", raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_every_integer_read_is_what_was_written(text: str) -> None:
    value = parse_integer(text)
    if value is not None:
        assert value == int(re.sub(r"[ \u00a0\u202f]", "", text.strip()))
