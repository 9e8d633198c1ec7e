"""The catalogue of public e-services: one YAML file per service in ``config/services``.

A service file (every key is described; ``?`` marks an optional key)::

    code: licence_request        # ^[a-z][a-z0-9_]{1,63}$, unique in the catalogue
    name: {uz: ..., ru: ..., en: ...}         # all three languages, up to 200 characters
    description: {uz: ..., ru: ..., en: ...}  # all three languages, up to 2000 characters
    term_days: 15                # the legal term in working days, 1..365
    fee?: {amount: 1236000, currency?: UZS}   # whole units, >= 0; no fee or 0 = free;
                                 # currency is three capital letters (default UZS)
    applicants: [organisation, person]   # who may apply: a legal entity (TIN) and/or a
                                 # person (PINFL); at least one, each once
    journal: IN                  # journal the application is registered in
    department: LICENSING        # department that owns the registered document
    document_type: application   # document type of the registered document
    workflow: licence_request    # workflow definition started on submission
    decision:
      template: licence          # config/templates/<template>.docx for a positive decision
      refusal_template?: decision   # for a refusal (default ``decision``)
    information_requests?:       # staff asking the applicant for more information
      clock?: pause              # pause | restart | continue (default pause): the legal
                                 # term stands still / starts again from the answer / runs on
      answer_days?: 10           # working days the applicant has to answer, 1..90 (default 10)
    form:                        # a JSON Schema (draft 2020-12) of the form, see below
    attachments?:                # the files asked for, at most 20
      - code: plan               # ^[a-z][a-z0-9_]{1,31}$, unique in the service
        title: {uz, ru, en}
        help?: {uz, ru, en}      # a hint shown under the file input
        required?: false         # default false
        types: [application/pdf, image/jpeg]   # media types as sniffed from the bytes,
                                 # from MEDIA_TYPES
        max_mb?: 10              # 1..512 (default 10)
    report?:                     # statistical services: the attachment that is a table
      attachment: report         # an attachment whose types are text/csv and/or XLSX only
      max_rows?: 100000          # data rows allowed, 1..1000000 (default 100000)
      columns:                   # 1..100 columns; the header row names them (any order)
        - name: region_code      # ^[a-z][a-z0-9_]{0,63}$, unique ignoring case
          title: {uz, ru, en}
          type: string           # string | integer | number | date | enum
          required?: false       # an empty cell is an error (default false)
          pattern?: "^[0-9]{4}$" # string: a regular expression (searched, as in JSON
                                 # Schema: anchor it with ^...$)
          max_length?: 200       # string: 1..10000 (default 10000)
          minimum?: 0            # integer, number
          maximum?: 1000000      # integer, number
          values?: [A01, B05]    # enum (and only enum): the values allowed, as text
      totals?:                   # the sum of a column must equal a form field's value
        - {column: employees, field: total_employees}   # both integer or number

The ``form`` is a JSON Schema of ``type: object`` whose ``properties`` are flat; its
keys are ``type`` (object), ``properties`` (1..100, names as columns), ``required?``
(names of properties), ``additionalProperties?`` (false only: a form is always closed)
and ``$schema?`` (draft 2020-12). Each property has::

    type: string | integer | number | boolean       # nothing nested: no object or array
    x-title: {uz, ru, en}        # the label, required
    x-help?: {uz, ru, en}        # a hint under the input
    # string only:
    format?: date | email | tin | pinfl   # date = 2026-01-31; tin/pinfl by edms.validators
    enum?: [a, b]                # a select; not together with format
    x-enum-titles?: {a: {uz, ru, en}, b: {uz, ru, en}}   # labels of every enum value
    x-widget?: textarea          # a multi-line input (not with format or enum)
    minLength?, maxLength?: 0..10000, 1..10000, pattern?: a regular expression
    # integer and number only:
    minimum?, maximum?
    # boolean only:
    const?: true                 # a checkbox that must be ticked

Loading checks, and reports every problem in one ``CatalogueError``: the YAML (safe
loader, a size limit of ``MAX_TEXT_BYTES``, no aliases, no duplicate keys, only text
keys and JSON-like values), the JSON Schema ``SCHEMA`` of the file, then what a
schema cannot say (the form is a valid draft 2020-12 schema and each keyword fits its
property's type, ``required`` names properties, totals name numeric columns and
fields, the report's attachment is a table, codes are unique). References to journals,
departments, document types, workflows and templates are checked against what exists
by ``check_references``.

Every problem names the file, the path inside it (``form.properties.kind.enum[1]``),
the line when known, what is wrong, and how to fix it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import jsonschema

import workflows
from edms.errors import ValidationError
from workflows import KeyPath, YamlDocument, did_you_mean, format_path, show_value

__all__ = [
    "APPLICANTS",
    "CLOCKS",
    "COLUMN_TYPES",
    "CSV",
    "LANGS",
    "MAX_STRING",
    "MAX_TEXT_BYTES",
    "MEDIA_TYPES",
    "SCHEMA",
    "STRING_FORMATS",
    "TABLE_TYPES",
    "XLSX",
    "AttachmentSpec",
    "CatalogueError",
    "ColumnSpec",
    "DecisionSpec",
    "Fee",
    "InfoRequestSpec",
    "Problem",
    "ReportSpec",
    "ServiceSpec",
    "TotalRule",
    "check_references",
    "load_directory",
    "parse_service",
    "text",
]

LANGS: Final = ("uz", "ru", "en")
MAX_TEXT_BYTES: Final = 256 * 1024
#: The longest text any form field or table cell may hold, whatever the definition says.
MAX_STRING: Final = 10_000

CSV: Final = "text/csv"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TABLE_TYPES: Final = frozenset({CSV, XLSX})
#: Media types an attachment may accept: what ``edms.documents.sniff`` recognises and a
#: state body can keep (a typo such as ``aplication/pdf`` is caught at load time).
MEDIA_TYPES: Final = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    CSV,
    XLSX,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "text/plain",
)
APPLICANTS: Final = ("organisation", "person")
CLOCKS: Final = ("pause", "restart", "continue")
FIELD_TYPES: Final = ("string", "integer", "number", "boolean")
STRING_FORMATS: Final = ("date", "email", "tin", "pinfl")
COLUMN_TYPES: Final = ("string", "integer", "number", "date", "enum")

CODE_PATTERN: Final = "^[a-z][a-z0-9_]{1,63}$"
NAME_PATTERN: Final = "^[a-z][a-z0-9_]{0,63}$"  # form properties and report columns
ATTACHMENT_PATTERN: Final = "^[a-z][a-z0-9_]{1,31}$"
# As edms.auth.services.CODE_RE (departments and journals).
DEPARTMENT_PATTERN: Final = "^[A-Z0-9][A-Z0-9_-]{0,31}$"
TEMPLATE_PATTERN: Final = "^[a-z][a-z0-9_-]{0,63}$"
SCHEMA_URI: Final = "https://json-schema.org/draft/2020-12/schema"


# --- the JSON Schema of a service file ----------------------------------------------


def _texts(max_length: int) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(LANGS),
        "properties": {
            lang: {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": r"\S"}
            for lang in LANGS
        },
    }


_NUMBER: Final[dict[str, Any]] = {"type": "number", "minimum": -1e15, "maximum": 1e15}

_PROPERTY: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "x-title"],
    "properties": {
        "type": {"enum": list(FIELD_TYPES)},
        "format": {"enum": list(STRING_FORMATS)},
        "enum": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "const": {"const": True},
        "minimum": _NUMBER,
        "maximum": _NUMBER,
        "minLength": {"type": "integer", "minimum": 0, "maximum": MAX_STRING},
        "maxLength": {"type": "integer", "minimum": 1, "maximum": MAX_STRING},
        "pattern": {"type": "string", "minLength": 1, "maxLength": 500},
        "x-title": _texts(200),
        "x-help": _texts(1000),
        "x-widget": {"enum": ["textarea"]},
        "x-enum-titles": {
            "type": "object",
            "maxProperties": 500,
            "additionalProperties": _texts(200),
        },
    },
}

_FORM: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "properties"],
    "properties": {
        "$schema": {"const": SCHEMA_URI},
        "type": {"const": "object"},
        "additionalProperties": {"const": False},
        "required": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string"},
        },
        "properties": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 100,
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": _PROPERTY,
        },
    },
}

_ATTACHMENT: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "title", "types"],
    "properties": {
        "code": {"type": "string", "pattern": ATTACHMENT_PATTERN},
        "title": _texts(200),
        "help": _texts(1000),
        "required": {"type": "boolean"},
        "types": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(MEDIA_TYPES)},
        },
        "max_mb": {"type": "integer", "minimum": 1, "maximum": 512},
    },
}

_COLUMN: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "title", "type"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "title": _texts(200),
        "type": {"enum": list(COLUMN_TYPES)},
        "required": {"type": "boolean"},
        "pattern": {"type": "string", "minLength": 1, "maxLength": 500},
        "max_length": {"type": "integer", "minimum": 1, "maximum": MAX_STRING},
        "minimum": _NUMBER,
        "maximum": _NUMBER,
        "values": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
        },
    },
}

_REPORT: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["attachment", "columns"],
    "properties": {
        "attachment": {"type": "string", "pattern": ATTACHMENT_PATTERN},
        "max_rows": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "columns": {"type": "array", "minItems": 1, "maxItems": 100, "items": _COLUMN},
        "totals": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["column", "field"],
                "properties": {
                    "column": {"type": "string", "pattern": NAME_PATTERN},
                    "field": {"type": "string", "pattern": NAME_PATTERN},
                },
            },
        },
    },
}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": SCHEMA_URI,
    "title": "EDMS public e-service",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "code",
        "name",
        "description",
        "term_days",
        "applicants",
        "journal",
        "department",
        "document_type",
        "workflow",
        "decision",
        "form",
    ],
    "properties": {
        "code": {"type": "string", "pattern": CODE_PATTERN},
        "name": _texts(200),
        "description": _texts(2000),
        "term_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "fee": {
            "type": "object",
            "additionalProperties": False,
            "required": ["amount"],
            "properties": {
                "amount": {"type": "integer", "minimum": 0, "maximum": 10**13},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        },
        "applicants": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(APPLICANTS)},
        },
        "journal": {"type": "string", "pattern": DEPARTMENT_PATTERN},
        "department": {"type": "string", "pattern": DEPARTMENT_PATTERN},
        "document_type": {"type": "string", "pattern": NAME_PATTERN},
        "workflow": {"type": "string", "pattern": NAME_PATTERN},
        "decision": {
            "type": "object",
            "additionalProperties": False,
            "required": ["template"],
            "properties": {
                "template": {"type": "string", "pattern": TEMPLATE_PATTERN},
                "refusal_template": {"type": "string", "pattern": TEMPLATE_PATTERN},
            },
        },
        "information_requests": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "clock": {"enum": list(CLOCKS)},
                "answer_days": {"type": "integer", "minimum": 1, "maximum": 90},
            },
        },
        "form": _FORM,
        "attachments": {"type": "array", "maxItems": 20, "items": _ATTACHMENT},
        "report": _REPORT,
    },
}

_VALIDATOR: Final = jsonschema.Draft202012Validator(SCHEMA)

_TEXTS_HINT: Final = "give the text in every language: {uz: ..., ru: ..., en: ...}"
# Keyed by the last name of a problem's path: how to write that key.
HINTS: Final[dict[str, str]] = {
    "code": "use lowercase letters, digits and _, starting with a letter (licence_request)",
    "name": _TEXTS_HINT,
    "description": _TEXTS_HINT,
    "title": _TEXTS_HINT,
    "help": _TEXTS_HINT,
    "x-title": _TEXTS_HINT,
    "x-help": _TEXTS_HINT,
    "term_days": "write the legal term in working days, from 1 to 365",
    "fee": "write {amount: 300000, currency: UZS}, or leave fee out for a free service",
    "amount": "write a whole number of currency units, 0 or more",
    "currency": "write the three-letter currency code (UZS)",
    "applicants": "list organisation and/or person",
    "journal": "write a journal code (IN)",
    "department": "write a department code (LICENSING)",
    "document_type": "write a document type code (application)",
    "workflow": "write the code of a workflow definition (licence_request)",
    "decision": "write {template: licence, refusal_template: decision}",
    "template": "write the name of a template in config/templates, without .docx",
    "refusal_template": "write the name of a template in config/templates, without .docx",
    "information_requests": "write {clock: pause, answer_days: 10}",
    "clock": "write " + ", ".join(CLOCKS),
    "answer_days": "write a number of working days from 1 to 90",
    "form": "write a JSON Schema: {type: object, required: [...], properties: {...}}",
    "properties": "name each field: {activity: {type: string, x-title: {...}}}",
    "required": "list names of properties (form) or write true or false",
    "type": "write "
    + ", ".join(FIELD_TYPES)
    + " (form) or "
    + ", ".join(COLUMN_TYPES)
    + " (report)",
    "format": "write " + ", ".join(STRING_FORMATS),
    "enum": "list the values as text: [a, b]",
    "const": "write const: true for a checkbox that must be ticked",
    "x-widget": "write textarea, or leave it out",
    "x-enum-titles": "give a title for each enum value: {a: {uz: ..., ru: ..., en: ...}}",
    "minLength": "write a number of characters from 0 to 10000",
    "maxLength": "write a number of characters from 1 to 10000",
    "max_length": "write a number of characters from 1 to 10000",
    "pattern": "write a regular expression, e.g. '^[0-9]{4}$'",
    "attachments": "list the files: [{code: plan, title: {...}, types: [application/pdf]}]",
    "types": "list media types from: " + ", ".join(MEDIA_TYPES),
    "max_mb": "write a size in MB from 1 to 512",
    "report": "write {attachment: report, columns: [...]}",
    "attachment": "write the code of one of the attachments",
    "max_rows": "write a number of rows from 1 to 1000000",
    "columns": "list the columns: [{name: employees, title: {...}, type: integer}]",
    "values": "list the allowed values as text: ['A01', 'B05']",
    "totals": "list rules: [{column: employees, field: total_employees}]",
    "column": "write the name of a column of the report",
    "field": "write the name of a form property",
}

_TYPE_NAMES: Final = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


# --- the dataclasses ----------------------------------------------------------------


def text(mapping: Mapping[str, str] | None, lang: str) -> str:
    """The text in ``lang``, else English, else the first one given ("" for none)."""
    if not mapping:
        return ""
    return mapping.get(lang) or mapping.get("en") or next(iter(mapping.values()), "")


@dataclass(frozen=True)
class Fee:
    """What the service costs, in whole units of ``currency``."""

    amount: int
    currency: str = "UZS"

    @property
    def free(self) -> bool:
        return self.amount == 0


@dataclass(frozen=True)
class DecisionSpec:
    """The templates (``config/templates/<name>.docx``) of the decision."""

    template: str
    refusal_template: str = "decision"


@dataclass(frozen=True)
class InfoRequestSpec:
    """What the legal term does while the applicant is asked for more information
    (``pause``, ``restart`` or ``continue``) and how long the applicant has to answer."""

    clock: str = "pause"
    answer_days: int = 10


@dataclass(frozen=True)
class AttachmentSpec:
    """A file the service asks for."""

    code: str
    title: dict[str, str]
    types: tuple[str, ...]
    required: bool = False
    max_mb: int = 10
    help: dict[str, str] | None = None

    @property
    def max_bytes(self) -> int:
        return self.max_mb * 1024 * 1024

    def label(self, lang: str = "en") -> str:
        return text(self.title, lang)


@dataclass(frozen=True)
class ColumnSpec:
    """A column of a statistical report (``type``: string, integer, number, date, enum)."""

    name: str
    title: dict[str, str]
    type: str
    required: bool = False
    pattern: str | None = None
    max_length: int | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    values: tuple[str, ...] = ()

    def label(self, lang: str = "en") -> str:
        return text(self.title, lang)


@dataclass(frozen=True)
class TotalRule:
    """The sum of ``column`` must equal the form's ``field`` (when it has a value)."""

    column: str
    field: str


