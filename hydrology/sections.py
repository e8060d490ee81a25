"""Rivers' assessment sections (断面) and the samples imported for them, in the database.

A river has sections; each has a water body (river, or lake/reservoir, which changes the
phosphorus limits and brings total nitrogen in) and a target class. A probe belongs to a section
by its device tag ``section=<id>``.

>>> async with SectionStore.open(db) as sections:                                 # doctest: +SKIP
...     await sections.add(Section("GZ-SJ-01", "Shijing bridge", "Shijing River", "Baiyun", "river",
...                                WaterClass.IV), now=clock.now())
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from hydrology.errors import HydrologyError
from hydrology.migrations import MIGRATIONS
from hydrology.standard import WATER_BODIES, WaterBody, WaterClass
from streetwatch.database import Database, IntegrityError, Row
from streetwatch.migrations import migrate

SECTION_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SECTION_TAG = "section"
"""The device tag that puts a probe in a section."""


class SectionError(HydrologyError):
    """A section that cannot be added or is not there."""


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    name: str
    river: str
    area: str = ""
    water_body: WaterBody = "river"
    target: WaterClass | None = None

    def __post_init__(self) -> None:
        if not SECTION_ID_PATTERN.fullmatch(self.id):
            raise SectionError(f"section id {self.id!r}: letters, digits, '.', '_', ':', '-', at most 64")
        if self.water_body not in WATER_BODIES:
            raise SectionError(f"water body {self.water_body!r}: one of {', '.join(WATER_BODIES)}")
        if self.target is WaterClass.WORSE_THAN_V:
            raise SectionError("a target class is one of I, II, III, IV, V")


@dataclass(frozen=True, slots=True)
class Sample:
    """One parameter of one sample taken at a section (a row of an imported file)."""

    section_id: str
    sampled_at: datetime
    metric: str
    value: float


def utc_text(at: datetime) -> str:
    """Fixed-width UTC text: text order is time order in both databases."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SectionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    @asynccontextmanager
    async def open(cls, db: Database) -> AsyncIterator[SectionStore]:
        """The store on ``db``, its tables migrated."""
        await migrate(db, MIGRATIONS)
        yield cls(db)

    async def add(self, section: Section, *, now: datetime) -> None:
        try:
            await self._db.execute(
                "INSERT INTO water_sections (id, name, river, area, water_body, target_class, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (section.id, section.name, section.river, section.area, section.water_body,
                 None if section.target is None else int(section.target), utc_text(now)))
        except IntegrityError:
            raise SectionError(f"section {section.id!r} already exists") from None

    async def list(self, *, area: str | None = None) -> list[Section]:
        sql = "SELECT id, name, river, area, water_body, target_class FROM water_sections"
        params: tuple[str, ...] = ()
        if area is not None:
            sql, params = sql + " WHERE area = ?", (area,)
        rows = await self._db.fetch_all(sql + " ORDER BY river, id", params)
        return [_section(row) for row in rows]

    async def ids(self) -> set[str]:
        return {row["id"] for row in await self._db.fetch_all("SELECT id FROM water_sections")}

    async def put_samples(self, samples: Sequence[Sample], *, source: str) -> int:
        """Store samples; a sample already there (same section, time and metric) takes the new value."""
        await self._db.executemany(
            "INSERT INTO water_samples (section_id, sampled_at, metric, value, source) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (section_id, sampled_at, metric) DO UPDATE SET value = excluded.value, "
            "source = excluded.source",
            [(s.section_id, utc_text(s.sampled_at), s.metric, s.value, source) for s in samples])
        return len(samples)

    async def sample_sums(self, section_ids: Iterable[str], start: datetime,
                          end: datetime) -> dict[str, dict[str, tuple[float, int]]]:
        """(sum, count) per section and metric of the samples with ``start <= sampled_at < end``."""
        wanted = set(section_ids)
        rows = await self._db.fetch_all(
            "SELECT section_id, metric, SUM(value) AS total, COUNT(*) AS n FROM water_samples "
            "WHERE sampled_at >= ? AND sampled_at < ? GROUP BY section_id, metric",
            (utc_text(start), utc_text(end)))
        out: dict[str, dict[str, tuple[float, int]]] = {}
        for row in rows:
            if row["section_id"] in wanted:
                out.setdefault(row["section_id"], {})[row["metric"]] = (float(row["total"]), int(row["n"]))
        return out


def _section(row: Row) -> Section:
    target = row["target_class"]
    return Section(row["id"], row["name"], row["river"], row["area"], row["water_body"],
                   None if target is None else WaterClass(int(target)))
