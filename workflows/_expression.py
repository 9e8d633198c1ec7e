"""The ``when`` expression language: a tokenizer, a recursive-descent parser to an AST,
and an evaluator that walks the AST. Nothing is ever passed to ``eval``/``exec``.

Grammar (lowest precedence first)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") operand)?
    operand    := STRING | NUMBER | "-" NUMBER | "true" | "false" | "null" | NAME
                | "(" expr ")" | "[" (expr ("," expr)* ","?)? "]"

Comparisons do not chain (``a < b < c`` is an error: join them with ``and``).

Semantics, chosen so that a condition never fails at run time:

- A name is a document attribute; one missing from the context is ``null``.
- ``==`` and ``!=`` never fail: values of different types are unequal (``1 == '1'`` and
  ``true == 1`` are false); ints and floats compare by value; lists element by element.
- ``<``, ``<=``, ``>``, ``>=`` compare two numbers or two strings; between any other
  pair (``null``, mixed types, lists) the comparison is **false**, whichever operator.
- ``x in [..]`` is list membership by ``==``; ``'ab' in text`` is a substring test on
  two strings; any other right-hand side makes ``in`` false. ``not in`` is always the
  negation of ``in`` and ``!=`` of ``==``.
- ``and``, ``or``, ``not`` take truth values: ``null``, ``false``, ``0``, ``''`` and
  ``[]`` are false, every other value true; they return ``true`` or ``false``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from workflows._errors import ExpressionError

MAX_LENGTH: Final = 2000
MAX_DEPTH: Final = 32

_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_COMPARE: Final = ("==", "!=", "<=", ">=", "<", ">")
_ESCAPES: Final = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_PYTHONISMS: Final = {"True": "true", "False": "false", "None": "null", "NULL": "null"}


# --- tokens ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "str", "num", "name", "kw", "op", "end"
    value: Any
    column: int


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch in " \t\r\n":
            i += 1
        elif ch in "'\"":
            i, value = _string(text, i)
            tokens.append(_Token("str", value, col))
        elif "0" <= ch <= "9":
            i, number = _number(text, i)
            tokens.append(_Token("num", number, col))
        elif _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            word = text[i:j]
            if word in _PYTHONISMS:
                raise ExpressionError(
                    f"unknown word {word!r}; write {_PYTHONISMS[word]}", text, col
                )
            tokens.append(_Token("kw" if word in _KEYWORDS else "name", word, col))
            i = j
        else:
            two = text[i : i + 2]
            if two in ("==", "!=", "<=", ">="):
                tokens.append(_Token("op", two, col))
                i += 2
            elif ch in "<>()[],-":
                tokens.append(_Token("op", ch, col))
                i += 1
            elif ch == "=":
                raise ExpressionError("single '='; compare with '=='", text, col)
            elif ch == "!":
                raise ExpressionError("'!' alone; write '!=' or 'not'", text, col)
            elif two in ("&&", "||"):
                word = "and" if two == "&&" else "or"
                raise ExpressionError(f"{two!r} is not an operator; write {word!r}", text, col)
            else:
                raise ExpressionError(f"unexpected character {ch!r}", text, col)
    tokens.append(_Token("end", None, n + 1))
    return tokens


def _string(text: str, start: int) -> tuple[int, str]:
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == quote:
            return i + 1, "".join(out)
        if ch == "\\":
            if i + 1 >= n:
                break
            escaped = _ESCAPES.get(text[i + 1])
            if escaped is None:
                raise ExpressionError(
                    f"unknown escape '\\{text[i + 1]}' (use \\\\, \\', \\\", \\n or \\t)",
                    text,
                    i + 1,
                )
            out.append(escaped)
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError(f"string not closed: add the closing {quote}", text, start + 1)


def _number(text: str, start: int) -> tuple[int, int | float]:
    i, n = start, len(text)
    while i < n and "0" <= text[i] <= "9":
        i += 1
    is_float = False
    if i < n and text[i] == ".":
        j = i + 1
        while j < n and "0" <= text[j] <= "9":
            j += 1
        if j == i + 1:
            raise ExpressionError("a digit must follow the decimal point", text, i + 2)
        i, is_float = j, True
    if i < n and (_is_name_char(text[i]) or text[i] == "."):
        raise ExpressionError("malformed number", text, start + 1)
    digits = text[start:i]
    try:
        value = float(digits) if is_float else int(digits)
    except ValueError:  # more digits than int() accepts
        raise ExpressionError("number too long", text, start + 1) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("number too large", text, start + 1)
    return i, value


# --- AST ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # None, bool, int, float, str


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # one of _COMPARE, "in", "not in"
    left: Node
    right: Node


Node = Literal | Name | ListExpr | Not | BoolOp | Compare


# --- parser -------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def next(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.tokens[self.pos]
        return token.kind == kind and (value is None or token.value == value)

    def fail(self, message: str, token: _Token | None = None) -> ExpressionError:
        token = token or self.peek()
        return ExpressionError(message, self.text, token.column)

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", token)

    def parse(self) -> Node:
        if self.at("end"):
            raise self.fail("the expression is empty")
        node = self.parse_or()
        if not self.at("end"):
            token = self.peek()
            if token.kind in ("name", "str", "num") or self.at("op", "("):
                raise self.fail("missing operator before this value (and, or, ==, ...)")
            raise self.fail(f"unexpected {_describe(token)}")
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.at("kw", "or"):
            self.next()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.at("kw", "and"):
            self.next()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def parse_not(self) -> Node:
        if self.at("kw", "not"):
            token = self.next()
            self.nest(token)
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_comparison()

    def compare_op(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.value in _COMPARE:
            self.next()
            return str(token.value)
        if token.kind == "kw" and token.value == "in":
            self.next()
            return "in"
        if token.kind == "kw" and token.value == "not":
            following = self.tokens[self.pos + 1]
            if following.kind == "kw" and following.value == "in":
                self.pos += 2
                return "not in"
            raise self.fail("'not' here must be followed by 'in'")
        return None

    def parse_comparison(self) -> Node:
        left = self.parse_operand()
        op = self.compare_op()
        if op is None:
            return left
        right = self.parse_operand()
        token = self.peek()
        if self.compare_op() is not None:
            raise self.fail("comparisons do not chain; join them with 'and'", token)
        return Compare(op, left, right)

    def parse_operand(self) -> Node:
        token = self.next()
        if token.kind in ("str", "num"):
            return Literal(token.value)
        if token.kind == "name":
            return Name(str(token.value), token.column)
        if token.kind == "kw":
            if token.value in ("true", "false"):
                return Literal(token.value == "true")
            if token.value == "null":
                return Literal(None)
            raise self.fail(f"expected a value, found {_describe(token)}", token)
        if token.kind == "op":
            if token.value == "-":
                number = self.next()
                if number.kind != "num":
                    raise self.fail("'-' must be followed by a number", number)
                return Literal(-number.value)
            if token.value == "(":
                self.nest(token)
                node = self.parse_or()
                if not self.at("op", ")"):
                    raise self.fail(f"missing ')' to close the '(' at column {token.column}")
                self.next()
                self.depth -= 1
                return node
            if token.value == "[":
                return self.parse_list(token)
        if token.kind == "end":
            raise self.fail("the expression ends where a value is expected", token)
        raise self.fail(f"expected a value, found {_describe(token)}", token)

    def parse_list(self, opening: _Token) -> Node:
        self.nest(opening)
        items: list[Node] = []
        while not self.at("op", "]"):
            if self.at("end"):
                raise self.fail(f"missing ']' to close the '[' at column {opening.column}")
            items.append(self.parse_or())
            if self.at("op", ","):
                self.next()
            elif self.at("end"):
                raise self.fail(f"missing ']' to close the '[' at column {opening.column}")
            elif not self.at("op", "]"):
                raise self.fail("expected ',' or ']' in the list")
        self.next()
        self.depth -= 1
        return ListExpr(tuple(items))


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "str":
        return "a string"
    if token.kind == "num":
        return "a number"
    return repr(token.value)


def _names(node: Node) -> frozenset[str]:
    found: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Name):
            found.add(item.name)
        elif isinstance(item, ListExpr):
            stack.extend(item.items)
        elif isinstance(item, Not):
            stack.append(item.operand)
        elif isinstance(item, BoolOp):
            stack.extend(item.operands)
        elif isinstance(item, Compare):
            stack += [item.left, item.right]
    return frozenset(found)


def _name_columns(node: Node) -> list[Name]:
    out: list[Name] = []
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Name):
            out.append(item)
        elif isinstance(item, ListExpr):
            stack.extend(reversed(item.items))
        elif isinstance(item, Not):
            stack.append(item.operand)
        elif isinstance(item, BoolOp):
            stack.extend(reversed(item.operands))
        elif isinstance(item, Compare):
            stack += [item.right, item.left]
    return out


# --- evaluation ---------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool | complex)


def _truthy(value: object) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    if _is_number(value):
        try:
            return bool(value != 0)
        except (TypeError, ArithmeticError):
            return False
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    try:
        return bool(value)
    except Exception:  # an exotic context value must not break a condition
        return False


def _equal(left: object, right: object) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) or _is_number(right):
        if not (_is_number(left) and _is_number(right)):
            return False
        try:
            return bool(left == right)
        except (TypeError, ArithmeticError):
            return False
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if isinstance(left, list | tuple) or isinstance(right, list | tuple):
        if not (isinstance(left, list | tuple) and isinstance(right, list | tuple)):
            return False
        return len(left) == len(right) and all(
            _equal(a, b) for a, b in zip(left, right, strict=True)
        )
    try:
        return type(left) is type(right) and bool(left == right)
    except Exception:
        return False


def _order(op: str, left: object, right: object) -> bool:
    ok = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not ok:
        return False
    a: Any = left
    b: Any = right
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except (TypeError, ArithmeticError):
        return False


def _contains(left: object, right: object) -> bool:
    if isinstance(right, list | tuple):
        return any(_equal(left, item) for item in right)
    if isinstance(right, str) and isinstance(left, str):
        return left in right
    return False


def _evaluate(node: Node, context: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return context.get(node.name)
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_truthy(_evaluate(item, context)) for item in node.operands)
        return any(_truthy(_evaluate(item, context)) for item in node.operands)
    if isinstance(node, Not):
        return not _truthy(_evaluate(node.operand, context))
    if isinstance(node, ListExpr):
        return [_evaluate(item, context) for item in node.items]
    left = _evaluate(node.left, context)
    right = _evaluate(node.right, context)
    return _apply(node.op, left, right)


def _apply(op: str, left: object, right: object) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return _contains(left, right)
    if op == "not in":
        return not _contains(left, right)
    return _order(op, left, right)


class _Unknown:
    """The value of a name during constant folding."""


_UNKNOWN: Final = _Unknown()


def _fold(node: Node) -> Any:
    """Evaluate what does not depend on a name; ``_UNKNOWN`` for the rest."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return _UNKNOWN
    if isinstance(node, ListExpr):
        items = [_fold(item) for item in node.items]
        return _UNKNOWN if any(item is _UNKNOWN for item in items) else items
    if isinstance(node, Not):
        value = _fold(node.operand)
        return _UNKNOWN if value is _UNKNOWN else not _truthy(value)
    if isinstance(node, BoolOp):
        deciding = node.op == "or"  # the truth value that decides the whole operation
        unknown = False
        for item in node.operands:
            value = _fold(item)
            if value is _UNKNOWN:
                unknown = True
            elif _truthy(value) == deciding:
                return deciding
        return _UNKNOWN if unknown else not deciding
    left, right = _fold(node.left), _fold(node.right)
    if left is _UNKNOWN or right is _UNKNOWN:
        return _UNKNOWN
    return _apply(node.op, left, right)


