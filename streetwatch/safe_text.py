"""Text from the field shown and exported safely: one place for control characters and CSV formulas.

An anonymous MQTT publisher chooses device ids and payload excerpts; an installer's CSV chooses
notes and tags. Two ways that text can mislead the person who reads it:

- **control characters**: U+202E (right-to-left override) makes the end of ``LP-1<U+202E>gpj.exe`` read backwards, a
  zero-width space makes two ids look equal, an escape sequence repaints the terminal.
  :func:`printable` escapes them (``\\u202e``) for every listing.
- **formula injection**: a CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return is run as a formula by spreadsheets. :func:`csv_cell` prefixes such a cell with ``'``
  (OWASP's advice), except a plain number (``-3.5`` stays a number); :func:`csv_uncell` undoes it
  on import, so an export still re-imports unchanged.

>>> printable("LP-1\\u202egpj.exe"), printable("tab\\there")
('LP-1\\\\u202egpj.exe', 'tab\\\\there')
>>> csv_cell("=HYPERLINK(\\"http://x\\")"), csv_cell("-3.5"), csv_cell(-3.5), csv_cell("@SUM(A1)")
('\\'=HYPERLINK("http://x")', '-3.5', -3.5, "'@SUM(A1)")
>>> csv_uncell(csv_cell("+86 20 1234")), csv_uncell("'quoted on purpose")
('+86 20 1234', "'quoted on purpose")
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Cc: C0/C1 controls; Cf: format characters (bidi overrides and isolates, zero-width space and joiners);
# Zl/Zp: line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def has_hidden_characters(text: str) -> bool:
    """True when ``text`` holds a control, format (bidi, zero-width) or separator character."""
    return any(_hidden(c) for c in text)


def printable(text: str) -> str:
    """``text`` with every control, bidi and zero-width character written as an escape."""
    if text.isprintable() and not has_hidden_characters(text):
        return text
    return "".join(_NAMED.get(c) or (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
                   if _hidden(c) else c for c in text)


def csv_cell(value: Any) -> Any:
    """A value to write into a CSV cell: a text a spreadsheet would run as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_uncell(text: str) -> str:
    """A cell read back from a CSV: the ``'`` that :func:`csv_cell` put before a formula character removed."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text[1:]):
        return text[1:]
    return text


def csv_uncell_row(cells: list[str]) -> list[str]:
    """:func:`csv_uncell` of every cell of a row; a row without a ``'`` (nearly all) is returned as it is.

    >>> csv_uncell_row(["LP-1", "'=1+1", "'-3"])
    ['LP-1', '=1+1', "'-3"]
    """
    if "'" not in "".join(cells):  # one search instead of a call per cell
        return cells
    return [csv_uncell(cell) for cell in cells]
