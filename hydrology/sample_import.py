"""Read assessment-section samples from CSV: the national and provincial stations' published readings.

One row per section and sampling time, one column per parameter (the metric names of
``gb3838.toml``, plus ``temperature_c``); an empty cell was not measured::

    section,sampled_at,ph,dissolved_oxygen_mg_l,permanganate_index_mg_l,ammonia_nitrogen_mg_l
    GD-LX-01,2026-12-05 08:00,7.31,6.42,3.9,0.61

``sampled_at`` is ISO-8601; without an offset it is in the configured time zone. Every problem is
reported as ``file:line: column: message``; the good rows are kept.

>>> from datetime import UTC
>>> result = read_samples("section,sampled_at,ph\\nS1,2026-12-05 08:00,7.2\\nS1,yesterday,7\\n", "f.csv",
...                       known_sections={"S1"}, zone=UTC)
>>> [(s.section_id, s.metric, s.value) for s in result.samples]
[('S1', 'ph', 7.2)]
>>> result.problems
["f.csv:3: sampled_at: 'yesterday' is not a time (ISO-8601 such as 2026-12-05 08:00)"]
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from hydrology.classify import TEMPERATURE_METRIC
from hydrology.sections import Sample
from hydrology.standard import load_standard
from streetwatch.csv_rows import CsvLineError, numbered_rows
from streetwatch.safe_text import csv_uncell, printable

SECTION_COLUMN = "section"
TIME_COLUMN = "sampled_at"
# Physically possible ranges: a value outside is a typing or unit mistake, not water.
_PLAUSIBLE: dict[str, tuple[float, float]] = {"ph": (0.0, 14.0), TEMPERATURE_METRIC: (-5.0, 45.0)}


@dataclass
class SampleFile:
    """What a file held: the samples of its good rows, and one line per problem."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rows: int = 0
    refused_rows: int = 0


def read_samples(text: str, source: str, *, known_sections: Collection[str], zone: tzinfo) -> SampleFile:
    """The samples in CSV ``text`` (named ``source`` in problems); a bad row is refused alone."""
    metrics = load_standard().metrics | {TEMPERATURE_METRIC}
    out = SampleFile()
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [csv_uncell(name).strip().lower() for name in next(reader)]
    except StopIteration:
        out.problems.append(f"{source}:1: header: the file is empty; it needs a header row")
        return out
    except csv.Error as exc:
        out.problems.append(f"{source}:1: header: not valid CSV: {exc}")
        return out
    header_problems = [f"{source}:1: {printable(name) or f'column {i + 1}'}: unknown column; a metric of "
                       f"GB 3838-2002 (e.g. ammonia_nitrogen_mg_l) or temperature_c"
                       for i, name in enumerate(header)
                       if name not in metrics and name not in (SECTION_COLUMN, TIME_COLUMN)]
    header_problems += [f"{source}:1: {name}: column appears twice" for i, name in enumerate(header)
                        if name in header[:i]]
    header_problems += [f"{source}:1: {name}: required column is missing"
                        for name in (SECTION_COLUMN, TIME_COLUMN) if name not in header]
    if header_problems:
        out.problems += header_problems
        return out
    try:
        for start, cells in numbered_rows(reader):
            out.rows += 1
            problems = _row(out, header, cells, f"{source}:{start}", known_sections, zone)
            if problems:
                out.refused_rows += 1
                out.problems += problems
    except CsvLineError as exc:
        out.problems.append(f"{source}:{exc.line}: row: not valid CSV: {exc}")
    return out


def _row(out: SampleFile, header: list[str], cells: list[str], where: str, known_sections: Collection[str],
         zone: tzinfo) -> list[str]:
    if len(cells) > len(header):
        return [f"{where}: row: {len(cells)} cells but the header has {len(header)}"]
    fields = dict(zip(header, [csv_uncell(c).strip() for c in cells] + [""] * (len(header) - len(cells)),
                      strict=True))
    problems: list[str] = []
    section = fields[SECTION_COLUMN]
    if not section:
        problems.append(f"{where}: section: empty")
    elif section not in known_sections:
        problems.append(f"{where}: section: unknown section {printable(section)!r} "
                        "(add it first: streetwatch water section add)")
    at: datetime | None = None
    try:
        parsed = datetime.fromisoformat(fields[TIME_COLUMN])
        at = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed
    except ValueError:
        problems.append(f"{where}: sampled_at: {printable(fields[TIME_COLUMN])!r} is not a time "
                        "(ISO-8601 such as 2026-12-05 08:00)")
    values: list[tuple[str, float]] = []
    for metric, text in fields.items():
        if metric in (SECTION_COLUMN, TIME_COLUMN) or not text:
            continue
        try:
            value = float(text)
        except ValueError:
            problems.append(f"{where}: {metric}: {printable(text)!r} is not a number")
            continue
        low, high = _PLAUSIBLE.get(metric, (0.0, math.inf))
        if not math.isfinite(value) or not low <= value <= high:
            problems.append(f"{where}: {metric}: {text} is outside {low:g}..{high:g}")
            continue
        values.append((metric, value))
    if not problems and not values:
        problems.append(f"{where}: row: no parameter measured")
    if problems:
        return problems
    assert at is not None
    out.samples += [Sample(section, at, metric, value) for metric, value in values]
    return []
