"""The lamp controller's electrical model, commands, schedule and faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.faults import FaultWindow
from simulators.lamp import FaultBits, LampController, LampFault, LampSpec, ScheduleStep, power_factor

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 20:00 in Guangzhou


def lamp(faults: dict[LampFault, FaultWindow] | None = None, **spec: float) -> LampController:
    spec = {"rated_power_w": 100.0, "standby_w": 1.0, "power_noise": 0.0, **spec}
    return LampController(LampSpec(**spec), seed=1, device_id="LP-1", now=T0, faults=faults)  # type: ignore[arg-type]


@pytest.mark.parametrize("dim", [0, 10, 25, 50, 75, 100])
def test_power_is_rated_times_dim_plus_standby_and_current_follows(dim: int) -> None:
    c = lamp()
    c.set_dim(dim, T0)
    r = c.read(T0 + timedelta(seconds=1))
    assert r.power_w == pytest.approx(1.0 + dim)
    assert r.power_factor == pytest.approx(power_factor(dim) if dim else 0.5, abs=1e-3)
    assert r.lamp_current_a == pytest.approx(r.power_w / (r.supply_voltage_v * r.power_factor), abs=2e-3)
    assert 215 < r.supply_voltage_v < 235
    assert r.dim_level_pct == dim and r.relay_on == 1


def test_meter_noise_is_small_and_seeded() -> None:
    first, second = lamp(power_noise=0.01), lamp(power_noise=0.01)
    a = [first.read(T0 + timedelta(seconds=s)).power_w for s in range(1, 40)]
    b = [second.read(T0 + timedelta(seconds=s)).power_w for s in range(1, 40)]
    assert a == b
    assert len(set(a)) > 30
    assert all(abs(p - 101) < 5 for p in a)


def test_relay_off_draws_nothing() -> None:
    c = lamp()
    c.set_relay(False, T0)
    r = c.read(T0 + timedelta(hours=1))
    assert (r.power_w, r.lamp_current_a, r.relay_on) == (0, 0, 0)
    assert r.energy_kwh == 0 and r.lamp_running_hours == 0


def test_energy_and_running_hours_integrate_whatever_the_read_rate() -> None:
    seldom, often = lamp(initial_energy_kwh=10.0), lamp(initial_energy_kwh=10.0)
    for c in (seldom, often):
        c.set_dim(50, T0)
    for s in range(0, 7200, 7):
        often.read(T0 + timedelta(seconds=s))
    end = T0 + timedelta(hours=2)
    assert seldom.read(end).energy_kwh == pytest.approx(10.0 + 51 * 2 / 1000)
    assert often.read(end).energy_kwh == pytest.approx(seldom.read(end).energy_kwh)
    assert often.read(end).lamp_running_hours == 2


def test_commands_change_power_from_that_instant() -> None:
    c = lamp()
    c.set_dim(100, T0)
    c.set_dim(20, T0 + timedelta(minutes=30))
    c.set_relay(False, T0 + timedelta(minutes=45))
    r = c.read(T0 + timedelta(hours=1))
    assert r.energy_kwh == pytest.approx((101 * 0.5 + 21 * 0.25) / 1000)
    assert r.power_w == 0


def test_dim_outside_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        lamp().set_dim(120, T0)


def test_lamp_failure_draws_standby_and_raises_the_fault_bit() -> None:
    c = lamp({LampFault.lamp_failure: FaultWindow(60.0)})
    before = c.read(T0 + timedelta(seconds=30))
    after = c.read(T0 + timedelta(seconds=90))
    assert before.power_w == pytest.approx(101) and before.fault_bits == 0
    assert after.power_w == pytest.approx(1.0) and int(after.fault_bits) & FaultBits.lamp_failure
    assert after.relay_on == 1


def test_day_burning_lamp_burns_when_switched_off() -> None:
    c = lamp({LampFault.day_burning: FaultWindow()})
    c.set_relay(False, T0)
    r = c.read(T0 + timedelta(hours=1))
    assert r.relay_on == 0
    assert r.power_w == pytest.approx(101)
    assert r.energy_kwh == pytest.approx(0.101)
    assert r.fault_bits == 0  # the controller cannot tell


def test_cycling_lamp_goes_dark_a_third_of_the_time() -> None:
    c = lamp({LampFault.cycling: FaultWindow()}, cycle_on_s=60.0, cycle_off_s=30.0)
    lit = c.read(T0 + timedelta(seconds=30))
    dark = c.read(T0 + timedelta(seconds=75))
    assert lit.power_w == pytest.approx(101) and dark.power_w == pytest.approx(1)
    assert int(dark.fault_bits) & FaultBits.over_temperature
    r = c.read(T0 + timedelta(seconds=900))
    assert r.energy_kwh == pytest.approx((1 + 100 * 2 / 3) * 900 / 3.6e6)


def test_flash_mode_halves_the_energy() -> None:
    c = lamp()
    c.set_flash(True, T0)
    assert c.read(T0 + timedelta(seconds=600)).energy_kwh == pytest.approx((1 + 50) * 600 / 3.6e6)


def test_schedule_runs_on_local_time_and_a_manual_dim_holds_until_the_next_step() -> None:
    c = lamp()
    steps = [ScheduleStep(18 * 60, 100), ScheduleStep(23 * 60, 50), ScheduleStep(6 * 60, 0)]
    c.set_schedule(steps, T0)  # 20:00 local: the 18:00 step applies at once
    assert c.read(T0).dim_level_pct == 100
    c.set_dim(30, T0 + timedelta(hours=1))  # 21:00, an operator dims
    assert c.read(T0 + timedelta(hours=2)).dim_level_pct == 30
    assert c.read(T0 + timedelta(hours=3, minutes=1)).dim_level_pct == 50  # 23:01
    assert c.read(T0 + timedelta(hours=10, minutes=1)).dim_level_pct == 0  # 06:01
    assert c.read(T0 + timedelta(hours=22, minutes=1)).dim_level_pct == 100  # 18:01 next day


def test_schedule_follows_the_controllers_own_clock() -> None:
    c = lamp()
    c.set_clock((T0 - timedelta(hours=3)).timestamp(), T0)  # the controller believes it is 17:00
    c.set_schedule([ScheduleStep(18 * 60, 100), ScheduleStep(6 * 60, 10)], T0)
    assert c.read(T0).dim_level_pct == 10
    assert c.read(T0 + timedelta(hours=1, minutes=1)).dim_level_pct == 100
    assert c.read(T0).clock_epoch_s == int((T0 - timedelta(hours=3)).timestamp())


def test_clock_drifts_until_synchronised() -> None:
    c = lamp(clock_drift_ppm=20.0)
    day = T0 + timedelta(days=1)
    assert c.read(day).clock_epoch_s - day.timestamp() == pytest.approx(1.728, abs=1)
    c.set_clock(day.timestamp(), day)
    assert c.read(day).clock_epoch_s == int(day.timestamp())


def test_too_many_schedule_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="holds 8"):
        lamp().set_schedule([ScheduleStep(m, 50) for m in range(9)], T0)
