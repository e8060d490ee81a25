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
MAX_FILE_BYTES = 1_000_000
"""A rule file larger than this is refused unread (a city's rules fit in a few kilobytes)."""
MAX_NESTING = 32
"""Levels of lists and mappings in a rule file; deeper documents are refused before they are built,
so no file can exhaust the parser's stack (a shipped rule needs five)."""


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{source}: {size} bytes, larger than the {MAX_FILE_BYTES} a rule file may have")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{source}: not UTF-8 text") from None
    return parse_rule_text(text, path.suffix.lower(), source)


def parse_rule_text(text: str, suffix: str, source: str) -> RawRuleFile:
    if len(text) > MAX_FILE_BYTES:
        raise SourceError(f"{source}: {len(text)} characters, larger than the {MAX_FILE_BYTES} a rule file may have")
    try:
        return _parse(text, suffix, source)
    except RecursionError:  # a last guard: the depth checks below should come first
        raise SourceError(f"{source}: nested more than {MAX_NESTING} levels deep") from None


def _parse(text: str, suffix: str, source: str) -> RawRuleFile:
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
        if _depth(data) > MAX_NESTING:
            raise SourceError(f"{source}: nested more than {MAX_NESTING} levels deep")
        locator = _TomlLocator(text)
        return RawRuleFile(source, data, locator.line_of)
    raise SourceError(f"{source}: unknown file type {suffix!r}; use .yaml, .yml or .toml")


def _check_yaml_depth(text: str, source: str) -> None:
    """Walk the parser's events (a flat stream, no recursion) and refuse a document nested too deeply."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                where = f"{source}:{line}" if line is not None else source
                raise SourceError(f"{where}: nested more than {MAX_NESTING} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _depth(data: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        if isinstance(item, dict):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
    return deepest


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    loader = yaml.SafeLoader(text)
    try:
        _check_yaml_depth(text, source)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk_yaml(node, (), lines)
    return data, lines


def _yaml_error(exc: yaml.YAMLError, source: str) -> SourceError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        return SourceError(f"{where}: not valid YAML: {exc.problem or exc.context}")
    return SourceError(f"{source}: not valid YAML: {exc}")


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
