"""The daily water-quality report: every section's class, target, deciding parameters, change since yesterday.

A section's day runs from local midnight to midnight in the configured zone. Its day means
combine every reading of its probes (devices tagged ``section=<id>``) and every imported sample,
each reading counting once.

>>> async with open_database(url) as db, open_store(url) as store:              # doctest: +SKIP
...     days = await daily_report(SectionStore(db), registry, store, date(2026, 12, 5), zone)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from device_registry import DeviceFilter, Registry
from hydrology.classify import TEMPERATURE_METRIC, Classification, classify
from hydrology.sections import SECTION_TAG, Section, SectionStore
from hydrology.standard import WaterClass, load_standard
from telemetry_store import TelemetryStore

Sums = dict[str, dict[str, tuple[float, int]]]
"""section id → metric → (sum of values, number of values)."""
PROBE_KIND = "water_quality_probe"
BUCKET = timedelta(minutes=15)
"""Every time zone's offset is a multiple of 15 minutes, so such buckets never straddle local midnight."""


@dataclass(frozen=True, slots=True)
class SectionDay:
    section: Section
    day: date
    classification: Classification | None
    yesterday: WaterClass | None
    readings: int

    @property
    def change(self) -> str:
        """``better``, ``worse``, ``same``, or ``""`` when either day has no class."""
        today = None if self.classification is None else self.classification.water_class
        if today is None or self.yesterday is None:
            return ""
        return "same" if today == self.yesterday else "better" if today < self.yesterday else "worse"

    def row(self) -> dict[str, Any]:
        """The report's row: plain values for table, CSV and JSON."""
        c = self.classification
        return {
            "section": self.section.id,
            "name": self.section.name,
            "river": self.section.river,
            "area": self.section.area,
            "water_body": self.section.water_body,
            "date": self.day.isoformat(),
            "class": None if c is None else c.water_class.label,
            "target": None if self.section.target is None else self.section.target.label,
            "meets_target": None if c is None else c.meets_target,
            "deciding": "" if c is None else ", ".join(_deciding_text(c)),
            "over_target": [] if c is None else [
                {"metric": p.metric, "value": p.value, "class": p.water_class.label, "limit": p.target_limit,
                 "exceedance": None if p.exceedance is None else round(p.exceedance, 3)}
                for p in c.over_target],
            "yesterday": None if self.yesterday is None else self.yesterday.label,
            "change": self.change,
            "readings": self.readings,
        }


def _deciding_text(c: Classification) -> list[str]:
    out = []
    for p in c.deciding:
        text = f"{p.metric} {p.value:.4g}"
        if p.exceedance is not None and c.target is not None:
            text += f" ({p.exceedance:.2f}x over {c.target.label})"
        out.append(text)
    return out


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours across a daylight-saving change)."""
    return (datetime.combine(day, time(), tzinfo=zone),
            datetime.combine(day + timedelta(days=1), time(), tzinfo=zone))


async def probe_sums(store: TelemetryStore, probes: Mapping[str, Sequence[str]], start: datetime,
                     end: datetime) -> Sums:
    """(sum, count) per section and metric of its probes' readings in ``[start, end)``."""
    wanted = load_standard().metrics | {TEMPERATURE_METRIC}
    out: Sums = {}
    for section_id, device_ids in probes.items():
        sums = out.setdefault(section_id, {})
        for device_id in device_ids:
            reported = {value.metric for value in await store.latest([device_id])}
            for metric in sorted(reported & wanted):
                buckets = await store.buckets(device_id, metric, start, end, BUCKET)
                total, count = sums.get(metric, (0.0, 0))
                total += sum(b.avg * b.count for b in buckets)
                count += sum(b.count for b in buckets)
                if count:
                    sums[metric] = (total, count)
    return out


def merge_sums(*parts: Sums) -> Sums:
    out: Sums = {}
    for part in parts:
        for section_id, metrics in part.items():
            into = out.setdefault(section_id, {})
            for metric, (total, count) in metrics.items():
                before = into.get(metric, (0.0, 0))
                into[metric] = (before[0] + total, before[1] + count)
    return out


def classify_day(sections: Iterable[Section], day: date, today: Sums, yesterday: Sums) -> list[SectionDay]:
    """Each section's day from the (sum, count) of its parameters, today and yesterday."""
    out = []
    for section in sections:
        means = _means(today.get(section.id, {}))
        before = classify(_means(yesterday.get(section.id, {})), water_body=section.water_body)
        out.append(SectionDay(
            section, day, classify(means, water_body=section.water_body, target=section.target),
            None if before is None else before.water_class,
            sum(count for _, count in today.get(section.id, {}).values())))
    return out


def _means(sums: Mapping[str, tuple[float, int]]) -> dict[str, float]:
    return {metric: total / count for metric, (total, count) in sums.items() if count}


async def section_probes(registry: Registry, sections: Iterable[Section]) -> dict[str, list[str]]:
    """The water-quality probes tagged ``section=<id>`` of each section (retired ones left out)."""
    ids = {s.id for s in sections}
    out: dict[str, list[str]] = {section_id: [] for section_id in ids}
    for device in await registry.list(DeviceFilter(kind=PROBE_KIND)):
        section_id = device.tags.get(SECTION_TAG)
        if section_id in out:
            out[section_id].append(device.id)
    return out


async def daily_report(sections: SectionStore, registry: Registry, store: TelemetryStore, day: date,
                       zone: tzinfo, *, area: str | None = None) -> list[SectionDay]:
    """Every section (of ``area``) on ``day``, with yesterday's class for the change."""
    chosen = await sections.list(area=area)
    probes = await section_probes(registry, chosen)

    async def sums(of: date) -> Sums:
        start, end = day_bounds(of, zone)
        return merge_sums(await probe_sums(store, probes, start, end),
                          await sections.sample_sums(probes, start, end))

    return classify_day(chosen, day, await sums(day), await sums(day - timedelta(days=1)))


@dataclass(frozen=True)
class DailyReports:
    """The report on parts already open, as the gateway's API serves it (``GET /water/report``)."""

    sections: SectionStore
    registry: Registry
    store: TelemetryStore
    zone: tzinfo

    async def rows(self, day: date, area: str | None = None) -> list[dict[str, Any]]:
        days = await daily_report(self.sections, self.registry, self.store, day, self.zone, area=area)
        return [d.row() for d in days]