def _unparse(node: Node) -> str:
    """Canonical, fully parenthesized text of ``node`` (parses back to the same AST)."""
    if isinstance(node, Literal):
        value = node.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            escaped = escaped.replace("\n", "\\n").replace("\t", "\\t")
            return f"'{escaped}'"
        if isinstance(value, float):
            # Plain digits: the language has no exponent notation (repr gives 1e-05).
            digits = format(Decimal(repr(value)), "f")
            return digits if "." in digits else digits + ".0"
        return repr(value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, ListExpr):
        return "[" + ", ".join(_unparse(item) for item in node.items) + "]"
    if isinstance(node, Not):
        return f"(not {_unparse(node.operand)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op} ".join(_unparse(item) for item in node.operands) + ")"
    return f"({_unparse(node.left)} {node.op} {_unparse(node.right)})"


# --- public -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed condition. Equal when the source text is equal."""

    text: str
    node: Node = field(compare=False, repr=False)
    names: frozenset[str] = field(compare=False, repr=False)

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """Truth of the expression for these document attributes (never raises)."""
        return _truthy(_evaluate(self.node, context))

    def constant_value(self) -> bool | None:
        """``True``/``False`` when the truth does not depend on any attribute, else ``None``."""
        value = _fold(self.node)
        return None if value is _UNKNOWN else _truthy(value)

    def name_columns(self) -> list[tuple[str, int]]:
        """Each attribute name used, with its 1-based column, in order of appearance."""
        return [(item.name, item.column) for item in _name_columns(self.node)]


def parse_expression(text: str) -> Expression:
    """Parse a ``when`` condition; raise ``ExpressionError`` (with the column) if invalid."""
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text", repr(text), 1)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters", text, MAX_LENGTH + 1)
    node = _Parser(text).parse()
    return Expression(text, node, _names(node))
