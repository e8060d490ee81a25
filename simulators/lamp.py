"""A lamp-post controller's electrical model: what its meter reads and how it obeys commands.

The controller (profile ``sw-lamp-controller``) switches an LED driver with a relay and dims it
0–100 %. While the relay is closed the driver draws ``standby_w`` plus the LEDs' share of
``rated_power_w`` in proportion to the dim level; the meter adds noise. The power factor of an LED
driver falls at low load, so the current is ``P / (V · PF)``. Energy and running hours are
integrated between readings, so they depend on time and commands, not on how often it is read.

An on-device schedule (up to 8 steps of minute-of-day → dim %) runs on the controller's own
clock, which drifts until it is synchronised. A dim command overrides the schedule until its
next step.

Lamp faults (comms faults belong to the Modbus front end):

* ``lamp_failure``: the LEDs are open-circuit; the driver draws only standby while "on".
* ``day_burning``: the relay is welded shut; commanded off, the lamp burns at full power.
* ``cycling``: the driver overheats and cuts out: ``cycle_on_s`` lit, ``cycle_off_s`` dark.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 7, 1, 12, tzinfo=UTC)
>>> lamp = LampController(LampSpec(rated_power_w=100, power_noise=0), seed=1, device_id="LP-1", now=t0)
>>> lamp.set_dim(50, t0)
>>> reading = lamp.read(t0 + timedelta(hours=1))
>>> round(reading.power_w, 1), round(reading.energy_kwh - lamp.spec.initial_energy_kwh, 3)
(51.2, 0.051)
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag, StrEnum

from simulators.faults import FaultWindow
from simulators.seeding import rng_for

MAX_SCHEDULE_STEPS = 8
_MAX_SEGMENT_S = 60.0  # schedule steps are checked at least this often while integrating


class LampFault(StrEnum):
    lamp_failure = "lamp_failure"
    day_burning = "day_burning"
    cycling = "cycling"


class FaultBits(IntFlag):
    """The profile's ``fault_bits`` register."""

    lamp_failure = 1 << 0
    driver_fault = 1 << 1
    over_temperature = 1 << 2
    surge = 1 << 3
    door_open = 1 << 4


@dataclass(frozen=True, slots=True)
class LampSpec:
    rated_power_w: float = 120.0
    standby_w: float = 1.2  # the driver with its LEDs dark
    nominal_v: float = 230.0
    power_noise: float = 0.01  # relative σ of the meter
    self_heating_c_per_w: float = 0.06
    cycle_on_s: float = 60.0
    cycle_off_s: float = 30.0
    clock_drift_ppm: float = 0.0
    initial_energy_kwh: float = 0.0
    initial_running_hours: float = 0.0
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class ScheduleStep:
    minute_of_day: int
    dim_level_pct: int

    def __post_init__(self) -> None:
        if not 0 <= self.minute_of_day < 1440:
            raise ValueError(f"schedule minute {self.minute_of_day} is outside 0..1439")
        if not 0 <= self.dim_level_pct <= 100:
            raise ValueError(f"schedule dim level {self.dim_level_pct} is outside 0..100")


@dataclass(frozen=True, slots=True)
class LampReadings:
    """Every metric of the profile, by its profile name."""

    dim_level_pct: float
    flash_mode: float
    clock_epoch_s: float
    relay_on: float
    supply_voltage_v: float
    lamp_current_a: float
    power_w: float
    energy_kwh: float
    power_factor: float
    lamp_running_hours: float
    fault_bits: float
    controller_temp_c: float

    def metrics(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__slots__}


def _lit_seconds(a: float, b: float, on_s: float, period_s: float) -> float:
    """Seconds in [a, b) of a pattern that is lit for ``on_s`` at the start of every period."""

    def cumulative(x: float) -> float:
        return math.floor(x / period_s) * on_s + min(x % period_s, on_s)

    return cumulative(b) - cumulative(a)


