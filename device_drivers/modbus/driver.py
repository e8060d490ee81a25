"""Read a device as its profile says; write a metric or a schedule and verify by reading it back.

>>> async with BusPool() as pool:  # doctest: +SKIP
...     bus = await pool.bus_for(device.address)
...     sample = await read_device(bus, device.address.unit, profile)
...     sample.values["power_w"], sample.readings(device.id)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from device_drivers.errors import (
    DecodeError,
    DriverError,
    EncodeError,
    ModbusExceptionResponse,
    VerificationError,
)
from device_drivers.modbus.bus import ModbusBus
from device_drivers.modbus.codec import BlockDecoder, decode_metric, encode_metric
from device_drivers.modbus.plan import ReadBlock, plan_reads
from device_registry.profile import DataType, ModbusMetric, ModbusSpec, Profile, RegisterTable
from streetwatch.clock import Clock, SystemClock
from streetwatch.expressions import Expression, ExpressionError
from streetwatch.figures import show
from streetwatch.readings import Reading

MINUTES_PER_DAY = 24 * 60
_SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True, slots=True)
class RefusedBlock:
    """A read the device refused: its exception, and the metrics left without a value."""

    reason: str
    code: int
    metrics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceSample:
    """One poll of one device.

    ``values``: every numeric metric that could be read, in its unit, plus derived metrics;
    bitfields as their integer value (``bitfields`` repeats them as ints for
    :func:`~device_drivers.modbus.codec.set_bits`). ``texts``: string metrics (serial numbers,
    firmware versions), which are not readings. ``errors``: metric → why it has no value this
    time (a block the device refused, a NaN, a derived metric missing an input). ``refused``: each
    block the device answered with a Modbus exception (``"holding 0+12"`` → the exception), so a
    caller can tell a device that is partly unreadable from one that is merely missing a value.
    """

    ts: datetime
    values: Mapping[str, float]
    bitfields: Mapping[str, int] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    refused: Mapping[str, RefusedBlock] = field(default_factory=dict)

    def readings(self, device_id: str) -> list[Reading]:
        """The numeric values as :class:`Reading` objects, all stamped with the poll's time."""
        return [Reading(device_id, metric, self.ts, value) for metric, value in self.values.items()]


# Plans and decoders are pure functions of the spec; profiles are few and long-lived, so they
# are kept by the spec's identity (the spec itself is kept too, so the id cannot be reused).
_PLANS: dict[int, tuple[ModbusSpec, list[tuple[ReadBlock, BlockDecoder]]]] = {}
_EXPRESSIONS: dict[str, Expression] = {}


def _plan(spec: ModbusSpec) -> list[tuple[ReadBlock, BlockDecoder]]:
    cached = _PLANS.get(id(spec))
    if cached is None or cached[0] is not spec:
        blocks = [(b, BlockDecoder(b.metrics, b.address, b.count, spec)) for b in plan_reads(spec)]
        cached = _PLANS[id(spec)] = (spec, blocks)
    return cached[1]


def _spec(profile: Profile) -> ModbusSpec:
    if profile.modbus is None:
        raise DriverError(f"profile {profile.name} has no [modbus] section")
    return profile.modbus


async def read_block(bus: ModbusBus, unit: int, block: ReadBlock) -> list[int] | list[bool]:
    """One planned read."""
    if block.table.is_bits:
        return await bus.read_bits(unit, block.table, block.address, block.count)
    return await bus.read_registers(unit, block.table, block.address, block.count)


async def read_device(bus: ModbusBus, unit: int, profile: Profile, *, clock: Clock = _SYSTEM_CLOCK) -> DeviceSample:
    """Read every metric of ``profile`` from ``unit`` on ``bus`` in as few requests as the plan allows.

    A timeout, a lost connection or a framing error raises at once (the device is unreachable;
    the other blocks would only wait too). A block the device refuses with a Modbus exception
    leaves its metrics in ``errors``; if the device refuses every block, that exception is raised.
    """
    spec = _spec(profile)
    values: dict[str, float] = {}
    bitfields: dict[str, int] = {}
    texts: dict[str, str] = {}
    errors: dict[str, str] = {}
    refused_blocks: dict[str, RefusedBlock] = {}
    refused: ModbusExceptionResponse | None = None
    blocks = _plan(spec)
    for block, decoder in blocks:
        try:
            raw = await read_block(bus, unit, block)
        except ModbusExceptionResponse as exc:
            refused = exc
            for metric in block.metrics:
                errors[metric.name] = str(exc)
            refused_blocks[f"{block.table.value} {block.address}+{block.count}"] = RefusedBlock(
                exc.detail, exc.code, tuple(m.name for m in block.metrics))
            continue
        decoded = decoder.decode(raw)
        values.update(decoded.values)
        bitfields.update(decoded.bitfields)
        texts.update(decoded.texts)
        errors.update(decoded.errors)
    if refused is not None and len(errors) == sum(len(b.metrics) for b, _ in blocks):
        raise refused
    ts = clock.now()
    _derive(profile, values, errors)
    return DeviceSample(ts, values, bitfields, texts, errors, refused_blocks)


def _derive(profile: Profile, values: dict[str, float], errors: dict[str, str]) -> None:
    """Add the profile's derived metrics to ``values`` (in order: one may use an earlier one)."""
    for derived in profile.derived:
        expression = _EXPRESSIONS.get(derived.expression)
        if expression is None:
            expression = _EXPRESSIONS[derived.expression] = Expression.parse(derived.expression)
        missing = expression.names - values.keys()
        if missing:
            errors[derived.name] = f"needs {', '.join(sorted(missing))}, which have no value"
            continue
        try:
            result = float(expression.evaluate(values))
        except (ExpressionError, TypeError, ValueError, OverflowError) as exc:
            errors[derived.name] = f"{derived.expression!r}: {exc}"
            continue
        if not math.isfinite(result):
            errors[derived.name] = f"{derived.expression!r} gave {result}"
            continue
        values[derived.name] = result


