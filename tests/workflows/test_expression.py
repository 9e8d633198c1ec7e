"""The ``when`` expression language: parsing, errors with columns, evaluation rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import ExpressionError, parse_expression
from workflows._expression import MAX_DEPTH, _unparse

DOC = {
    "type": "licence",
    "amount": 1_500_000,
    "department": "LEGAL",
    "confidentiality": "public",
    "tags": ["urgent", "paper"],
    "nothing": None,
    "flag": True,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type == 'licence'", True),
        ('type == "licence"', True),
        ("type != 'licence'", False),
        ("amount > 1000000", True),
        ("amount >= 1500000", True),
        ("amount < 1500000.5", True),
        ("amount <= -1", False),
        ("type == 'licence' and amount > 1000000", True),
        ("type == 'letter' or amount > 1000000", True),
        ("not type == 'letter'", True),
        ("not (type == 'licence' and amount > 1)", False),
        ("department in ['LEGAL', 'STATS']", True),
        ("department not in ['LEGAL', 'STATS']", False),
        ("'urgent' in tags", True),
        ("'cen' in type", True),
        ("'x' not in type", True),
        ("nothing == null", True),
        ("missing == null", True),
        ("flag == true", True),
        ("flag", True),
        ("nothing", False),
        ("[]", False),
        ("[1]", True),
        ("0", False),
        ("''", False),
        ("'a' < 'b'", True),
        ("1 == 1.0", True),
        ("[1, 'a'] == [1.0, 'a']", True),
        ("true or false and false", True),  # and binds tighter than or
        ("(true or false) and false", False),
        ("not not true", True),
        ("'it\\'s' == \"it's\"", True),
        ("  amount\n  > 10  ", True),
    ],
)
def test_evaluates(text: str, expected: bool) -> None:
    assert parse_expression(text).evaluate(DOC) is expected


@pytest.mark.parametrize(
    "text",
    [
        "amount > 'a'",  # number and string
        "amount < 'a'",
        "nothing < 1",  # null
        "nothing >= 1",
        "missing > 0",
        "tags > 1",  # list
        "flag > 0",  # booleans are not numbers
        "true < 2",
        "[1] < [2]",
        "1 in 12",  # in needs a list or a string
        "1 in 'a1'",
    ],
)
def test_incompatible_comparisons_are_false(text: str) -> None:
    assert parse_expression(text).evaluate(DOC) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 == '1'", False),
        ("true == 1", False),
        ("null == 0", False),
        ("1 != '1'", True),  # != is the negation of ==
        ("1 not in 12", True),  # not in is the negation of in
    ],
)
def test_equality_across_types(text: str, expected: bool) -> None:
    assert parse_expression(text).evaluate({}) is expected


def test_context_numbers_may_be_decimals() -> None:
    expr = parse_expression("amount > 1000.5 and amount == 1001")
    assert expr.evaluate({"amount": Decimal("1001")}) is True


def test_exotic_context_values_do_not_break_a_condition() -> None:
    class Weird:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no")

        def __bool__(self) -> bool:
            raise RuntimeError("no")

        __hash__ = object.__hash__

    expr = parse_expression("x == 1 or x or x in [1] or x < 2")
    assert expr.evaluate({"x": Weird()}) is False


def test_names_and_columns() -> None:
    expr = parse_expression("type == 'a' and amount > 1 or type == 'b'")
    assert expr.names == {"type", "amount"}
    assert expr.name_columns() == [("type", 1), ("amount", 17), ("type", 31)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("1 > 2", False),
        ("false and type == 'x'", False),
        ("true or type == 'x'", True),
        ("type == 'x' and 1 > 2", False),
        ("not (1 in [1, 2])", False),
        ("type == 'x'", None),
        ("type == 'x' or false", None),
        ("[type] == [1]", None),
    ],
)
def test_constant_value(text: str, expected: bool | None) -> None:
    assert parse_expression(text).constant_value() is expected


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "empty"),
        ("type = 'x'", 6, "'=='"),
        ("type == ", 9, "ends where a value is expected"),
        ("type == 'x", 9, "not closed"),
        ("amount > 10 && type", 13, "'and'"),
        ("a || b", 3, "'or'"),
        ("!flag", 1, "'not'"),
        ("(a == 1", 8, "missing ')'"),
        ("[1, 2", 6, "missing ']'"),
        ("[1 2]", 4, "',' or ']'"),
        ("a < b < c", 7, "do not chain"),
        ("a b", 3, "missing operator"),
        ("a == 1 )", 8, "unexpected ')'"),
        ("1.", 3, "digit must follow"),
        ("12abc", 1, "malformed number"),
        ("x == True", 6, "write true"),
        ("x == None", 6, "write null"),
        ("a not b", 3, "followed by 'in'"),
        ("- a", 3, "followed by a number"),
        ("a == 'x\\q'", 8, "unknown escape"),
        ("a == $", 6, "unexpected character"),
        ("and", 1, "expected a value"),
        ("__import__('os')", 11, "missing operator"),
        ("__import__('os').system('x')", 17, "unexpected character '.'"),
        ("1" + "0" * 400 + ".0", 1, "too large"),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert f"column {column}" in str(info.value)
    assert info.value.expression == text


def test_nesting_and_length_are_limited() -> None:
    parse_expression("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH)
    with pytest.raises(ExpressionError, match="nested"):
        parse_expression("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExpressionError, match="nested"):
        parse_expression("not " * 100 + "true")
    with pytest.raises(ExpressionError, match="longer than"):
        parse_expression("a or " * 1000 + "b")
    # Long flat chains are fine: and/or are n-ary nodes, so evaluation does not recurse deep.
    assert parse_expression(" and ".join(["true"] * 200)).evaluate({}) is True


def test_not_text_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        parse_expression(42)  # type: ignore[arg-type]


def test_equal_by_text() -> None:
    assert parse_expression("a == 1") == parse_expression("a == 1")
    assert parse_expression("a == 1") != parse_expression("a==1")
    assert hash(parse_expression("a == 1")) == hash(parse_expression("a == 1"))


# --- properties ---------------------------------------------------------------------

GRAMMAR_BITS = st.sampled_from(
    [
        "a",
        "type",
        "1",
        "2.5",
        "-",
        "'x'",
        '"y"',
        "'",
        '"',
        "\\",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "=",
        "!",
        "and",
        "or",
        "not",
        "in",
        "true",
        "false",
        "null",
        "(",
        ")",
        "[",
        "]",
        ",",
        " ",
        ".",
        "\n",
        "é",
        "\x00",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(GRAMMAR_BITS, max_size=40).map("".join)))
def test_arbitrary_text_raises_only_expression_error(text: str) -> None:
    try:
        expr = parse_expression(text)
    except ExpressionError as exc:
        column = exc.column
    else:
        column = 0
    if column:
        assert 1 <= column <= len(text) + 1
        return
    # Whatever parses evaluates without raising, on any context.
    assert isinstance(expr.evaluate(DOC), bool)
    assert isinstance(expr.evaluate({}), bool)
    expr.constant_value()


# Generated valid expressions with the value an independent oracle gives them.

CONTEXT: dict[str, Any] = {
    "n": 5,
    "f": 2.5,
    "s": "ab",
    "e": "",
    "z": None,
    "l": [1, "ab"],
    "t": True,
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    return "list"


def _eq(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b):
        return False
    if _kind(a) == "list":
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _truth(value: Any) -> bool:
    return _kind(value) not in ("null",) and bool(value)


def _oracle(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _eq(a, b)
    if op == "!=":
        return not _eq(a, b)
    if op in ("in", "not in"):
        if isinstance(b, list):
            found = any(_eq(a, x) for x in b)
        elif isinstance(a, str) and isinstance(b, str):
            found = a in b
        else:
            found = False
        return found if op == "in" else not found
    if _kind(a) != _kind(b) or _kind(a) not in ("num", "str"):
        return False
    return {
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


LEAVES = st.one_of(
    st.integers(-1000, 1000).map(lambda n: (str(n), n)),
    st.integers(0, 10_000).map(lambda n: (f"{n / 100:.2f}", n / 100)),
    st.text(alphabet="ab'\\ \"", max_size=4).map(lambda s: (_quote(s), s)),
    st.sampled_from([("true", True), ("false", False), ("null", None)]),
    st.sampled_from([*sorted(CONTEXT), "missing"]).map(lambda k: (k, CONTEXT.get(k))),
)


def _extend(children: st.SearchStrategy[tuple[str, Any]]) -> st.SearchStrategy[tuple[str, Any]]:
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
    compare = st.tuples(children, ops, children).map(
        lambda t: (f"({t[0][0]}) {t[1]} ({t[2][0]})", _oracle(t[1], t[0][1], t[2][1]))
    )
    boolean = st.tuples(children, st.sampled_from(["and", "or"]), children).map(
        lambda t: (
            f"({t[0][0]}) {t[1]} ({t[2][0]})",
            (_truth(t[0][1]) and _truth(t[2][1]))
            if t[1] == "and"
            else (_truth(t[0][1]) or _truth(t[2][1])),
        )
    )
    negation = children.map(lambda c: (f"not ({c[0]})", not _truth(c[1])))
    listing = st.lists(children, max_size=3).map(
        lambda items: ("[" + ", ".join(i[0] for i in items) + "]", [i[1] for i in items])
    )
    return st.one_of(compare, boolean, negation, listing)


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(EXPRESSIONS)
def test_generated_expressions_match_the_oracle(case: tuple[str, Any]) -> None:
    text, value = case
    expr = parse_expression(text)
    assert expr.evaluate(CONTEXT) is _truth(value)
    # Deterministic, and the canonical text means the same.
    assert expr.evaluate(CONTEXT) is expr.evaluate(dict(CONTEXT))
    canonical = _unparse(expr.node)
    again = parse_expression(canonical)
    assert _unparse(again.node) == canonical
    assert again.evaluate(CONTEXT) is _truth(value)