@dataclass(frozen=True)
class ReportSpec:
    """The attachment of a statistical service that carries a table, and its columns."""

    attachment: str
    columns: tuple[ColumnSpec, ...]
    max_rows: int = 100_000
    totals: tuple[TotalRule, ...] = ()

    def column(self, name: str) -> ColumnSpec:
        """The column called ``name`` (``KeyError`` if there is none)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass(frozen=True)
class ServiceSpec:
    """A validated service definition.

    ``form`` is the JSON Schema as written; ``source`` the file name it was read from,
    ``source_text`` its text, and ``lines`` the line of each path
    (``"form.properties.kind"``) for messages about it.
    """

    code: str
    name: dict[str, str]
    description: dict[str, str]
    term_days: int
    applicants: tuple[str, ...]
    journal: str
    department: str
    document_type: str
    workflow: str
    decision: DecisionSpec
    form: dict[str, Any]
    fee: Fee | None = None
    information_requests: InfoRequestSpec = field(default_factory=InfoRequestSpec)
    attachments: tuple[AttachmentSpec, ...] = ()
    report: ReportSpec | None = None
    source: str = ""
    source_text: str = field(default="", repr=False)
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def label(self, lang: str = "en") -> str:
        """The name in ``lang`` (falls back to English)."""
        return text(self.name, lang)

    @property
    def free(self) -> bool:
        return self.fee is None or self.fee.free

    def attachment(self, code: str) -> AttachmentSpec:
        """The attachment ``code`` (``KeyError`` if the service asks for no such file)."""
        for attachment in self.attachments:
            if attachment.code == code:
                return attachment
        raise KeyError(code)


# --- problems -----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a service file: which file, where, what, how to fix it."""

    source: str
    path: str
    message: str
    hint: str = ""
    line: int | None = None

    def __str__(self) -> str:
        out = str(workflows.Problem(self.path, self.message, self.hint, self.line))
        return f"{self.source}: {out}" if self.source else out