def check_write_value(profile: Profile, metric: ModbusMetric, value: float) -> None:
    """:class:`EncodeError` unless ``value`` lies in the range the profile declares for ``metric``.

    Only the profile decides what reaches a device: a writable register without a declared range
    (other than a bool) is not written at all, so a typo or a hostile value cannot reach the bus.
    """
    if not math.isfinite(value):
        raise EncodeError(f"{metric.name}: {show(value)} is not a value a device can hold")
    if metric.type is not DataType.bool and (metric.min is None or metric.max is None):
        raise EncodeError(f"{profile.name}: {metric.name} declares no min and max, so it is never written "
                          "(add its range to the profile)")
    if (metric.min is not None and value < metric.min) or (metric.max is not None and value > metric.max):
        low = show(metric.min) if metric.min is not None else "-∞"
        high = show(metric.max) if metric.max is not None else "∞"
        raise EncodeError(f"{metric.name}: {show(value)} is outside {low}..{high}")


def _writable_metric(profile: Profile, name: str) -> ModbusMetric:
    spec = _spec(profile)
    for metric in spec.metrics:
        if metric.name == name:
            if not metric.writable:
                raise EncodeError(f"{profile.name}: {name} is not writable")
            if metric.table not in (RegisterTable.holding, RegisterTable.coil):
                raise EncodeError(f"{profile.name}: {name} is in the {metric.table.value} table, which Modbus "
                                  f"cannot write")
            return metric
    raise EncodeError(f"{profile.name}: no Modbus metric named {name!r}")


async def write_metric(bus: ModbusBus, unit: int, profile: Profile, metric_name: str, value: float) -> float:
    """Write one metric, read it back, and return the value the device now holds.

    Raises :class:`EncodeError` for a metric that is not writable or a value outside its
    ``min``/``max`` or its type, and :class:`VerificationError` when the read-back differs from
    what was written (a device that clamps, ignores or lost the write).
    """
    spec = _spec(profile)
    metric = _writable_metric(profile, metric_name)
    check_write_value(profile, metric, value)
    encoded = encode_metric(metric, value, spec)
    block = ReadBlock(metric.table, metric.address, metric.register_count, (metric,))
    if metric.table is RegisterTable.coil:
        await bus.write_coils(unit, metric.address, [bool(v) for v in encoded])
    else:
        await bus.write_registers(unit, metric.address, [int(v) for v in encoded])
    read_back = await read_block(bus, unit, block)
    written = decode_metric(metric, encoded, spec)
    if [int(v) for v in read_back] != [int(v) for v in encoded]:
        try:
            now = decode_metric(metric, read_back, spec)
        except DecodeError:
            now = math.nan
        raise VerificationError(metric_name, written, now, where=f"{bus.key} unit {unit}")
    return written


def _schedule_table(profile: Profile) -> tuple[int, int, int]:
    table = _spec(profile).schedule_table
    if table is None:
        raise EncodeError(f"{profile.name}: the profile has no schedule_table")
    return table.address, table.slots, table.count_address


def check_schedule(profile: Profile, slots: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The slots as the device stores them, sorted by minute; :class:`EncodeError` names a bad one."""
    _, capacity, _ = _schedule_table(profile)
    if len(slots) > capacity:
        raise EncodeError(f"{profile.name}: {len(slots)} schedule steps, the device holds {capacity}")
    checked = []
    for i, (minute, dim_pct) in enumerate(slots):
        if not (isinstance(minute, int) and 0 <= minute < MINUTES_PER_DAY):
            raise EncodeError(f"schedule step {i}: minute of day {minute!r} is not 0..1439")
        if not (isinstance(dim_pct, int) and 0 <= dim_pct <= 100):
            raise EncodeError(f"schedule step {i}: dim level {dim_pct!r} is not 0..100 %")
        checked.append((minute, dim_pct))
    minutes = [m for m, _ in checked]
    if len(set(minutes)) != len(minutes):
        raise EncodeError("schedule: two steps at the same minute")
    return sorted(checked)


async def write_schedule(bus: ModbusBus, unit: int, profile: Profile, slots: Sequence[tuple[int, int]]) -> None:
    """Write an on-device schedule of (minute of day, dim level %) steps, then verify it by reading back.

    Unused slots are zeroed and the number in use is written last, so a device never runs a
    half-written table. An empty list clears the schedule.
    """
    steps = check_schedule(profile, slots)
    address, capacity, count_address = _schedule_table(profile)
    registers = [v for step in steps for v in step] + [0] * (2 * (capacity - len(steps)))
    await bus.write_registers(unit, address, registers)
    await bus.write_registers(unit, count_address, [len(steps)])
    back = await read_schedule(bus, unit, profile)
    if back != steps:
        raise VerificationError("schedule", steps, back, where=f"{bus.key} unit {unit}")


async def read_schedule(bus: ModbusBus, unit: int, profile: Profile) -> list[tuple[int, int]]:
    """The steps the device holds now."""
    address, capacity, count_address = _schedule_table(profile)
    (count,) = await bus.read_registers(unit, RegisterTable.holding, count_address, 1)
    if count > capacity:
        raise DecodeError(f"schedule: the device says {count} steps in a table of {capacity}",
                          where=f"{bus.key} unit {unit}")
    if count == 0:
        return []
    registers = await bus.read_registers(unit, RegisterTable.holding, address, 2 * count)
    return [(registers[2 * i], registers[2 * i + 1]) for i in range(count)]
