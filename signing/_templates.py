"""Filling DOCX templates for outgoing documents (docxtpl over Jinja2).

A template is an ordinary Word document whose text holds Jinja2 placeholders
(``{{ document.title }}``, ``{%p for para in document.body|paragraphs %}``).
Filling it keeps the template's fonts, styles and layout. What the shipped
templates expect is described in ``config/templates/README.md``.

The Jinja2 environment used here:

- escapes every value for XML, so ``<``, ``&`` and quotes in the data come out
  as literal text;
- is sandboxed: a template cannot reach Python internals through its data;
- is strict: a placeholder whose value is missing from the data raises
  :class:`~signing.TemplateError` naming it (``document.reg_number``), instead
  of leaving a blank in an official document;
- renders ``None`` as nothing and dates as ``DD.MM.YYYY`` (datetimes as
  ``DD.MM.YYYY HH:MM``), the format of Uzbek official documents;
- turns a newline inside a value into a line break, and offers the
  ``paragraphs`` filter to split a text into real paragraphs (one per non-blank
  line) for ``{%p for ... %}`` loops.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO

import jinja2
from docx.opc.exceptions import OpcError
from docxtpl import DocxTemplate
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from signing._errors import TemplateError

__all__ = ["MAX_TEMPLATE_BYTES", "render_template", "template_variables"]

logger = logging.getLogger(__name__)

#: Largest template file accepted (a letterhead with a logo is well below).
MAX_TEMPLATE_BYTES = 20 * 1024 * 1024
# Unpacked size of all parts together: keeps a zip bomb from filling memory.
_MAX_UNPACKED_BYTES = 10 * MAX_TEMPLATE_BYTES

# Core properties docxtpl fills too (the PDF title comes from ``title``).
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")

# Characters XML 1.0 forbids; python-docx and LibreOffice reject documents with them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Environment(SandboxedEnvironment):
    """The sandbox, remembering every template it parses so their variables can be listed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.parsed: list[nodes.Template] = []

    def parse(
        self, source: str, name: str | None = None, filename: str | None = None
    ) -> nodes.Template:
        tree = super().parse(source, name, filename)
        self.parsed.append(tree)
        return tree


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "__html__"):  # RichText, Listing, Markup: already XML
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, str):
        return _NOT_XML.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return value


def _paragraphs(value: Any) -> list[Any]:
    """The ``paragraphs`` filter: one item per non-blank line of a text, or per item of a list."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.splitlines()
    elif hasattr(value, "__html__"):
        return [value]
    elif isinstance(value, Iterable):  # StrictUndefined raises here, naming the variable
        items = list(value)
    else:
        items = [value]
    return [item.strip() if isinstance(item, str) else item for item in items if _filled(item)]


def _filled(item: Any) -> bool:
    return not (item is None or (isinstance(item, str) and not item.strip()))


def _environment() -> _Environment:
    env = _Environment(autoescape=True, undefined=jinja2.StrictUndefined, finalize=_finalize)
    env.filters["paragraphs"] = _paragraphs
    return env


def _read(template: str | os.PathLike[str] | BinaryIO) -> tuple[bytes, str]:
    """The template's bytes and the name to show in messages."""
    if isinstance(template, str | os.PathLike):
        name = os.fspath(template)
        try:
            with open(name, "rb") as fh:
                data = fh.read(MAX_TEMPLATE_BYTES + 1)
        except FileNotFoundError:
            raise TemplateError(f"template {name} does not exist") from None
        except OSError as exc:
            raise TemplateError(f"cannot read template {name}: {exc.strerror}") from exc
    else:
        name = str(getattr(template, "name", "") or "(stream)")
        data = template.read(MAX_TEMPLATE_BYTES + 1)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise TemplateError(
            f"template {name} is larger than {MAX_TEMPLATE_BYTES // 2**20} MiB; "
            "a DOCX template should be a few hundred kilobytes"
        )
    return data, name


def _open(data: bytes, name: str) -> Any:
    """A :class:`docxtpl.DocxTemplate` over ``data``, checked to be a sound DOCX file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > _MAX_UNPACKED_BYTES:
                raise TemplateError(f"template {name} unpacks to more than is sensible for a DOCX")
            broken = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise TemplateError(
            f"template {name} is not a DOCX file (not a readable ZIP archive: {exc}); "
            "is it broken or truncated?"
        ) from exc
    if broken is not None:
        raise TemplateError(f"template {name} is damaged (part {broken} is corrupt)")
    document = DocxTemplate(io.BytesIO(data))
    try:
        document.init_docx()
    except (OpcError, KeyError, ValueError, SyntaxError, zipfile.BadZipFile) as exc:
        # KeyError: a ZIP without the parts of a Word document; ValueError: another
        # Office format (XLSX...); SyntaxError: lxml's error for broken XML.
        raise TemplateError(f"template {name} is not a Word (DOCX) document: {exc}") from exc
    return document


def _core_properties(document: Any) -> dict[str, str]:
    properties = document.docx.core_properties
    return {prop: str(getattr(properties, prop) or "") for prop in _PROPERTIES}


def _path_of(node: nodes.Node) -> list[str] | None:
    """``document.title`` for the expression ``document.title`` or ``document["title"]``."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            parts.append(node.name)
            return parts[::-1]
        else:
            return None


