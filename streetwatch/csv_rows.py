"""The rows of a CSV file with the line each starts on, for ``file:line:`` messages.

A quoted cell may span lines, so a row's line is counted from the reader, not from the row's index.

>>> import csv, io
>>> reader = csv.reader(io.StringIO('a,b\\n1,"two\\nlines"\\n\\n3,4\\n'))
>>> header = next(reader)
>>> list(numbered_rows(reader))
[(2, ['1', 'two\\nlines']), (5, ['3', '4'])]
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any


class CsvLineError(ValueError):
    """The file stops being CSV at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def numbered_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each non-blank row left in ``reader`` (a :func:`csv.reader`)."""
    end = reader.line_num
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            if (cells and cells[0].strip()) or any(cell.strip() for cell in cells):  # the first cell decides most
                yield start, cells
    except csv.Error as exc:
        raise CsvLineError(end + 1, str(exc)) from None
