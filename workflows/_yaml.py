"""YAML that people write by hand: safe loading, with the line of every key.

``load_yaml`` reads one document with PyYAML's safe loader, under a size limit, and
refuses what would make a file mean something other than it seems to: aliases and
merge keys, a key written twice, keys that are not plain text. It never raises on bad
input: each problem comes back with the path it concerns (``("stages", 1, "id")``)
and its line, in a ``YamlDocument`` to which the caller's own checks add theirs.

Workflow definitions and edms's service catalogue both load their files this way;
each words the few problems that name the file (empty, too large, too deep) with a
``YamlWording``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import yaml

PathKey = str | int
#: Where a value stands in a document: mapping keys and list indexes, from the top.
KeyPath = tuple[PathKey, ...]


def format_path(path: KeyPath) -> str:
    """``("stages", 1, "policy")`` -> ``"stages[1].policy"`` (``""`` for the top)."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


def show_value(value: object) -> str:
    """``repr(value)``, cut to 60 characters: a value quoted in a problem's message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, known: Collection[str]) -> str:
    """``"did you mean 'stages'? "`` for the closest of ``known`` to ``word``, else
    ``""``: the start of a hint that goes on to list what is allowed."""
    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


@dataclass(frozen=True)
class YamlProblem:
    """One thing wrong with a document: where (a path and its line), what, how to fix."""

    path: KeyPath
    message: str
    hint: str = ""
    line: int | None = None


@dataclass(frozen=True)
class YamlWording:
    """The words of the problems that are about the whole document.

    ``too_large`` is formatted with ``size`` (bytes) and ``limit_kb``.
    """

    empty: str = "the document is empty"
    empty_hint: str = ""
    too_deep_hint: str = ""
    too_large: str = "{size} bytes is larger than the {limit_kb} KB allowed"
    too_large_hint: str = ""


@dataclass
class YamlDocument:
    """What ``load_yaml`` read: the data (``None`` after a problem), the line of each
    path (1-based; a key's line for the value under it), and the problems found.

    ``add`` records one more problem, so that checks run on ``data`` afterwards
    report alongside the YAML's, each at the line of its path.
    """

    data: Any = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of the nearest enclosing path that has one."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def add(self, path: KeyPath, message: str, hint: str = "", line: int | None = None) -> None:
        """Record a problem at ``path``; ``line`` defaults to the line of the path."""
        if line is None:
            line = self.line_of(path)
        self.problems.append(YamlProblem(path, message, hint, line))


def load_yaml(text: str, *, max_bytes: int, wording: YamlWording | None = None) -> YamlDocument:
    """Safe-load one YAML document of at most ``max_bytes`` (UTF-8) from ``text``.

    Returns the data with the line of every path, or ``None`` as data and the problems:
    too large, empty, not valid YAML (with the line), nested too deeply, aliases and
    merge keys, duplicate keys, keys that are not plain text. A value of the wrong
    kind is not a problem here: check the data (with a JSON Schema, say) and ``add``.
    """
    if not isinstance(text, str):
        raise TypeError(f"load_yaml reads text, not {type(text).__name__}")
    words = wording or YamlWording()
    doc = YamlDocument()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        message = words.too_large.format(size=size, limit_kb=max_bytes // 1024)
        doc.add((), message, words.too_large_hint)
        return doc
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            doc.add((), words.empty, words.empty_hint)
        elif _map_lines(node, doc):
            doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "malformed YAML"
        doc.add((), f"not valid YAML: {what}", "fix the YAML syntax at that line", line)
    except yaml.YAMLError as exc:
        doc.add((), f"not valid YAML: {exc}", "fix the YAML syntax")
    except RecursionError:
        doc.add((), "the YAML is nested too deeply", words.too_deep_hint)
    except ValueError as exc:  # e.g. a date that does not exist: 2026-02-30
        doc.add((), f"not valid YAML: {exc}", "quote values that are not meant as dates")
    finally:
        if loader is not None:
            loader.dispose()
    return doc


def _map_lines(root: yaml.Node, doc: YamlDocument) -> bool:
    """Record the line of every path; refuse aliases, duplicate and non-text keys."""
    ok = True
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    doc.lines[()] = root.start_mark.line + 1
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            doc.add(
                path,
                "YAML aliases (*name) and merge keys (<<) are not supported",
                "write the value out in full",
            )
            ok = False
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    doc.add(path, "a key must be plain text", "", key_node.start_mark.line + 1)
                    ok = False
                    continue
                key = str(key_node.value)
                child = (*path, key)
                doc.lines[child] = key_node.start_mark.line + 1
                if key in keys:
                    doc.add(child, f"the key {key!r} appears twice", "keep one of them")
                    ok = False
                keys.add(key)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                doc.lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i)))
    return ok
