"""Commands over Modbus: write the register the profile names, read it back to confirm.

The profile says which metric an action writes (``[commands.set_dim] metric = "dim_level_pct"``);
schedules go to the profile's ``schedule_table``. The drivers' bus lock keeps one request at a
time per physical bus, so devices on one line take turns while different lines work in parallel.
"""

from __future__ import annotations

import math

from control.channel import DeliveryJob
from control.errors import DeliveryError, DeliveryRejected
from control.model import Action
from device_drivers.errors import (
    DecodeError,
    DriverError,
    EncodeError,
    ModbusExceptionResponse,
    VerificationError,
)
from device_drivers.modbus import BusPool, ModbusBus, write_metric, write_schedule
from device_registry.device import ModbusRtuAddress, ModbusRtuOverTcpAddress, ModbusTcpAddress
from streetwatch.clock import Clock, SystemClock

# Exceptions a busy or briefly failing device answers: worth another attempt.
_TRANSIENT_EXCEPTION_CODES = frozenset({4, 5, 6, 10, 11})
CLOCK_TOLERANCE_S = 2.0


def _value(job: DeliveryJob, clock: Clock) -> float:
    params = job.params
    if job.action is Action.set_dim:
        return float(params["level_pct"])
    if job.action in (Action.switch, Action.flash):
        return 1.0 if params["on"] else 0.0
    if job.action is Action.sync_clock:
        return float(math.floor(clock.now().timestamp()))
    raise DeliveryRejected(f"{job.action.value} is not a single-register command")


class ModbusChannel:
    """A :class:`~control.channel.DeliveryChannel` over the drivers' bus pool (opened by the caller)."""

    def __init__(self, pool: BusPool, clock: Clock | None = None) -> None:
        self.pool = pool
        self.clock = clock or SystemClock()

    async def deliver(self, job: DeliveryJob) -> None:
        address = job.device.address
        if not isinstance(address, ModbusTcpAddress | ModbusRtuOverTcpAddress | ModbusRtuAddress):
            raise DeliveryRejected(f"{job.device.id} is not a Modbus device")
        try:
            bus = await self.pool.bus_for(address)
            if job.action is Action.set_schedule:
                slots = [(int(minute), int(dim)) for minute, dim in job.params["slots"]]
                await write_schedule(bus, address.unit, job.profile, slots)
            elif job.action is Action.clear_schedule:
                await write_schedule(bus, address.unit, job.profile, [])
            else:
                spec = job.profile.commands.get(job.action.value)
                if spec is None or spec.metric is None:
                    raise DeliveryRejected(f"profile {job.profile.name} names no register for {job.action.value}")
                await self._write(job, bus, address.unit, spec.metric)
        except VerificationError as exc:
            raise DeliveryError(f"not confirmed: {exc}") from None
        except ModbusExceptionResponse as exc:
            if exc.code in _TRANSIENT_EXCEPTION_CODES:
                raise DeliveryError(str(exc)) from None
            raise DeliveryRejected(f"the device refused: {exc}") from None
        except EncodeError as exc:  # refused by the profile before anything reached the bus
            raise DeliveryRejected(f"{exc}; nothing was sent") from None
        except DecodeError as exc:
            raise DeliveryRejected(str(exc)) from None
        except DriverError as exc:
            raise DeliveryError(str(exc)) from None

    async def _write(self, job: DeliveryJob, bus: ModbusBus, unit: int, metric: str) -> None:
        value = _value(job, self.clock)
        spec = job.profile.commands[job.action.value]
        # The command's own range (a lamp that cannot dim below 10 %) is checked before the register's.
        if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
            low = "-∞" if spec.min is None else f"{spec.min:g}"
            high = "∞" if spec.max is None else f"{spec.max:g}"
            raise DeliveryRejected(f"{job.action.value} {value:g} is outside the profile's {low}..{high}; "
                                   "nothing was sent")
        try:
            await write_metric(bus, unit, job.profile, metric, value)
        except VerificationError as exc:
            # A controller's clock ticks on between the write and the read-back.
            ticked = isinstance(exc.read_back, int | float) and abs(float(exc.read_back) - value) <= CLOCK_TOLERANCE_S
            if job.action is Action.sync_clock and ticked:
                return
            raise

    def release(self, delivery_id: int) -> None:
        """Modbus keeps nothing between attempts."""
