"""Reading rule files (YAML or TOML) into raw data plus the line where each field is written.

YAML comes from PyYAML's composed node tree, which knows the line of every node. TOML's parser
keeps no positions, so a field's line is found by scanning the text for its table and key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
RULE_FILE_SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass(frozen=True)
class RawRuleFile:
    """A parsed rule file: its data and a way to find the line of a field (``None`` if unknown)."""

    source: str
    data: Any
    line_of: Callable[[Loc], int | None]

    def where(self, loc: Loc) -> str:
        """``rules/culverts.yaml:14`` for the field at ``loc`` (or the nearest enclosing one)."""
        line = self.line_of(loc)
        return f"{self.source}:{line}" if line is not None else self.source


class SourceError(ValueError):
    """The file cannot be read or parsed; the message starts with ``file:line``."""


def read_rule_file(path: Path, source: str | None = None) -> RawRuleFile:
    source = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{source}: not UTF-8 text") from None
    return parse_rule_text(text, path.suffix.lower(), source)


def parse_rule_text(text: str, suffix: str, source: str) -> RawRuleFile:
    if suffix in (".yaml", ".yml"):
        data, lines = _parse_yaml(text, source)
        return RawRuleFile(source, data, lambda loc: _nearest(lines, loc))
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"\(at line (\d+), column \d+\)", str(exc))  # Python < 3.14 has no exc.lineno
            where = f"{source}:{found.group(1)}" if found else source
            raise SourceError(f"{where}: not valid TOML: {str(exc).split(' (at ')[0]}") from None
        locator = _TomlLocator(text)
        return RawRuleFile(source, data, locator.line_of)
    raise SourceError(f"{source}: unknown file type {suffix!r}; use .yaml, .yml or .toml")


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise SourceError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk_yaml(node, (), lines)
    return data, lines


def _walk_yaml(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                child = (*path, str(key_node.value))
                lines.setdefault(child, key_node.start_mark.line + 1)  # where the key is written
                _walk_yaml(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_yaml(item, (*path, index), lines)


def _nearest(lines: dict[Loc, int], loc: Loc) -> int | None:
    for depth in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:depth]))
        if line is not None:
            return line
    return None


class _TomlLocator:
    """Finds the line of ``rules[2].levels.red`` in TOML text: the third ``[[rules]]`` table, then
    each key in turn below it. Good enough to send the reader to the right place."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _array_tables(self, name: str) -> list[int]:
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
        return [i for i, line in enumerate(self.lines) if pattern.match(line)]

    def _find_key(self, key: str, start: int, end: int) -> int | None:
        quoted = re.escape(key)
        pattern = re.compile(rf"(^|[\s{{,.\[])(\"{quoted}\"|'{quoted}'|{quoted})\s*(=|\.|\])")
        for i in range(start, end):
            stripped = self.lines[i].split("#", 1)[0]
            if pattern.search(stripped):
                return i
        return None

    def line_of(self, loc: Loc) -> int | None:
        if not loc:
            return None
        start, end, rest = 0, len(self.lines), list(loc)
        if isinstance(loc[0], str) and len(loc) > 1 and isinstance(loc[1], int):
            tables = self._array_tables(loc[0])
            if loc[1] < len(tables):
                start = tables[loc[1]]
                later = [t for t in self._array_tables_any() if t > start]
                end = later[0] if later else len(self.lines)
                rest = list(loc[2:])
                found: int | None = start
            else:
                return None
        else:
            found = None
        for part in rest:
            if isinstance(part, int):
                continue
            line = self._find_key(part, start, end)
            if line is None:
                break
            found, start = line, line
        return None if found is None else found + 1

    def _array_tables_any(self) -> list[int]:
        pattern = re.compile(r"^\s*\[\[\s*[A-Za-z0-9_.\"-]+\s*\]\]")
        return [i for i, line in enumerate(self.lines) if pattern.match(line) and "." not in line.split("]]")[0]]