def _paths(trees: Iterable[nodes.Template]) -> set[str]:
    found: set[str] = set()
    for tree in trees:
        roots = meta.find_undeclared_variables(tree)
        for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
            path = _path_of(node)
            if path and path[0] in roots:
                found.add(".".join(path))
    # "document" is implied by "document.title": keep the most precise paths only.
    return {path for path in found if not any(other.startswith(path + ".") for other in found)}


def _variables(document: Any, env: _Environment, properties: Mapping[str, str]) -> set[str]:
    document.get_undeclared_template_variables(jinja_env=env)
    trees = [*env.parsed, *(env.parse(text) for text in properties.values() if "{" in text)]
    return _paths(trees)


def _missing(context: Mapping[str, Any], paths: Iterable[str]) -> list[str]:
    """The paths (or their shortest missing prefix) that ``context`` does not provide."""
    missing: set[str] = set()
    for path in paths:
        value: Any = context
        parts = path.split(".")
        for depth, part in enumerate(parts, 1):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif depth > 1 and not isinstance(value, Mapping) and hasattr(value, part):
                value = getattr(value, part)
            else:
                missing.add(".".join(parts[:depth]))
                break
    return sorted(missing)


def render_template(
    template: str | os.PathLike[str] | BinaryIO, context: Mapping[str, Any]
) -> bytes:
    """Fill a DOCX template with ``context`` and return the resulting DOCX file.

    ``template`` is a path or a binary file object; ``context`` maps top-level
    names to values (usually dicts: ``{"document": {"title": ...}, ...}``).
    Raises :class:`~signing.TemplateError` when the template is missing, not a
    DOCX file, has a placeholder syntax error, or needs a value that ``context``
    lacks (the message names them all: ``document.reg_number, signatory.name``).
    """
    data, name = _read(template)
    document = _open(data, name)
    properties = _core_properties(document)
    env = _environment()
    try:
        document.render(dict(context), jinja_env=env, autoescape=True)
        # docxtpl fills the core properties with the XML-escaping environment, but
        # python-docx escapes them again: fill them once more, unescaped.
        plain = env.overlay(autoescape=False)
        core = document.docx.core_properties
        for prop, text in properties.items():
            if "{" in text:
                setattr(core, prop, plain.from_string(text).render(context))
        out = io.BytesIO()
        document.save(out)
    except jinja2.UndefinedError as exc:
        missing = _missing(context, _variables(_open(data, name), _environment(), properties))
        if missing:
            message = f"template {name} needs {', '.join(missing)}, which the data does not give"
        else:
            message = f"template {name} needs a value the data does not give: {exc.message}"
        raise TemplateError(message) from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(name, exc)) from exc
    except jinja2.TemplateError as exc:  # includes the sandbox's SecurityError
        raise TemplateError(f"template {name} cannot be filled: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"template {name} cannot be filled with this data: {exc}") from exc
    except SyntaxError as exc:  # lxml: the filled template is no longer well-formed XML
        raise TemplateError(
            f"template {name} does not produce a valid document once filled "
            f"(a placeholder split across table cells or paragraphs?): {exc}"
        ) from exc
    result = out.getvalue()
    logger.debug("filled template %s: %d bytes", name, len(result))
    return result


def template_variables(template: str | os.PathLike[str] | BinaryIO) -> set[str]:
    """The data a template needs, as dotted paths: ``{"document.title", "signatory.name", ...}``.

    Built on docxtpl's ``get_undeclared_template_variables``, but reports the
    attributes used (``document.title``) rather than only the top-level names
    (``document``); a name used without attributes is reported alone
    (``purpose``). Loop variables and names the template sets itself are left
    out. Raises :class:`~signing.TemplateError` as :func:`render_template` does.
    """
    data, name = _read(template)
    document = _open(data, name)
    try:
        return _variables(document, _environment(), _core_properties(document))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(name, exc)) from exc


def _syntax_message(name: str, exc: jinja2.TemplateSyntaxError) -> str:
    # docxtpl attaches the text around the error (XML tags stripped); XML line
    # numbers mean nothing to the person editing the template in Word.
    near = " ".join(line.strip() for line in getattr(exc, "docx_context", ()) if line.strip())
    where = f" near «{near[:200]}»" if near else ""
    return f"template {name} has a placeholder error: {exc.message}{where}"
