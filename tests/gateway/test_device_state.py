"""Online/offline per device: offline after N failed polls, online at the first answer, each outage logged once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from gateway.intake.device_state import DeviceStates
from gateway.intake.records import StatusChange

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def states() -> tuple[DeviceStates, list[StatusChange]]:
    tracker = DeviceStates(offline_after_failures=3)
    heard: list[StatusChange] = []
    tracker.listen(heard.append)
    return tracker, heard


@pytest.mark.parametrize(("events", "expected"), [
    # (what happened, in order) → (online, source) of each change heard
    (["ok"], [(True, "modbus")]),
    (["fail", "fail"], []),
    (["fail", "fail", "fail"], [(False, "modbus")]),
    (["ok", "fail", "fail", "ok", "fail", "fail"], [(True, "modbus")]),  # failures must be in a row
    (["ok", "fail", "fail", "fail", "fail", "fail", "ok"], [(True, "modbus"), (False, "modbus"), (True, "modbus")]),
    (["status:offline", "status:offline", "telemetry"], [(False, "mqtt-status"), (True, "mqtt-telemetry")]),
    (["telemetry", "telemetry", "status:online"], [(True, "mqtt-telemetry")]),
])
def test_changes(states: tuple[DeviceStates, list[StatusChange]], events: list[str],
                 expected: list[tuple[bool, str]]) -> None:
    tracker, heard = states
    for i, event in enumerate(events):
        if event == "ok":
            tracker.poll_succeeded("D", at(i))
        elif event == "fail":
            tracker.poll_failed("D", at(i), "no answer")
        elif event == "telemetry":
            tracker.seen("D", at(i))
        else:
            tracker.reported("D", event == "status:online", at(i))
    assert [(c.online, c.source) for c in heard] == expected
    assert all(c.device_id == "D" for c in heard)


def test_an_outage_is_logged_once_and_its_end_once(states: tuple[DeviceStates, list[StatusChange]],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    tracker, heard = states
    caplog.set_level(logging.DEBUG, "gateway.intake.device_state")
    tracker.poll_succeeded("LP-7", at(0))
    for i in range(1, 40):
        tracker.poll_failed("LP-7", at(i), "no answer within 3 s")
    tracker.poll_succeeded("LP-7", at(300))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "device LP-7 is offline (modbus): 3 polls failed: no answer within 3 s"]
    assert warnings[0].device_id == "LP-7"  # type: ignore[attr-defined]
    assert caplog.records[-1].getMessage() == "device LP-7 is back online after 4 min (modbus)"
    assert heard[1].at == at(3) and heard[2].at == at(300)


def test_counts_restore_and_forget(states: tuple[DeviceStates, list[StatusChange]]) -> None:
    tracker, heard = states
    tracker.restore({"A": StatusChange("A", False, at(0), "modbus"), "B": StatusChange("B", True, at(0), "modbus")})
    assert (tracker.online, tracker.offline) == (1, 1) and heard == []
    tracker.poll_failed("A", at(1), "x")  # still offline: no second event for the same outage
    tracker.poll_succeeded("A", at(2))
    assert (tracker.online, tracker.offline) == (2, 0)
    tracker.forget(["A", "Z"])
    assert (tracker.online, tracker.offline) == (1, 0) and tracker.get("A") is None
    assert [(c.device_id, c.online) for c in heard] == [("A", True)]