class CatalogueError(ValidationError):
    """Service definitions that do not load. ``problems`` has one sentence per problem,
    each naming the file, the path, the line when known and the fix; ``details`` the
    same as data (``field``, ``source``, ``path``, ``line``, ``message``, ``hint``).

    A ``ValidationError`` (422): the catalogue is an administrator's input, like a
    workflow definition, and a page or the API shows the problems to fix.
    """

    def __init__(self, problems: Sequence[str | Problem]) -> None:
        if not problems:
            raise ValueError("a CatalogueError needs at least one problem")
        self.problems = [str(p) for p in problems]
        details = [
            {
                "field": p.path or "_",
                "source": p.source,
                "path": p.path,
                "line": p.line,
                "message": p.message,
                "hint": p.hint,
            }
            if isinstance(p, Problem)
            else {"field": "_", "message": str(p)}
            for p in problems
        ]
        errors: dict[str, str] = {}
        for p in problems:
            key = (p.path or "_") if isinstance(p, Problem) else "_"
            errors[key] = f"{errors[key]}; {p}" if key in errors else str(p)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(errors, message, details)


def _problems(out: YamlDocument, source: str) -> list[Problem]:
    return [Problem(source, format_path(p.path), p.message, p.hint, p.line) for p in out.problems]


# --- YAML ---------------------------------------------------------------------------


