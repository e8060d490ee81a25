"""Bulk import: read a CSV of devices, check every row, and plan what to add, change or leave.

Nothing is written here: :func:`plan_import` compares the rows with the devices already registered
and returns an :class:`ImportPlan`; the registry writes it in one transaction. Every bad row is
reported with its line number and what is wrong: ``line 7: lat: Input should be less than or
equal to 90 (got 95.5)``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from device_registry.device import Device
from device_registry.errors import FieldProblem, ImportRejected, InvalidDevice, RowProblem
from device_registry.flat import COLUMNS, REQUIRED, device_from_fields, device_to_fields, fields_for_transport
from device_registry.library import ProfileLibrary, check_device
from device_registry.lifecycle import check_status_change
from streetwatch.csv_rows import CsvLineError, numbered_rows
from streetwatch.gc_tuning import paused_gc
from streetwatch.safe_text import csv_uncell_row

MAX_FIELD_CHARS = 10_000  # notes included; a longer cell is a mistake or an attack, not a device


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One device row of an import file; ``line`` is where it starts in the file (the header is line 1)."""

    line: int
    fields: Mapping[str, str]
    problems: tuple[RowProblem, ...] = ()  # found while reading (a field too long): the row is refused


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int
    skipped: list[RowProblem] = field(default_factory=list)

    @property
    def skipped_rows(self) -> int:
        return len({p.line for p in self.skipped})


@dataclass
class ImportPlan:
    added: list[Device] = field(default_factory=list)
    updated: list[tuple[Device, Device]] = field(default_factory=list)  # (before, after)
    unchanged: list[Device] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # device id → its line in the file

    def to_write(self) -> list[Device]:
        """The devices this import would add or change, in file order."""
        devices = self.added + [after for _, after in self.updated]
        return sorted(devices, key=lambda d: self.lines[d.id])

    def refuse(self, problems: Mapping[str, FieldProblem]) -> None:
        """Move the devices named in ``problems`` (by id) from the plan to its problems."""
        if not problems:
            return
        self.added = [d for d in self.added if d.id not in problems]
        self.updated = [(b, a) for b, a in self.updated if a.id not in problems]
        self.problems += [RowProblem(self.lines[i], p.field, p.message) for i, p in problems.items()]
        self.problems.sort(key=lambda p: p.line)


def read_csv(text: str) -> list[ImportRow]:
    """The rows of a device CSV (header row first; column names as in :data:`device_registry.flat.COLUMNS`).

    Raises :class:`ImportRejected` for problems of the file itself (unknown or missing columns,
    rows with too many cells), naming each line.
    """
    with paused_gc():  # the rows all live on: a full collection would rescan them and free nothing
        return _read_rows(text)


def _read_rows(text: str) -> list[ImportRow]:
    # The csv module refuses a field over 128 KiB by stopping the whole file; read every field, then
    # refuse the row holding an overlong one, so --skip-invalid can import the rest.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise ImportRejected([RowProblem(1, "header", "the file is empty; it needs a header row")]) from None
    except csv.Error as exc:
        raise ImportRejected([RowProblem(1, "header", f"not valid CSV: {exc}")]) from None
    problems = [RowProblem(1, name or f"column {i + 1}", f"unknown column (columns: {', '.join(COLUMNS)})")
                for i, name in enumerate(header) if name not in COLUMNS]
    problems += [RowProblem(1, name, "column appears twice") for i, name in enumerate(header)
                 if name in COLUMNS and name in header[:i]]
    problems += [RowProblem(1, name, "required column is missing") for name in REQUIRED if name not in header]
    rows: list[ImportRow] = []
    try:
        for start, cells in numbered_rows(reader):
            if len(cells) > len(header):
                problems.append(RowProblem(start, "row", f"{len(cells)} cells but the header has {len(header)}"))
                continue
            padded = csv_uncell_row(cells)
            if len(cells) < len(header):
                padded = padded + [""] * (len(header) - len(cells))
            if len("".join(padded)) <= MAX_FIELD_CHARS:  # no cell can be too long: nearly every row
                rows.append(ImportRow(start, dict(zip(header, padded, strict=True))))
                continue
            long = tuple(RowProblem(start, name, f"field too long ({len(cell):,} characters, at most "
                                                 f"{MAX_FIELD_CHARS:,})")
                         for name, cell in zip(header, padded, strict=True) if len(cell) > MAX_FIELD_CHARS)
            fields = {name: ("" if len(cell) > MAX_FIELD_CHARS else cell)
                      for name, cell in zip(header, padded, strict=True)}
            rows.append(ImportRow(start, fields, long))
    except CsvLineError as exc:
        problems.append(RowProblem(exc.line, "row", f"not valid CSV: {exc}"))
    if problems:
        raise ImportRejected(problems)
    return rows


def _merge(before: Device, fields: Mapping[str, str]) -> dict[str, str]:
    """An existing device's fields overlaid with the row's: columns the file lacks keep their values."""
    merged = device_to_fields(before)
    if "transport" in fields:
        merged = fields_for_transport(merged, fields["transport"])
    merged.update(fields)
    return merged


def _row_problems(line: int, problems: Sequence[FieldProblem]) -> list[RowProblem]:
    return [RowProblem(line, p.field, p.message) for p in problems]


def plan_import(rows: Sequence[ImportRow], existing: Mapping[str, Device], library: ProfileLibrary,
                *, update: bool) -> ImportPlan:
    """Check every row and sort the good ones into added, updated and unchanged."""
    plan = ImportPlan()
    first_line: dict[str, int] = {}
    for row in rows:
        if row.problems:
            plan.problems += row.problems
            continue
        device_id = str(row.fields.get("id", "")).strip()
        if device_id in first_line:
            plan.problems.append(RowProblem(row.line, "id", f"{device_id!r} is also on line {first_line[device_id]}"))
            continue
        if device_id:
            first_line[device_id] = plan.lines[device_id] = row.line
        before = existing.get(device_id)
        try:
            after = device_from_fields(_merge(before, row.fields) if before else row.fields)
        except InvalidDevice as exc:
            plan.problems += _row_problems(row.line, exc.problems)
            continue
        if before is not None and after == before:
            plan.unchanged.append(before)
            continue
        if before is not None and not update:
            plan.problems.append(RowProblem(
                row.line, "id", f"{device_id!r} is already registered with other values (use --update to change it)"))
            continue
        problems = check_device(after, library)
        if before is not None:
            try:
                check_status_change(before.status, after.status)
            except InvalidDevice as exc:
                problems += exc.problems
        if problems:
            plan.problems += _row_problems(row.line, problems)
        elif before is None:
            plan.added.append(after)
        else:
            plan.updated.append((before, after))
    return plan
