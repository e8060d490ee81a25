"""Flagged readings are stored with their flags in the telemetry store (SQLite and TimescaleDB), and stay
out of the flood rules: a simulated gauge with injected faults, through the engine and the rules service's
flag writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.engine import RulesEngine
from rules.flag_log import FlagRecorder
from rules.loader import parse_ruleset
from simulators.faults import FaultWindow
from simulators.gauge import GaugeFault
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import FlaggedReading, open_store
from tests.rules.support import RecordingSink, device
from tests.rules.test_quality import RULES, gauge

pytestmark = pytest.mark.services
START = datetime(2026, 7, 1, tzinfo=UTC)


async def test_each_injected_fault_is_stored_with_its_flag_and_kept_from_the_flood_rule(database_url: str) -> None:
    hour = 3600.0
    faults = {GaugeFault.echo_spikes: FaultWindow(1 * hour, 2 * hour),
              GaugeFault.below_floor: FaultWindow(3 * hour, 3.5 * hour),
              GaugeFault.weak_signal: FaultWindow(4 * hour, 4.5 * hour)}
    model = gauge(7, faults, rain="")
    clock, sink = FakeClock(START), RecordingSink()
    fed: list[Reading] = []
    async with open_store(DatabaseUrl.parse(database_url), StoreSettings(), connect_timeout_s=5) as store:
        async with FlagRecorder(store, clock=clock) as flags, RulesEngine(
                sink, clock=clock, rules=parse_ruleset(RULES), devices={"CG-007": device("CG-007")},
                flags=flags) as engine:
            for step in range(int(5 * hour / 60)):
                clock.advance(seconds=60 if step else 0)
                sample = model.sample(step * 60.0)
                assert sample is not None
                batch = [Reading("CG-007", metric, clock.now(), value) for metric, value in (
                    ("battery_v", sample.battery_v), ("signal_quality_pct", sample.signal_quality_pct),
                    ("water_level_mm", sample.water_level_mm))]
                fed += batch
                await store.write(batch)
                await engine.on_readings(batch)
            await engine.flush()
            await flags.flush()
            assert flags.dropped == 0
        stored = await store.flagged(START, START + timedelta(hours=6))
        assert len(await store.history("CG-007", "water_level_mm", START, START + timedelta(hours=6))) == 300

    by_flag: dict[str, list[FlaggedReading]] = {}
    for row in stored:
        assert row.rule == "gauge-quality"
        for flag in row.flags:
            by_flag.setdefault(flag, []).append(row)
    assert {"spike", "below_floor", "low_signal"} <= by_flag.keys()
    hours = {flag: {int((r.ts - START).total_seconds() // hour) for r in rows} for flag, rows in by_flag.items()}
    # (the sensor knocked off its bracket also reads as a sudden step: a spike then too)
    assert 1 in hours["spike"] and hours["spike"] <= {1, 3}
    assert hours["below_floor"] == {3} and hours["low_signal"] == {4}
    readings = {(r.metric, r.ts): r.value for r in fed}
    assert all(readings[(r.metric, r.ts)] == r.value for r in stored)  # the very readings, values as read
    assert all(r.value < -30 for r in by_flag["below_floor"])
    # The spikes (300-900 mm higher) would have crossed the flood levels; the flood rule never saw them.
    assert max(r.value for r in by_flag["spike"]) > 300
    assert [t.rule for t in sink.transitions if t.rule == "culvert-level"] == []
    assert {t.rule for t in sink.transitions} == {"gauge-quality"}