def _json_like(data: Any, path: KeyPath, out: YamlDocument) -> bool:
    """Only what JSON has: text keys, text, numbers, booleans, null, lists, mappings."""
    ok = True
    stack: list[tuple[Any, KeyPath]] = [(data, path)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            for key, sub in value.items():
                if not isinstance(key, str):
                    out.add((*at, str(key)), f"the key {show_value(key)} is not text", "quote it")
                    ok = False
                    continue
                stack.append((sub, (*at, key)))
        elif isinstance(value, list):
            stack.extend((sub, (*at, i)) for i, sub in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            out.add(at, "not a finite number", "write a number")
            ok = False
        elif isinstance(value, date | datetime):
            out.add(at, "YAML reads this as a date", "quote it: '2026-01-31'")
            ok = False
        elif value is not None and not isinstance(value, str | int | float | bool):
            out.add(at, f"a {type(value).__name__} value is not supported", "write text")
            ok = False
    return ok


# --- the schema's problems ----------------------------------------------------------


def _in_form_property(path: KeyPath) -> bool:
    return len(path) >= 3 and path[0] == "form" and path[1] == "properties"


def _schema_problems(data: Any, out: YamlDocument) -> None:
    errors = sorted(
        _VALIDATOR.iter_errors(data),
        key=lambda e: (out.line_of(tuple(e.absolute_path)) or 0, [str(k) for k in e.path]),
    )
    for error in errors:
        _schema_problem(error, tuple(error.absolute_path), out)


def _schema_problem(error: jsonschema.ValidationError, path: KeyPath, out: YamlDocument) -> None:
    last = next((k for k in reversed(path) if isinstance(k, str)), "")
    hint = HINTS.get(last, "")
    if last == "name" and "columns" in path:
        hint = "use lowercase letters, digits and _, starting with a letter (region_code)"
    kind = error.validator
    instance = error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if kind == "required" and isinstance(instance, dict):
        for key in expected:
            if key not in instance:
                if set(schema.get("properties", {})) == set(LANGS):
                    out.add((*path, key), f"the text in {key!r} is missing", _TEXTS_HINT)
                else:
                    out.add((*path, key), f"{key!r} is missing", HINTS.get(key, ""))
        return
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            if _in_form_property((*path, key)) and key in ("properties", "items"):
                out.add(
                    (*path, str(key)),
                    "nested objects and lists are not supported: form fields are flat",
                    "make each part a field of its own in form.properties",
                )
            elif set(allowed) == set(LANGS):
                out.add(
                    (*path, str(key)),
                    f"unknown language {key!r}",
                    "give the text in uz, ru and en only",
                )
            else:
                out.add(
                    (*path, str(key)),
                    f"unknown key {key!r}",
                    f"{did_you_mean(str(key), allowed)}allowed keys: {', '.join(allowed)}",
                )
        return
    if kind == "type":
        wanted = _TYPE_NAMES.get(str(expected), str(expected))
        if isinstance(instance, bool) and expected == "string":
            hint = "quote it: YAML reads yes, no, on, off, true and false as true or false"
        elif isinstance(instance, int | float) and expected == "string":
            hint = "quote it: '0101'"
        out.add(path, f"{show_value(instance)} must be {wanted}", hint)
    elif kind == "enum" and last == "type" and _in_form_property(path):
        if instance in ("object", "array"):
            out.add(
                path,
                f"a form field of type {instance} is not supported: form fields are flat",
                "use string, integer, number or boolean; split a group into several fields",
            )
        else:
            out.add(path, f"{show_value(instance)} is not a supported kind of field", hint)
    elif kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        out.add(
            path,
            f"{show_value(instance)} is not one of: {choices}"
            if len(expected) <= 6 or not hint
            else f"{show_value(instance)} is not one of the values allowed",
            f"{did_you_mean(str(instance), [str(c) for c in expected])}{hint}".strip(),
        )
    elif kind == "const":
        out.add(path, f"{show_value(instance)} must be {show_value(expected)}", hint)
    elif kind == "pattern" and "propertyNames" in error.schema_path:
        out.add(
            (*path, str(instance)),
            f"the field name {show_value(instance)} is not allowed",
            "use lowercase letters, digits and _, starting with a letter (start_date)",
        )
    elif kind == "pattern" and expected == r"\S":
        out.add(path, "the text is blank", _TEXTS_HINT)
    elif kind == "pattern":
        out.add(path, f"{show_value(instance)} is not written the right way", hint)
    elif kind == "minItems" or kind == "minProperties":
        out.add(path, f"{last} is empty" if last else "is empty", hint)
    elif kind in ("maxItems", "maxProperties"):
        out.add(path, f"{last} has more than the {expected} entries allowed", hint)
    elif kind == "uniqueItems":
        out.add(path, f"{last} lists the same value twice", "list each value once")
    elif kind == "minLength":
        out.add(path, "is empty", hint)
    elif kind == "maxLength":
        out.add(path, f"is longer than {expected} characters", "shorten it")
    elif kind in ("minimum", "maximum"):
        bound = "at least" if kind == "minimum" else "at most"
        out.add(path, f"{show_value(instance)} must be {bound} {expected}", hint)
    else:
        out.add(path, error.message[:200], hint)


# --- what the schema cannot say -----------------------------------------------------

_STRING_ONLY: Final = ("format", "enum", "x-enum-titles", "x-widget", "minLength", "maxLength")
_NUMERIC_ONLY: Final = ("minimum", "maximum")


def _pattern_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"the regular expression does not compile: {exc.msg}"
    except (RecursionError, OverflowError):
        return "the regular expression is too complex"
    return None


def _check_form(form: dict[str, Any], out: YamlDocument) -> None:
    at: KeyPath = ("form",)
    properties: dict[str, Any] = form["properties"]
    for i, name in enumerate(form.get("required", [])):
        if name not in properties:
            out.add(
                (*at, "required", i),
                f"required names {name!r}, which is not a property of the form",
                f"{did_you_mean(name, properties)}list only names from form.properties",
            )
    required = set(form.get("required", []))
    for name, prop in properties.items():
        _check_property((*at, "properties", name), prop, out)
        if prop.get("const") is True and name not in required:
            out.add(
                (*at, "properties", name, "const"),
                f"the checkbox {name!r} must be ticked but the form does not require it",
                f"add {name} to form.required (an unticked box is simply not sent)",
            )
    if not any(p.path[:1] == ("form",) for p in out.problems):
        try:
            jsonschema.Draft202012Validator.check_schema(form)
        except jsonschema.SchemaError as exc:
            out.add(
                (*at, *exc.absolute_path),
                f"not a valid JSON Schema: {exc.message[:200]}",
                "see https://json-schema.org/draft/2020-12",
            )


def _check_property(at: KeyPath, prop: dict[str, Any], out: YamlDocument) -> None:
    kind = prop["type"]
    if kind != "string":
        for key in (*_STRING_ONLY, "pattern"):
            if key in prop:
                out.add((*at, key), f"{key} goes with type string, not {kind}", "remove it")
    if kind not in ("integer", "number"):
        for key in _NUMERIC_ONLY:
            if key in prop:
                out.add(
                    (*at, key), f"{key} goes with type integer or number, not {kind}", "remove it"
                )
    if kind != "boolean" and "const" in prop:
        out.add((*at, "const"), "const: true goes with type boolean (a checkbox)", "remove it")
    if "format" in prop and "enum" in prop:
        out.add((*at, "enum"), "a field has either a format or enum values", "remove one")
    if "x-widget" in prop and ("format" in prop or "enum" in prop):
        out.add(
            (*at, "x-widget"),
            "textarea is for free text, not for a field with a format or enum values",
            "remove x-widget",
        )
    if "x-enum-titles" in prop:
        values = prop.get("enum", [])
        titles = prop["x-enum-titles"]
        if "enum" not in prop:
            out.add((*at, "x-enum-titles"), "titles without enum values", "add enum: [...]")
        else:
            for value in values:
                if value not in titles:
                    out.add(
                        (*at, "x-enum-titles"),
                        f"the enum value {value!r} has no title",
                        f"add {value}: {{uz: ..., ru: ..., en: ...}}",
                    )
            for key in titles:
                if key not in values:
                    out.add(
                        (*at, "x-enum-titles", key),
                        f"{key!r} is not one of the enum values",
                        f"{did_you_mean(key, values)}give titles only for: {', '.join(values)}",
                    )
    _check_range(at, prop, "minimum", "maximum", out)
    _check_range(at, prop, "minLength", "maxLength", out)
    if "pattern" in prop:
        problem = _pattern_problem(prop["pattern"])
        if problem:
            out.add((*at, "pattern"), problem, HINTS["pattern"])


def _check_range(
    at: KeyPath, raw: Mapping[str, Any], low: str, high: str, out: YamlDocument
) -> None:
    if low in raw and high in raw and raw[low] > raw[high]:
        out.add(
            (*at, low),
            f"{low} ({raw[low]}) is more than {high} ({raw[high]})",
            f"make {low} at most {high}",
        )


def _check_attachments(attachments: list[dict[str, Any]], out: YamlDocument) -> None:
    first: dict[str, int] = {}
    for i, attachment in enumerate(attachments):
        code = attachment["code"]
        if code in first:
            out.add(
                ("attachments", i, "code"),
                f"the attachment code {code!r} is already used by attachments[{first[code]}]",
                "give each attachment a code of its own",
            )
        else:
            first[code] = i


def _check_report(data: dict[str, Any], out: YamlDocument) -> None:
    report: dict[str, Any] = data["report"]
    at: KeyPath = ("report",)
    attachments = {a["code"]: a for a in data.get("attachments", [])}
    wanted = report["attachment"]
    if wanted not in attachments:
        out.add(
            (*at, "attachment"),
            f"the report names the attachment {wanted!r}, which the service does not ask for",
            f"{did_you_mean(wanted, attachments)}add it to attachments, or write one of: "
            f"{', '.join(attachments) or '-'}",
        )
    else:
        other = [t for t in attachments[wanted]["types"] if t not in TABLE_TYPES]
        if other:
            out.add(
                (*at, "attachment"),
                f"the report's attachment {wanted!r} also accepts {', '.join(other)}, "
                "which is not a table",
                f"let attachment {wanted!r} accept only {CSV} and/or {XLSX}",
            )
    names: dict[str, int] = {}
    for i, column in enumerate(report["columns"]):
        cat: KeyPath = (*at, "columns", i)
        folded = column["name"].casefold()
        if folded in names:
            out.add(
                (*cat, "name"),
                f"the column name {column['name']!r} is already used by columns[{names[folded]}]",
                "give each column a name of its own (the header is matched ignoring case)",
            )
        else:
            names[folded] = i
        kind = column["type"]
        if kind == "enum" and "values" not in column:
            out.add((*cat, "values"), "an enum column needs its values", HINTS["values"])
        if kind != "enum" and "values" in column:
            out.add((*cat, "values"), f"values go with type enum, not {kind}", "remove them")
        for key in ("pattern", "max_length"):
            if kind != "string" and key in column:
                out.add((*cat, key), f"{key} goes with type string, not {kind}", "remove it")
        for key in _NUMERIC_ONLY:
            if kind not in ("integer", "number") and key in column:
                out.add(
                    (*cat, key), f"{key} goes with type integer or number, not {kind}", "remove it"
                )
        _check_range(cat, column, "minimum", "maximum", out)
        if "pattern" in column:
            problem = _pattern_problem(column["pattern"])
            if problem:
                out.add((*cat, "pattern"), problem, HINTS["pattern"])
    columns = {c["name"]: c for c in report["columns"]}
    properties: dict[str, Any] = data["form"]["properties"]
    for i, rule in enumerate(report.get("totals", [])):
        rat: KeyPath = (*at, "totals", i)
        column = columns.get(rule["column"])
        numeric = [n for n, c in columns.items() if c["type"] in ("integer", "number")]
        if column is None:
            out.add(
                (*rat, "column"),
                f"the total names the column {rule['column']!r}, which the report does not have",
                f"{did_you_mean(rule['column'], numeric)}write one of: {', '.join(numeric) or '-'}",
            )
        elif column["type"] not in ("integer", "number"):
            out.add(
                (*rat, "column"),
                f"the column {rule['column']!r} is of type {column['type']}: it cannot be added up",
                f"write an integer or number column: {', '.join(numeric) or '-'}",
            )
        prop = properties.get(rule["field"])
        fields = [n for n, p in properties.items() if p["type"] in ("integer", "number")]
        if prop is None:
            out.add(
                (*rat, "field"),
                f"the total names the form field {rule['field']!r}, which the form does not have",
                f"{did_you_mean(rule['field'], fields)}write one of: {', '.join(fields) or '-'}",
            )
        elif prop["type"] not in ("integer", "number"):
            out.add(
                (*rat, "field"),
                f"the form field {rule['field']!r} is of type {prop['type']}, not a number",
                f"write an integer or number field: {', '.join(fields) or '-'}",
            )


def _texts_of(raw: Mapping[str, str]) -> dict[str, str]:
    return {lang: raw[lang] for lang in LANGS if lang in raw}


def _build(data: dict[str, Any], text_: str, source: str, out: YamlDocument) -> ServiceSpec:
    fee = None
    if "fee" in data:
        fee = Fee(int(data["fee"]["amount"]), data["fee"].get("currency", "UZS"))
    info = data.get("information_requests", {})
    report = None
    if "report" in data:
        raw = data["report"]
        report = ReportSpec(
            attachment=raw["attachment"],
            max_rows=int(raw.get("max_rows", 100_000)),
            columns=tuple(
                ColumnSpec(
                    name=c["name"],
                    title=_texts_of(c["title"]),
                    type=c["type"],
                    required=bool(c.get("required", False)),
                    pattern=c.get("pattern"),
                    max_length=int(c["max_length"]) if "max_length" in c else None,
                    minimum=c.get("minimum"),
                    maximum=c.get("maximum"),
                    values=tuple(c.get("values", ())),
                )
                for c in raw["columns"]
            ),
            totals=tuple(TotalRule(t["column"], t["field"]) for t in raw.get("totals", ())),
        )
    return ServiceSpec(
        code=data["code"],
        name=_texts_of(data["name"]),
        description=_texts_of(data["description"]),
        term_days=int(data["term_days"]),
        fee=fee,
        applicants=tuple(data["applicants"]),
        journal=data["journal"],
        department=data["department"],
        document_type=data["document_type"],
        workflow=data["workflow"],
        decision=DecisionSpec(
            data["decision"]["template"], data["decision"].get("refusal_template", "decision")
        ),
        information_requests=InfoRequestSpec(
            info.get("clock", "pause"), int(info.get("answer_days", 10))
        ),
        form=data["form"],
        attachments=tuple(
            AttachmentSpec(
                code=a["code"],
                title=_texts_of(a["title"]),
                types=tuple(a["types"]),
                required=bool(a.get("required", False)),
                max_mb=int(a.get("max_mb", 10)),
                help=_texts_of(a["help"]) if "help" in a else None,
            )
            for a in data.get("attachments", ())
        ),
        report=report,
        source=source,
        source_text=text_,
        lines={format_path(path): line for path, line in out.lines.items()},
    )


# --- the public functions -----------------------------------------------------------


_WORDING: Final = workflows.YamlWording(
    empty="the file is empty",
    empty_hint="write code, name, description, form, ...",
    too_deep_hint="a service file is a few levels deep",
    too_large="the file is {size} bytes, more than the {limit_kb} KB a service may have",
    too_large_hint="a service definition is a few KB: keep only what the service needs",
)


def _parse(text_: str, source: str) -> tuple[ServiceSpec | None, list[Problem]]:
    if not isinstance(text_, str):
        return None, [Problem(source, "", "a service definition is text", "decode it as UTF-8")]
    out = workflows.load_yaml(text_, max_bytes=MAX_TEXT_BYTES, wording=_WORDING)
    if out.problems:
        return None, _problems(out, source)
    data = out.data
    if not _json_like(data, (), out):
        return None, _problems(out, source)
    _schema_problems(data, out)
    if out.problems:
        return None, _problems(out, source)
    _check_form(data["form"], out)
    _check_attachments(data.get("attachments", []), out)
    if "report" in data:
        _check_report(data, out)
    if out.problems:
        return None, _problems(out, source)
    return _build(data, text_, source, out), []


def parse_service(text: str, source: str = "<service>") -> ServiceSpec:
    """Parse and check one service definition (the YAML text of ``source``).

    Raises ``CatalogueError`` listing every problem found; an invalid service never
    loads. References to journals, departments and the rest are not checked here:
    see ``check_references``.
    """
    spec, problems = _parse(text, source)
    if spec is None:
        raise CatalogueError(problems)
    return spec


def _read(path: Path) -> str | Problem:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        return Problem(path.name, "", f"cannot be read: {exc.strerror}", "check the file")
    if len(raw) > MAX_TEXT_BYTES:
        size = path.stat().st_size
        message = _WORDING.too_large.format(size=size, limit_kb=MAX_TEXT_BYTES // 1024)
        return Problem(path.name, "", message, _WORDING.too_large_hint)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(
            path.name, "", f"is not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        )


def load_directory(directory: str | Path) -> list[ServiceSpec]:
    """Every ``*.yaml`` of ``directory``, checked, sorted by code.

    Raises ``CatalogueError`` with the problems of every file (and codes used by more
    than one file); nothing is returned when any file is invalid.
    """
    problems: list[Problem] = []
    specs: dict[str, ServiceSpec] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        text_ = _read(path)
        if isinstance(text_, Problem):
            problems.append(text_)
            continue
        spec, found = _parse(text_, path.name)
        problems += found
        if spec is None:
            continue
        if spec.code in specs:
            problems.append(
                Problem(
                    path.name,
                    "code",
                    f"the code {spec.code!r} is already used by {specs[spec.code].source}",
                    "give each service a code of its own",
                    spec.lines.get("code"),
                )
            )
            continue
        specs[spec.code] = spec
    if problems:
        raise CatalogueError(problems)
    return [specs[code] for code in sorted(specs)]


def _reference(
    spec: ServiceSpec, path: str, what: str, code: str, known: Collection[str]
) -> Iterator[str]:
    if code in known:
        return
    line = spec.lines.get(path)
    where = f"line {line}, {path}" if line is not None else path
    listed = ", ".join(sorted(known)) or "none exist yet"
    yield f"{where}: unknown {what} {code!r} (fix: {did_you_mean(code, known)}write one of: {listed})"


def check_references(
    spec: ServiceSpec,
    *,
    journals: Collection[str],
    departments: Collection[str],
    document_types: Collection[str],
    workflows: Collection[str],
    templates: Collection[str],
) -> list[str]:
    """Problems with the codes ``spec`` refers to, given the codes that exist.

    Each problem names the path and line (``line 9, journal: unknown journal 'XX'
    (fix: ...)``) but not the file: the caller knows it (``spec.source``). An empty
    list means every reference resolves.
    """
    refusal = "decision.refusal_template"
    checks = [
        ("journal", "journal", spec.journal, journals),
        ("department", "department", spec.department, departments),
        ("document_type", "document type", spec.document_type, document_types),
        ("workflow", "workflow", spec.workflow, workflows),
        ("decision.template", "template", spec.decision.template, templates),
        (refusal, "template", spec.decision.refusal_template, templates)
        if refusal in spec.lines
        else ("decision", "refusal template (the default)", "decision", templates),
    ]
    problems: list[str] = []
    for path, what, code, known in checks:
        problems += _reference(spec, path, what, code, known)
    return problems