def power_factor(dim_level_pct: float) -> float:
    """An LED driver's power factor: about 0.98 at full load, worse as it is dimmed."""
    return 0.98 - 0.3 * (1.0 - dim_level_pct / 100.0) ** 2


class LampController:
    """One controller: write its settings, read its meter; ``read(now)`` integrates up to ``now``."""

    def __init__(self, spec: LampSpec, *, seed: int, device_id: str, now: datetime,
                 faults: Mapping[LampFault, FaultWindow] | None = None, origin: datetime | None = None) -> None:
        self.spec = spec
        self.device_id = device_id
        self.faults = dict(faults or {})
        self._origin = origin or now  # fault windows count from here
        self._zone = zoneinfo.ZoneInfo(spec.timezone)
        self._rng = rng_for(seed, device_id, "lamp")
        self.dim_level_pct = 100
        self.relay_on = True
        self.flash_mode = False
        self.schedule: tuple[ScheduleStep, ...] = ()
        self._applied_step: tuple[int, int] | None = None
        self._energy_kwh = spec.initial_energy_kwh
        self._running_s = spec.initial_running_hours * 3600.0
        self._t = now.timestamp()
        self._clock_offset_s = 0.0
        self._clock_synced_at = self._t

    # --- commands -----------------------------------------------------------------------------
    def set_dim(self, pct: float, now: datetime) -> None:
        if not 0 <= pct <= 100:
            raise ValueError(f"dim level {pct:g} is outside 0..100 %")
        self._advance(now.timestamp())
        self.dim_level_pct = round(pct)

    def set_relay(self, on: bool, now: datetime) -> None:
        self._advance(now.timestamp())
        self.relay_on = on

    def set_flash(self, on: bool, now: datetime) -> None:
        self._advance(now.timestamp())
        self.flash_mode = on

    def set_clock(self, epoch_s: float, now: datetime) -> None:
        self._advance(now.timestamp())
        self._clock_offset_s = epoch_s - now.timestamp()
        self._clock_synced_at = now.timestamp()

    def set_schedule(self, steps: Sequence[ScheduleStep], now: datetime) -> None:
        """Replace the on-device schedule (empty clears it); the current step applies at once."""
        if len(steps) > MAX_SCHEDULE_STEPS:
            raise ValueError(f"{len(steps)} schedule steps; the controller holds {MAX_SCHEDULE_STEPS}")
        self._advance(now.timestamp())
        self.schedule = tuple(sorted(steps, key=lambda s: s.minute_of_day))
        self._applied_step = None
        self._apply_schedule(self._t)

    # --- state --------------------------------------------------------------------------------
    def controller_epoch_s(self, t: float) -> float:
        drift = self.spec.clock_drift_ppm * 1e-6 * (t - self._clock_synced_at)
        return t + self._clock_offset_s + drift

    def _fault(self, fault: LampFault, t: float) -> bool:
        window = self.faults.get(fault)
        return window is not None and window.active(t - self._origin.timestamp())

    def _relay_closed(self, t: float) -> bool:
        return self.relay_on or self._fault(LampFault.day_burning, t)

    def _emitting_dim(self, t: float) -> float:
        """The dim level the LEDs burn at, while lit (ignoring cycling and flashing)."""
        if not self._relay_closed(t) or self._fault(LampFault.lamp_failure, t):
            return 0.0
        if not self.relay_on:  # welded relay, no dim signal: the driver defaults to full
            return 100.0
        return float(self.dim_level_pct)

    def _lit_fraction(self, a: float, b: float) -> float:
        """Share of [a, b) the LEDs are lit, for the cycling fault and flash mode."""
        fraction = 1.0
        window = self.faults.get(LampFault.cycling)
        if window is not None and window.active(a - self._origin.timestamp()):
            start = self._origin.timestamp() + window.start_s
            period = self.spec.cycle_on_s + self.spec.cycle_off_s
            fraction *= _lit_seconds(a - start, b - start, self.spec.cycle_on_s, period) / (b - a)
        if self.flash_mode:
            fraction *= _lit_seconds(a, b, 1.0, 2.0) / (b - a)
        return fraction

    def _cycling_dark(self, t: float) -> bool:
        window = self.faults.get(LampFault.cycling)
        if window is None or not window.active(t - self._origin.timestamp()):
            return False
        period = self.spec.cycle_on_s + self.spec.cycle_off_s
        return (t - self._origin.timestamp() - window.start_s) % period >= self.spec.cycle_on_s

    def _mean_power_w(self, a: float, b: float) -> tuple[float, float]:
        """(mean power, seconds lit) over [a, b), with the state held fixed."""
        if not self._relay_closed(a):
            return 0.0, 0.0
        dim = self._emitting_dim(a)
        lit = self._lit_fraction(a, b) if dim > 0 else 0.0
        return self.spec.standby_w + self.spec.rated_power_w * dim / 100.0 * lit, lit * (b - a)

    def _advance(self, t: float) -> None:
        while self._t < t:
            end = min(t, self._t + _MAX_SEGMENT_S)
            watts, lit_s = self._mean_power_w(self._t, end)
            self._energy_kwh += watts * (end - self._t) / 3_600_000.0
            self._running_s += lit_s
            self._t = end
            self._apply_schedule(end)

    def _apply_schedule(self, t: float) -> None:
        if not self.schedule:
            return
        local = datetime.fromtimestamp(self.controller_epoch_s(t), self._zone)
        minute = local.hour * 60 + local.minute
        day = local.toordinal()
        current = [i for i, step in enumerate(self.schedule) if step.minute_of_day <= minute]
        # Before the first step of the day, yesterday's last step still holds.
        key = (day, current[-1]) if current else (day - 1, len(self.schedule) - 1)
        if key != self._applied_step:
            self._applied_step = key
            self.dim_level_pct = self.schedule[key[1]].dim_level_pct

    def read(self, now: datetime) -> LampReadings:
        """The controller's registers at ``now`` (energy and hours integrated up to it)."""
        t = now.timestamp()
        self._advance(t)
        s, rng = self.spec, self._rng
        local = now.astimezone(self._zone)
        hour = local.hour + local.minute / 60.0
        # The evening peak sags the feeder voltage a little.
        volts = s.nominal_v - 5.0 * math.exp(-(((hour - 20.0) / 2.0) ** 2)) + rng.gauss(0.0, 0.8)
        dim = self._emitting_dim(t)
        lit = dim > 0 and not self._cycling_dark(t) and not (self.flash_mode and int(t) % 2 == 1)
        watts = 0.0
        pf = 0.0
        if self._relay_closed(t):
            load_pct = dim if lit else 0.0
            watts = (s.standby_w + s.rated_power_w * load_pct / 100.0) * (1.0 + rng.gauss(0.0, s.power_noise))
            pf = power_factor(load_pct) if load_pct > 0 else 0.5
        amps = watts / (volts * pf) if watts > 0 else 0.0
        bits = FaultBits(0)
        if self._fault(LampFault.lamp_failure, t) and self._relay_closed(t):
            bits |= FaultBits.lamp_failure
        if self._cycling_dark(t) and self._relay_closed(t):
            bits |= FaultBits.over_temperature
        ambient_c = 26.0 + 4.0 * math.cos(2 * math.pi * (hour - 15.0) / 24.0)
        return LampReadings(
            dim_level_pct=float(self.dim_level_pct),
            flash_mode=float(self.flash_mode),
            clock_epoch_s=float(int(self.controller_epoch_s(t))),
            relay_on=float(self.relay_on),
            supply_voltage_v=round(volts, 1),
            lamp_current_a=round(amps, 3),
            power_w=max(watts, 0.0),
            energy_kwh=self._energy_kwh,
            power_factor=round(pf, 3),
            lamp_running_hours=float(math.floor(self._running_s / 3600.0)),
            fault_bits=float(int(bits)),
            controller_temp_c=round(ambient_c + s.self_heating_c_per_w * watts + rng.gauss(0.0, 0.3), 1),
        )
