"""Rate-of-change over an irregularly sampled window, and absence (stale data, offline status)."""

from __future__ import annotations

import pytest

from device_registry.device import DeviceStatus
from rules.windows import SampleWindow
from tests.rules.support import Harness, device

RATE = """
rules:
  - name: rise
    kind: rate_of_change
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    window: 10m
    rise: 50
    severity: orange
"""


@pytest.mark.parametrize(("samples", "expected"), [
    ([(0, 100), (300, 125), (600, 150)], 50.0),
    # irregular: dense at the end, sparse at the start; the slope is the same 5 mm/min
    ([(0, 100), (420, 135), (540, 145), (560, 146.6667), (580, 148.3333), (600, 150)], 50.0),
    ([(0, 100), (600, 100)], None),  # two samples are not enough
    ([(0, 100), (100, 110), (200, 120)], None),  # spans a third of the window only
    ([(0, 200), (300, 150), (600, 100)], -100.0),
])
def test_window_change_is_the_least_squares_slope(samples: list[tuple[float, float]], expected: float | None) -> None:
    window = SampleWindow(600)
    for t, value in samples:
        window.add(t, value)
    change = window.change(min_samples=3, min_coverage=0.5)
    assert change == (None if expected is None else pytest.approx(expected, abs=0.01))


def test_window_forgets_old_samples_and_orders_late_ones() -> None:
    window = SampleWindow(600)
    for t in (0, 100, 700, 650):
        window.add(t, t)
    assert list(window.times) == [100, 650, 700]  # 0 left the window [100, 700]


async def test_rising_water_raises_once_and_slow_rise_does_not() -> None:
    async with Harness(RATE, [device("FAST"), device("SLOW")]) as h:
        # irregular sampling: 5 min apart, then every 30 s as the gauge notices the rise
        for wait, fast, slow in [(0, 100, 100), (300, 104, 102), (240, 140, 110), (30, 150, 111), (30, 162, 112),
                                 (30, 171, 113)]:
            await h.advance(wait)
            await h.feed("FAST", "water_level_mm", fast)
            await h.feed("SLOW", "water_level_mm", slow)
        assert h.events() == [("raised", "FAST", "orange")]
        raised = h.sink.transitions[0]
        assert raised.value is not None and raised.value > 50
        assert raised.threshold == 50
        assert raised.context == {"water_level_mm": pytest.approx(raised.context["water_level_mm"])}
        # the level stays high and flat: the rise is over, the alert clears
        for _ in range(12):
            await h.advance(60)
            await h.feed("FAST", "water_level_mm", 171)
        assert h.events()[-1] == ("cleared", "FAST", "orange")


ABSENCE = """
rules:
  - name: offline
    kind: absence
    applies_to: {kinds: [culvert_gauge]}
    after: 10m
    severity: yellow
"""


async def test_no_data_for_ten_minutes_raises_and_data_clears() -> None:
    async with Harness(ABSENCE, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", 100)
        await h.advance(599)
        assert h.events() == []
        await h.advance(1)
        assert h.events() == [("raised", "CG-1", "yellow")]
        assert h.sink.transitions[0].value == 600 and h.sink.transitions[0].threshold == 600
        await h.advance(3600)
        assert len(h.events()) == 1  # once, not every tick
        await h.feed("CG-1", "battery_v", 3.9)
        assert h.events()[-1] == ("cleared", "CG-1", "yellow")


async def test_an_active_device_that_never_reports_goes_stale() -> None:
    async with Harness(ABSENCE, [device("CG-NEW")]) as h:
        h.engine.update_devices({"CG-NEW": device("CG-NEW")})
        await h.advance(601)
        assert h.events() == [("raised", "CG-NEW", "yellow")]


async def test_mqtt_last_will_offline_raises_at_once_and_online_clears() -> None:
    async with Harness(ABSENCE, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", 100)
        await h.advance(5)
        await h.engine.on_status("CG-1", False, h.clock.now())
        await h.engine.flush()
        assert h.events() == [("raised", "CG-1", "yellow")]
        assert h.sink.transitions[0].message == "device reported offline"
        await h.engine.on_status("CG-1", True, h.clock.now())
        await h.engine.flush()
        assert h.events()[-1] == ("cleared", "CG-1", "yellow")


async def test_readings_keep_a_device_fresh() -> None:
    async with Harness(ABSENCE, [device("CG-1")]) as h:
        for _ in range(10):
            await h.feed("CG-1", "water_level_mm", 100)
            await h.advance(300)
        assert h.events() == []


async def test_back_from_maintenance_the_silence_counts_from_then() -> None:
    gauge = device("CG-1")
    async with Harness(ABSENCE, [gauge]) as h:
        await h.feed("CG-1", "water_level_mm", 100)
        h.engine.update_devices({"CG-1": gauge.model_copy(update={"status": DeviceStatus.maintenance})})
        await h.advance(3600)
        assert h.events() == []  # silent in maintenance: no alert
        h.engine.update_devices({"CG-1": gauge})
        await h.advance(599)
        assert h.events() == []
        await h.advance(2)
        assert h.events() == [("raised", "CG-1", "yellow")]
        # a registry edit while it is absent neither clears nor raises again
        h.engine.update_devices({"CG-1": gauge.model_copy(update={"notes": "cable checked"})})
        await h.advance(700)
        assert h.events() == [("raised", "CG-1", "yellow")]
