"""Alert transitions stored in batches: what queued up goes in one transaction, all or none (issue #21).

When 80,000 devices go offline within minutes, one commit and one acknowledged publish per alert
kept tens of thousands of transitions waiting in memory; the outbox now hands over what has queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from rules import alert_store as alert_store_module
from rules.alert_store import AlertFilter, AlertStore
from rules.alerts import AlertState, AlertTransition
from rules.delivery import BATCH, EngineStats, deliver_transitions
from rules.service import AlertService
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.rules.support import START, transition

LATER = START + timedelta(minutes=5)


def _batch() -> list[AlertTransition]:
    return [transition("raised", "orange", device_id="CG-1"), transition("raised", "red", device_id="CG-2"),
            transition("escalated", "red", previous="orange", device_id="CG-1", at=START + timedelta(seconds=30)),
            transition("cleared", "red", device_id="CG-2", at=LATER)]


@pytest.mark.services
async def test_a_batch_is_stored_as_its_transitions_one_by_one_would_be(store: AlertStore) -> None:
    changes = await store.apply_many(_batch())
    assert [c is not None for c in changes] == [True, True, True, True]
    one = await store.list_alerts(AlertFilter(devices=["CG-1"]))
    two = await store.list_alerts(AlertFilter(devices=["CG-2"]))
    assert [(a.state, a.severity) for a in one] == [(AlertState.raised, "red")]
    assert [(a.state, a.severity) for a in two] == [(AlertState.cleared, "red")]
    assert [h.event.value for h in await store.history(one[0].id)] == ["raised", "escalated"]
    assert [h.event.value for h in await store.history(two[0].id)] == ["raised", "cleared"]
    # The same transitions again change nothing: the store remembers what the batch wrote.
    assert await store.apply_many(_batch()[2:]) == [None, None]

    await store.mark_notified_many([c.alert for c in changes if c is not None])  # the older states match no row
    assert [a.device_id for a in await store.unnotified(START - timedelta(days=1))] == []


@pytest.mark.services
async def test_a_batch_that_fails_stores_nothing_and_is_stored_whole_when_tried_again(
        store: AlertStore, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = alert_store_module.plan_write
    calls = 0

    def failing_third(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("a fault in the middle of the batch")
        return planned(*args, **kwargs)

    batch = _batch()
    monkeypatch.setattr(alert_store_module, "plan_write", failing_third)
    with pytest.raises(RuntimeError):
        await store.apply_many(batch)
    assert await store.list_alerts(AlertFilter()) == []  # the first two were undone with the rest
    monkeypatch.setattr(alert_store_module, "plan_write", planned)
    assert all(c is not None for c in await store.apply_many(batch))
    alerts = await store.list_alerts(AlertFilter())
    assert sorted((a.device_id, a.state.value, a.severity) for a in alerts) == [
        ("CG-1", "raised", "red"), ("CG-2", "cleared", "red")]


class _Sink:
    def __init__(self, *, batches_fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.singles: list[int] = []
        self.batches_fail = batches_fail

    async def apply(self, t: AlertTransition) -> None:
        self.singles.append(t.seq)

    async def apply_many(self, ts: Sequence[AlertTransition]) -> None:
        if self.batches_fail:
            raise RuntimeError("cannot take this batch")
        self.batches.append([t.seq for t in ts])


async def _deliver(sink: _Sink, count: int) -> list[int]:
    queue: asyncio.Queue[AlertTransition | None] = asyncio.Queue()
    sent = [transition("raised", "red", device_id=f"CG-{n}") for n in range(count)]
    for t in sent:
        queue.put_nowait(t)
    queue.put_nowait(None)
    stats = EngineStats()
    await asyncio.wait_for(deliver_transitions(queue, sink, FakeClock(START), stats), 10)
    assert stats.sink_errors == 0 and queue.empty()
    return [t.seq for t in sent]


async def test_what_queued_up_goes_in_batches_in_order() -> None:
    sink = _Sink()
    seqs = await _deliver(sink, 2 * BATCH + 50)
    assert [len(b) for b in sink.batches] == [BATCH, BATCH, 50] and sink.singles == []
    assert [s for b in sink.batches for s in b] == seqs


async def test_a_batch_the_sink_cannot_take_goes_one_transition_at_a_time() -> None:
    sink = _Sink(batches_fail=True)
    seqs = await _deliver(sink, 30)
    assert sink.batches == [] and sink.singles == seqs


@pytest.mark.services
async def test_the_alert_service_stores_announces_and_marks_a_batch(store: AlertStore) -> None:
    from rules.notifier import Notifier
    from streetwatch.config import Settings

    announced: list[str] = []
    async with Notifier(Settings().notifications, None) as notifier:
        service = AlertService(store, notifier, clock=FakeClock(START),
                               on_announced=lambda _t, alert: announced.append(f"{alert.device_id} {alert.state}"))
        await service.apply_many(_batch())
    assert announced == ["CG-1 raised", "CG-2 raised", "CG-1 raised", "CG-2 cleared"]
    # Marked as told: the states announced last are what the sweep finds told.
    assert await store.unnotified(START - timedelta(days=1)) == []


@pytest.mark.services
async def test_a_batch_plans_again_what_another_process_changed_meanwhile(store: AlertStore, database_url: str) -> None:
    first = await store.apply_many([transition("raised", "red", device_id="CG-1"),
                                    transition("raised", "red", device_id="CG-2")])
    assert first[0] is not None
    async with open_database(DatabaseUrl.parse(database_url)) as db:  # the CLI, in another process
        await AlertStore(db).acknowledge(first[0].alert.id, "li", None, START + timedelta(minutes=1))
    cleared = await store.apply_many([transition("cleared", "red", device_id="CG-1", at=LATER),
                                      transition("cleared", "red", device_id="CG-2", at=LATER)])
    assert [(c.alert.state, c.events[-1].value) for c in cleared if c is not None] == [
        (AlertState.closed, "closed"), (AlertState.cleared, "cleared")]  # acknowledged, then cleared: closed
