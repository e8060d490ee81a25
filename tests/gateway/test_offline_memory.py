"""What an offline device costs the gateway in memory while its alert is open (issue #21).

Every device behind an unreachable converter goes offline and raises an alert of the shipped
offline rules; with 80,000 such devices each byte kept per device is 80 kB. The chain is the
gateway's: the device states, the rules engine with the shipped rules, the alert service over a
real SQLite alert store. Measured with tracemalloc on a small fleet.
"""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.intake.device_state import DeviceStates
from gateway.intake.records import StatusChange
from rules import alert_store
from rules.alert_store import AlertFilter, AlertStore
from rules.alerts import AlertState
from rules.engine import RulesEngine
from rules.loader import SHIPPED_RULES_DIR, load_ruleset_skipping, rule_paths
from rules.service import AlertService
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.rules.support import START, device

BYTES_PER_OFFLINE_DEVICE = 700
"""Measured 605 bytes (device state, the rule's track, the remembered alert); 661 before a track became its own
debouncer, 1,320 before issue #21."""


@dataclass
class Chain:
    clock: FakeClock
    states: DeviceStates
    engine: RulesEngine
    store: AlertStore
    changes: list[StatusChange]

    async def deliver(self) -> None:
        """Hand the status changes to the engine as the fan-out does, and wait until the alerts are stored."""
        for change in self.changes:
            await self.engine.on_status(change.device_id, change.online, change.at)
        self.changes.clear()
        await self.engine.flush()


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[Chain]:
    clock = FakeClock(START)
    devices = {f"LP-{n:06d}": device(f"LP-{n:06d}", "lamp_controller") for n in range(2_000)}
    ruleset, skipped = load_ruleset_skipping(rule_paths(SHIPPED_RULES_DIR))
    assert not skipped
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'alerts.db'}")) as db:
        store = AlertStore(db, scale=ruleset.scale)
        await store.migrate()
        async with RulesEngine(AlertService(store, None, clock=clock), clock=clock, rules=ruleset,
                               devices=devices) as engine:
            states = DeviceStates(offline_after_failures=3)
            changes: list[StatusChange] = []
            states.listen(changes.append)
            yield Chain(clock, states, engine, store, changes)


def _fail_polls(chain: Chain, device_ids: list[str], times: int) -> None:
    for _ in range(times):
        for n, device_id in enumerate(device_ids):
            # The text a refused connection gives: the same for the 30 units behind one converter.
            chain.states.poll_failed(device_id, chain.clock.now(),
                                     f"cannot connect to 127.0.0.1:{61_000 + n // 30}: [Errno 111] Connection refused")
        chain.clock.advance(timedelta(seconds=60))


async def test_memory_per_offline_device_with_an_open_alert_is_bounded(chain: Chain,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)  # the test's log capture would keep each device's "offline" line
    device_ids = [f"LP-{n:06d}" for n in range(2_000)]
    gc.collect()
    tracemalloc.start(1)
    try:
        before = tracemalloc.take_snapshot()
        _fail_polls(chain, device_ids, 3)
        await chain.deliver()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert chain.states.offline == 2_000
    open_alerts = await chain.store.list_alerts(AlertFilter(rules=["lamp-controller-offline"], limit=5_000))
    assert len(open_alerts) == 2_000 and {a.state for a in open_alerts} == {AlertState.raised}
    retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert retained / 2_000 < BYTES_PER_OFFLINE_DEVICE, after.compare_to(before, "lineno")[:10]


async def test_the_store_remembers_a_bounded_number_of_alerts_and_still_clears_forgotten_ones(
        chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_store, "REMEMBERED_ALERTS", 100)
    device_ids = [f"LP-{n:06d}" for n in range(300)]
    _fail_polls(chain, device_ids, 3)
    await chain.deliver()
    assert len(chain.store._open) == 100  # what the store keeps in memory is the point
    for device_id in device_ids:  # back: the first 200 alerts were forgotten, the database has them
        chain.states.poll_succeeded(device_id, chain.clock.now())
    await chain.deliver()  # the offline rules clear as soon as the device answers
    alerts = await chain.store.list_alerts(AlertFilter(rules=["lamp-controller-offline"], limit=1_000))
    assert len(alerts) == 300 and {a.state for a in alerts} == {AlertState.cleared}
    assert len(chain.store._open) <= 100
