"""The alert lifecycle in the database, on SQLite and on TimescaleDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.alert_store import AlertFilter, AlertStore
from rules.alerts import AlertEvent, AlertState
from rules.errors import AlertNotFound, AlertStateError
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.rules.support import START, Harness, device, transition

pytestmark = pytest.mark.services
LATER = START + timedelta(minutes=5)


async def test_raise_escalate_acknowledge_clear_close(store: AlertStore) -> None:
    raised = await store.apply(transition("raised", "orange", value=550))
    assert raised is not None and raised.events == (AlertEvent.raised,)
    alert = raised.alert
    assert (alert.state, alert.severity, alert.site, alert.device_kind) == (
        AlertState.raised, "orange", "district-3", "culvert_gauge")
    assert alert.location is not None and alert.location.landmark == "Xujiahui underpass"
    assert alert.raised_at == START and alert.context == {"water_level_mm": 550.0}

    up = await store.apply(transition("escalated", "red", previous="orange", at=START + timedelta(seconds=30)))
    assert up is not None and up.alert.id == alert.id and up.alert.severity == "red"
    acked = await store.acknowledge(alert.id, "duty-officer-li", "crew sent", START + timedelta(minutes=1))
    assert acked.alert.state is AlertState.acknowledged and acked.alert.acknowledged_by == "duty-officer-li"
    down = await store.apply(transition("deescalated", "yellow", previous="red", at=START + timedelta(minutes=2)))
    assert down is not None and down.alert.state is AlertState.acknowledged and down.alert.peak_severity == "red"
    cleared = await store.apply(transition("cleared", "yellow", at=LATER, value=120))
    assert cleared is not None and cleared.events == (AlertEvent.cleared, AlertEvent.closed)
    assert cleared.alert.state is AlertState.closed and cleared.alert.cleared_at == LATER
    assert cleared.alert.closed_at == LATER and cleared.alert.cleared_by is None

    history = await store.history(alert.id)
    assert [(h.event.value, h.severity, h.state.value, h.actor) for h in history] == [
        ("raised", "orange", "raised", None),
        ("escalated", "red", "raised", None),
        ("acknowledged", "red", "acknowledged", "duty-officer-li"),
        ("deescalated", "yellow", "acknowledged", None),
        ("cleared", "yellow", "cleared", None),
        ("closed", "yellow", "closed", None),
    ]
    assert history[2].note == "crew sent"


async def test_an_unacknowledged_cleared_alert_reopens_then_closes_on_acknowledgement(store: AlertStore) -> None:
    first = await store.apply(transition("raised", "yellow"))
    assert first is not None
    cleared = await store.apply(transition("cleared", "yellow", at=LATER))
    assert cleared is not None and cleared.alert.state is AlertState.cleared
    again = await store.apply(transition("raised", "orange", at=LATER + timedelta(minutes=1)))
    assert again is not None and again.events == (AlertEvent.reopened,)
    assert again.alert.id == first.alert.id and again.alert.state is AlertState.raised
    assert again.alert.cleared_at is None
    await store.apply(transition("cleared", "orange", at=LATER + timedelta(minutes=2)))
    closed = await store.acknowledge(first.alert.id, "li", None, LATER + timedelta(minutes=3))
    assert closed.events == (AlertEvent.acknowledged, AlertEvent.closed)
    assert closed.alert.state is AlertState.closed
    # now a new raise is a new alert
    fresh = await store.apply(transition("raised", "yellow", at=LATER + timedelta(minutes=4)))
    assert fresh is not None and fresh.alert.id != first.alert.id


async def test_one_open_alert_per_rule_and_device(store: AlertStore) -> None:
    a = await store.apply(transition("raised", "red"))
    same = await store.apply(transition("raised", "red"))  # an engine that lost its state
    other_device = await store.apply(transition("raised", "red", device_id="CG-2"))
    other_rule = await store.apply(transition("raised", "red", rule="rise"))
    assert a is not None and same is None and other_device is not None and other_rule is not None
    assert len({a.alert.id, other_device.alert.id, other_rule.alert.id}) == 3
    assert len(await store.active_alerts()) == 3


async def test_cleared_by_hand_is_raised_again_only_if_it_gets_worse(store: AlertStore) -> None:
    a = await store.apply(transition("raised", "orange"))
    assert a is not None
    closed = await store.clear(a.alert.id, "li", "gauge under repair", LATER)
    assert closed.events == (AlertEvent.cleared, AlertEvent.closed)
    assert (closed.alert.state, closed.alert.cleared_by, closed.alert.clear_note) == (
        AlertState.closed, "li", "gauge under repair")
    assert await store.apply(transition("deescalated", "yellow")) is None
    assert await store.apply(transition("cleared", "yellow")) is None
    worse = await store.apply(transition("escalated", "red"))
    assert worse is not None and worse.alert.id != a.alert.id and worse.events == (AlertEvent.raised,)
    with pytest.raises(AlertStateError, match="already closed"):
        await store.clear(a.alert.id, "li", None, LATER)
    with pytest.raises(AlertStateError, match="is closed"):
        await store.acknowledge(a.alert.id, "li", None, LATER)
    with pytest.raises(AlertNotFound):
        await store.acknowledge(999_999, "li", None, LATER)


async def test_changes_made_by_another_process_are_seen_when_the_engine_stores_next(store: AlertStore) -> None:
    """The engine's store remembers the open alerts it wrote; the CLI's changes reach it through the guard."""
    cli = AlertStore(store.db)  # another process: its changes are not in the engine store's memory
    first = await store.apply(transition("raised", "orange"))
    assert first is not None
    await cli.acknowledge(first.alert.id, "li", None, START + timedelta(seconds=10))
    up = await store.apply(transition("escalated", "red", at=START + timedelta(seconds=20)))
    assert up is not None and up.alert.state is AlertState.acknowledged and up.alert.severity == "red"
    await cli.clear(first.alert.id, "li", "repaired", START + timedelta(seconds=30))
    assert await store.apply(transition("deescalated", "yellow", at=START + timedelta(seconds=40))) is None
    assert await store.apply(transition("cleared", "yellow", at=START + timedelta(seconds=50))) is None
    again = await store.apply(transition("raised", "orange", at=LATER))
    assert again is not None and again.alert.id != first.alert.id and again.events == (AlertEvent.raised,)
    history = await store.history(first.alert.id)
    assert [(h.event.value, h.severity, h.state.value) for h in history] == [
        ("raised", "orange", "raised"), ("acknowledged", "orange", "acknowledged"),
        ("escalated", "red", "acknowledged"), ("cleared", "red", "cleared"), ("closed", "red", "closed")]
    # an engine restarted without memory finds the open alert through the one-open-alert index
    restarted = AlertStore(store.db)
    assert await restarted.apply(transition("raised", "orange", at=LATER)) is None
    step = await restarted.apply(transition("escalated", "red", at=LATER + timedelta(seconds=5)))
    assert step is not None and step.alert.id == again.alert.id and step.events == (AlertEvent.escalated,)


async def test_filters(store: AlertStore) -> None:
    await store.apply(transition("raised", "red", device_id="CG-1", site="district-3"))
    await store.apply(transition("raised", "yellow", device_id="CG-2", site="district-3"))
    await store.apply(transition("raised", "red", device_id="LP-1", site="district-9", kind="lamp_controller",
                                 rule="lamp"))
    b = await store.apply(transition("raised", "orange", device_id="CG-4", site="district-9"))
    assert b is not None
    await store.acknowledge(b.alert.id, "li", None, LATER)

    async def ids(**where: object) -> list[str]:
        return sorted(a.device_id for a in await store.list_alerts(AlertFilter(**where)))  # type: ignore[arg-type]

    assert await ids(severities=["red"]) == ["CG-1", "LP-1"]
    assert await ids(sites=["district-9"]) == ["CG-4", "LP-1"]
    assert await ids(kinds=["culvert_gauge"], sites=["district-9"]) == ["CG-4"]
    assert await ids(states=["acknowledged"]) == ["CG-4"]
    assert await ids(severities=["red", "orange"], states=["raised"]) == ["CG-1", "LP-1"]
    assert await ids(rules=["lamp"]) == ["LP-1"]
    assert await ids(limit=2) == ["CG-4", "LP-1"]  # the most recently updated first
    history = await store.recent_history(AlertFilter(sites=["district-9"]))
    assert (history[0].event.value, history[0].alert_id) == ("acknowledged", b.alert.id)
    assert {h.event.value for h in history} == {"raised", "acknowledged"}


async def test_notification_bookkeeping_and_reminders(store: AlertStore) -> None:
    a = await store.apply(transition("raised", "red"))
    assert a is not None
    assert [x.id for x in await store.unnotified(START - timedelta(days=1))] == [a.alert.id]
    await store.mark_notified(a.alert.id, AlertState.raised, "yellow")  # a record of a state it is no longer in
    assert [x.id for x in await store.unnotified(START - timedelta(days=1))] == [a.alert.id]
    await store.mark_notified(a.alert.id, AlertState.raised, "red")
    assert await store.unnotified(START - timedelta(days=1)) == []
    await store.acknowledge(a.alert.id, "li", None, LATER)
    assert [x.state for x in await store.unnotified(START - timedelta(days=1))] == [AlertState.acknowledged]

    b = await store.apply(transition("raised", "red", device_id="CG-2"))
    c = await store.apply(transition("raised", "yellow", device_id="CG-3"))
    assert b is not None and c is not None
    due = START + timedelta(minutes=15)
    assert [x.id for x in await store.due_reminders(["red"], due)] == [b.alert.id]  # acked and yellow are not
    await store.mark_reminded(b.alert.id, due + timedelta(seconds=1))
    assert await store.due_reminders(["red"], due) == []
    assert [x.id for x in await store.due_reminders(["red"], due + timedelta(minutes=15))] == [b.alert.id]


async def test_open_alerts_survive_a_restart_and_are_not_raised_again(database_url: str) -> None:
    url = DatabaseUrl.parse(database_url)
    async with Harness("""
rules:
  - {name: level, kind: threshold, metric: water_level_mm, levels: {yellow: 300, red: 800}}
""", [device("CG-1")]) as h:
        async with open_database(url) as db:
            store = AlertStore(db)
            await store.migrate()
            await h.feed("CG-1", "water_level_mm", 900)
            for t in h.sink.transitions:
                await store.apply(t)
        h.sink.transitions.clear()
    # a new engine after the restart
    async with open_database(url) as db, Harness("""
rules:
  - {name: level, kind: threshold, metric: water_level_mm, levels: {yellow: 300, red: 800}}
""", [device("CG-1")]) as h2:
        store = AlertStore(db)
        await store.migrate()
        h2.engine.restore(await store.active_alerts())
        await h2.feed("CG-1", "water_level_mm", 905)
        assert h2.events() == []
        await h2.feed("CG-1", "water_level_mm", 100)
        assert h2.events() == [("cleared", "CG-1", "red")]
        change = await store.apply(h2.sink.transitions[0])
        assert change is not None and change.alert.state is AlertState.cleared
