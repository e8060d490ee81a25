"""Device fault alerts for refused Modbus blocks: the absence rule's window and severity, several blocks,
a restart, a removed device."""

from __future__ import annotations

from datetime import datetime, timedelta

from rules.alerts import Alert, AlertState
from rules.block_faults import FAULT_RULE
from streetwatch.block_faults import BlockFault
from tests.rules.support import Harness, device

ABSENCE = """
rules:
  - name: lamp-controller-offline
    kind: absence
    applies_to: {kinds: [lamp_controller]}
    after: 10m
    severity: yellow
  - name: lamp-slow
    kind: absence
    applies_to: {kinds: [lamp_controller]}
    after: 30m
    severity: red
"""
REASON = "Modbus exception 2 (illegal data address) to function 3"


def refused(block: str, at: datetime, *, answered: bool = False, device_id: str = "LP-1") -> BlockFault:
    return BlockFault(device_id, block, REASON, ("dim_level_pct", "clock_epoch_s"), at, at, answered=answered)


async def test_raised_after_the_shortest_absence_window_at_its_severity_and_cleared_when_all_answer() -> None:
    async with Harness(ABSENCE, [device("LP-1", "lamp_controller")]) as h:
        start = h.clock.now()
        h.engine.faults.observe(refused("holding 0+12", start), start)
        await h.advance(60)
        h.engine.faults.observe(refused("input 0+4", h.clock.now()), h.clock.now())
        await h.advance(9 * 60 - 2)
        assert [e for e in h.events() if e[0] == "raised"] == []  # the absence rules' own alerts: none yet
        await h.advance(3)
        raised = [t for t in h.sink.transitions if t.rule == FAULT_RULE]
        assert [(t.event.value, t.device_id, t.severity) for t in raised] == [("raised", "LP-1", "yellow")]
        assert raised[0].message == (f"holding 0+12 refused: {REASON} (no dim_level_pct, clock_epoch_s); input 0+4 "
                                     f"refused: {REASON} (no dim_level_pct, clock_epoch_s); at every poll for 10m")
        assert raised[0].site == "district-1" and raised[0].device_kind == "lamp_controller"
        h.engine.faults.observe(refused("holding 0+12", h.clock.now(), answered=True), h.clock.now())
        await h.engine.flush()
        assert len([t for t in h.sink.transitions if t.rule == FAULT_RULE]) == 1  # one block still refused
        h.engine.faults.observe(refused("input 0+4", h.clock.now(), answered=True), h.clock.now())
        await h.engine.flush()
        cleared = [t for t in h.sink.transitions if t.rule == FAULT_RULE][1]
        assert (cleared.event.value, cleared.severity, cleared.message) == ("cleared", "yellow",
                                                                            "input 0+4 answers again")


async def test_a_block_answering_within_the_window_raises_nothing() -> None:
    async with Harness(ABSENCE, [device("LP-1", "lamp_controller")]) as h:
        h.engine.faults.observe(refused("holding 0+12", h.clock.now()), h.clock.now())
        await h.advance(300)
        h.engine.faults.observe(refused("holding 0+12", h.clock.now(), answered=True), h.clock.now())
        await h.advance(900)
        assert [t for t in h.sink.transitions if t.rule == FAULT_RULE] == []
        assert len(h.engine.faults) == 0


async def test_without_an_absence_rule_the_window_is_15_minutes_at_the_lowest_severity() -> None:
    async with Harness("rules: []", [device("LP-1", "lamp_controller")]) as h:
        h.engine.faults.observe(refused("holding 0+12", h.clock.now()), h.clock.now())
        await h.advance(15 * 60 - 2)
        assert h.sink.transitions == []
        await h.advance(3)
        assert h.events() == [("raised", "LP-1", "blue")]


def stored(device_id: str, at: datetime) -> Alert:
    return Alert(id=7, rule=FAULT_RULE, device_id=device_id, device_kind="lamp_controller", site="district-1",
                 severity="yellow", peak_severity="yellow", state=AlertState.raised, raised_at=at, updated_at=at,
                 message=f"holding 0+12 refused: {REASON}")


async def test_after_a_restart_an_alert_is_kept_while_the_block_is_refused_and_cleared_once_it_answers() -> None:
    async with Harness(ABSENCE, [device("LP-1", "lamp_controller"), device("LP-2", "lamp_controller")]) as h:
        h.engine.restore([stored("LP-1", h.clock.now() - timedelta(hours=1)),
                          stored("LP-2", h.clock.now() - timedelta(hours=1))])
        h.engine.faults.observe(refused("holding 0+12", h.clock.now()), h.clock.now())  # LP-1's first poll
        await h.advance(11 * 60)
        # LP-2 reported no refusal within the window: its block answers since the restart.
        assert [(t.event.value, t.device_id, t.message) for t in h.sink.transitions if t.rule == FAULT_RULE] == [
            ("cleared", "LP-2", "no block refused since the gateway started")]
        h.engine.faults.observe(refused("holding 0+12", h.clock.now(), answered=True), h.clock.now())
        await h.engine.flush()
        assert [(t.event.value, t.device_id) for t in h.sink.transitions if t.rule == FAULT_RULE][1:] == [
            ("cleared", "LP-1")]


async def test_a_removed_device_clears_its_fault_alert() -> None:
    async with Harness(ABSENCE, [device("LP-1", "lamp_controller")]) as h:
        h.engine.faults.observe(refused("holding 0+12", h.clock.now()), h.clock.now())
        await h.advance(601)
        h.engine.update_devices({})
        await h.advance(1)
        assert [(t.event.value, t.message) for t in h.sink.transitions if t.rule == FAULT_RULE] == [
            ("raised", f"holding 0+12 refused: {REASON} (no dim_level_pct, clock_epoch_s); at every poll for 10m"),
            ("cleared", "device removed or not watched")]
