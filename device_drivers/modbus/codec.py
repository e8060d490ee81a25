"""Registers ⇄ values, as a profile says: a pure function each way, no I/O.

``value = raw * scale + offset``, where ``raw`` is the integer or float the registers hold.

Orders, per metric (falling back to the spec's defaults):

- ``word_order`` (types of two or four registers): ``big`` sends the most significant register
  first (the Modbus convention), ``little`` the least significant first (many meters and probes).
- ``byte_order`` (inside each register): ``big`` sends the high byte first (the Modbus
  convention), ``little`` swaps the two bytes of every register.

>>> from device_registry.profile import ModbusMetric, ModbusSpec
>>> power = ModbusMetric(name="power_w", table="input", address=2, type="f32")
>>> spec = ModbusSpec(metrics=(power,))
>>> encode_metric(power, 123.5, spec)
[17143, 0]
>>> decode_metric(power, [17143, 0], spec)
123.5

Bitfields decode to their integer value (``set_bits`` names the flags). Strings are not numeric
readings: :func:`decode_metric` refuses them, :func:`decode_text` turns them into text (for a probe
or commissioning), and :func:`encode_text` writes them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from device_drivers.errors import DecodeError, EncodeError
from device_registry.profile import DataType, ModbusMetric, ModbusSpec, Order
from streetwatch.figures import decimals_of, show, to_resolution

# struct format of each numeric type, big-endian once the orders are applied.
_FORMATS: dict[DataType, str] = {
    DataType.u16: ">H", DataType.i16: ">h", DataType.u32: ">I", DataType.i32: ">i",
    DataType.f32: ">f", DataType.u64: ">Q", DataType.i64: ">q", DataType.f64: ">d",
}
_FLOATS = frozenset({DataType.f32, DataType.f64})
_F32_FORMAT = _FORMATS[DataType.f32]
_F32_MAX = 3.4028234663852886e38
_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.u16: (0, 0xFFFF), DataType.i16: (-0x8000, 0x7FFF),
    DataType.u32: (0, 0xFFFF_FFFF), DataType.i32: (-0x8000_0000, 0x7FFF_FFFF),
    DataType.u64: (0, 0xFFFF_FFFF_FFFF_FFFF), DataType.i64: (-0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF),
}


def orders(metric: ModbusMetric, spec: ModbusSpec) -> tuple[Order, Order]:
    """(byte order, word order) in force for ``metric``: its own, else the spec's."""
    return metric.byte_order or spec.byte_order, metric.word_order or spec.word_order


def registers_to_bytes(registers: Sequence[int], byte_order: Order, word_order: Order) -> bytes:
    """Wire registers → bytes with the most significant byte first."""
    words = list(registers) if word_order == "big" else list(reversed(registers))
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    try:
        return struct.pack(f">{len(words)}H", *words)
    except struct.error:
        raise DecodeError(f"register values must be 0..65535, got {list(registers)}") from None


def bytes_to_registers(data: bytes, byte_order: Order, word_order: Order) -> list[int]:
    """Bytes (most significant first) → wire registers; the inverse of :func:`registers_to_bytes`."""
    words = list(struct.unpack(f">{len(data) // 2}H", data))
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words if word_order == "big" else words[::-1]


def _check_length(metric: ModbusMetric, got: int) -> None:
    if got != metric.register_count:
        unit = "bit" if metric.type is DataType.bool else "register"
        raise DecodeError(f"{metric.name}: {metric.type.value} needs {metric.register_count} {unit}(s), got {got}")


def decode_raw(metric: ModbusMetric, registers: Sequence[int], spec: ModbusSpec) -> int | float:
    """The number the registers hold, before scale and offset (bitfields: their integer value)."""
    _check_length(metric, len(registers))
    byte_order, word_order = orders(metric, spec)
    data = registers_to_bytes(registers, byte_order, word_order)
    if metric.type is DataType.bitfield:
        return int.from_bytes(data, "big")
    fmt = _FORMATS.get(metric.type)
    if fmt is None:
        raise DecodeError(f"{metric.name}: a {metric.type.value} is not a number")
    raw: int | float = struct.unpack(fmt, data)[0]
    return raw


def decode_metric(metric: ModbusMetric, values: Sequence[int] | Sequence[bool], spec: ModbusSpec) -> float:
    """Registers (or bits for coil/discrete tables) → the metric's value in its unit.

    Raises :class:`DecodeError` for a wrong number of registers, a NaN or infinite float, or a
    string metric (use :func:`decode_text`).
    """
    if metric.type is DataType.bool:
        _check_length(metric, len(values))
        return 1.0 if values[0] else 0.0
    if metric.type is DataType.string:
        raise DecodeError(f"{metric.name}: a string is not a numeric reading; use decode_text")
    raw = decode_raw(metric, [int(v) for v in values], spec)
    if metric.type is DataType.bitfield:
        return float(raw)
    value = _at_resolution(raw * metric.scale + metric.offset, metric.type, resolution(metric))
    if not math.isfinite(value):
        raise DecodeError(f"{metric.name}: the device sent {raw!r}, not a finite number")
    return float(value)


def resolution(metric: ModbusMetric) -> int:
    """Decimal places a metric's value has: its scale's and offset's (a register holds whole steps)."""
    return decimals_of(metric.scale, metric.offset)


def shortest_f32(value: float) -> float:
    """The shortest decimal that is the same float32: 0.1 rather than 0.10000000149011612.

    >>> shortest_f32(struct.unpack(">f", struct.pack(">f", 0.1))[0])
    0.1
    """
    if not math.isfinite(value) or abs(value) > _F32_MAX:
        return value
    wire = struct.pack(">f", value)
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == wire:
            return candidate
    return value


def _at_resolution(value: float, data_type: DataType, decimals: int) -> float:
    # An integer register holds whole steps of ``scale``: anything past its decimals is a binary
    # artefact (412 * 0.001 = 0.41200000000000003). A float32 is shown by its shortest decimal.
    if data_type is DataType.f32:
        return shortest_f32(value)
    if data_type is DataType.f64:
        return value
    return to_resolution(value, decimals) if decimals else value


def set_bits(metric: ModbusMetric, value: float | int) -> list[str]:
    """Names of the flags set in a bitfield's value; unnamed set bits appear as ``bit<n>``.

    >>> from device_registry.profile import ModbusMetric
    >>> set_bits(ModbusMetric(name="f", address=0, type="bitfield", bits={0: "lamp_failure", 4: "door_open"}), 0b10011)
    ['lamp_failure', 'bit1', 'door_open']
    """
    number = int(value)
    names = []
    for bit in range(16 * metric.register_count):
        if number >> bit & 1:
            names.append(metric.bits.get(bit, f"bit{bit}"))
    return names


def _raw_for(metric: ModbusMetric, value: float | int) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise EncodeError(f"{metric.name}: cannot write {value!r}")
    if metric.type is DataType.bitfield:
        raw_bits = int(value)
        if raw_bits != value or not 0 <= raw_bits < 1 << (16 * metric.register_count):
            raise EncodeError(f"{metric.name}: {value!r} does not fit a {metric.register_count}-register bitfield")
        return raw_bits
    if isinstance(value, int) and metric.scale == 1 and metric.offset == 0:
        raw: int | float = value  # a Python int keeps all 64 bits; a float would keep 53
    else:
        raw = (value - metric.offset) / metric.scale
    if metric.type in _FLOATS:
        return float(raw)
    raw = round(raw)
    low, high = _RANGES[metric.type]
    if not low <= raw <= high:
        lowest, highest = sorted((low * metric.scale + metric.offset, high * metric.scale + metric.offset))
        raise EncodeError(f"{metric.name}: {show(value)} is outside {metric.type.value} "
                          f"(scale {show(metric.scale)}, offset {show(metric.offset)}): "
                          f"{show(lowest)}..{show(highest)}")
    return raw


def encode_metric(metric: ModbusMetric, value: float | int, spec: ModbusSpec) -> list[int] | list[bool]:
    """A value in the metric's unit → the registers (or the one bit) that carry it.

    Integer types round to the nearest step of ``scale``; ``decode_metric(encode_metric(v))`` is
    the value the device will hold. A Python ``int`` for an unscaled 64-bit type is written
    exactly (a float carries 53 bits). Raises :class:`EncodeError` when the value does not fit.
    """
    if metric.type is DataType.bool:
        if value not in (0, 1):
            raise EncodeError(f"{metric.name}: a bool takes 0 or 1, not {value!r}")
        return [bool(value)]
    if metric.type is DataType.string:
        raise EncodeError(f"{metric.name}: a string takes text; use encode_text")
    raw = _raw_for(metric, value)
    byte_order, word_order = orders(metric, spec)
    if metric.type is DataType.bitfield:
        data = int(raw).to_bytes(2 * metric.register_count, "big")
    else:
        try:
            data = struct.pack(_FORMATS[metric.type], raw)
        except (struct.error, OverflowError):
            raise EncodeError(f"{metric.name}: {show(value)} does not fit a {metric.type.value}") from None
    return bytes_to_registers(data, byte_order, word_order)


def decode_text(metric: ModbusMetric, registers: Sequence[int], spec: ModbusSpec) -> str:
    """A string metric's registers → text (two characters a register, NULs and trailing blanks cut)."""
    if metric.type is not DataType.string:
        raise DecodeError(f"{metric.name}: a {metric.type.value} is not text")
    _check_length(metric, len(registers))
    byte_order, _ = orders(metric, spec)
    data = registers_to_bytes(registers, byte_order, "big").split(b"\x00", 1)[0]
    try:
        return data.decode("utf-8").rstrip()
    except UnicodeDecodeError:
        raise DecodeError(f"{metric.name}: the device sent bytes that are not UTF-8 text: {data!r}") from None


def encode_text(metric: ModbusMetric, text: str, spec: ModbusSpec) -> list[int]:
    """Text → a string metric's registers, NUL-padded; :class:`EncodeError` when it is too long."""
    if metric.type is not DataType.string:
        raise EncodeError(f"{metric.name}: a {metric.type.value} does not take text")
    data = text.encode("utf-8")
    size = 2 * metric.register_count
    if len(data) > size:
        raise EncodeError(f"{metric.name}: {len(data)} bytes of text do not fit {metric.register_count} registers")
    byte_order, _ = orders(metric, spec)
    return bytes_to_registers(data.ljust(size, b"\x00"), byte_order, "big")


@dataclass(frozen=True, slots=True)
class BlockValues:
    """A block's metrics decoded: numbers, bitfields (also in ``values``), texts, and per-metric errors."""

    values: dict[str, float]
    bitfields: dict[str, int]
    texts: dict[str, str]
    errors: dict[str, str]


class BlockDecoder:
    """Decodes every metric of one read block at once, the same as :func:`decode_metric` metric by metric.

    Polling decodes the same blocks over and over, so the work that depends only on the profile
    (struct formats, offsets, orders) is done once here. Metrics in the Modbus convention (high
    byte and high word first) are unpacked straight from the block's bytes; the others go through
    :func:`decode_metric`.

    >>> from device_registry.profile import ModbusMetric, ModbusSpec
    >>> volts = ModbusMetric(name="supply_voltage_v", table="input", address=0, scale=0.1)
    >>> power = ModbusMetric(name="power_w", table="input", address=2, type="f32")
    >>> decoder = BlockDecoder((volts, power), 0, 4, ModbusSpec(metrics=(volts, power)))
    >>> decoder.decode([2314, 0, 0x42F7, 0]).values
    {'supply_voltage_v': 231.4, 'power_w': 123.5}
    """

    def __init__(self, metrics: Sequence[ModbusMetric], address: int, count: int, spec: ModbusSpec) -> None:
        self._pack = struct.Struct(f">{count}H")
        self._fast: list[tuple[str, struct.Struct | None, int, int, float, float]] = []
        self._slow: list[tuple[ModbusMetric, slice]] = []
        self._resolution: dict[str, tuple[DataType, int]] = {}
        for metric in metrics:
            start = metric.address - address
            byte_order, word_order = orders(metric, spec)
            conventional = byte_order == "big" and (word_order == "big" or metric.register_count == 1)
            if metric.table.is_bits or not conventional or metric.type in (DataType.string, DataType.bool):
                self._slow.append((metric, slice(start, start + metric.register_count)))
            elif metric.type is DataType.bitfield:
                self._fast.append((metric.name, None, 2 * start, 2 * metric.register_count, 1.0, 0.0))
            else:
                self._fast.append((metric.name, struct.Struct(_FORMATS[metric.type]), 2 * start, 0,
                                   metric.scale, metric.offset))
                self._resolution[metric.name] = (metric.type, resolution(metric))
        self._spec = spec

    def decode(self, registers: Sequence[int] | Sequence[bool]) -> BlockValues:
        values: dict[str, float] = {}
        bitfields: dict[str, int] = {}
        texts: dict[str, str] = {}
        errors: dict[str, str] = {}
        if self._fast:
            try:
                data = self._pack.pack(*registers)
            except struct.error:
                raise DecodeError(f"a block of {self._pack.size // 2} registers got {len(registers)} "
                                  f"values or one outside 0..65535") from None
            for name, fmt, at, width, scale, offset in self._fast:
                if fmt is None:
                    bitfields[name] = number = int.from_bytes(data[at:at + width], "big")
                    values[name] = float(number)
                    continue
                raw = fmt.unpack_from(data, at)[0]
                value = raw * scale + offset
                if scale != 1.0 or offset != 0.0 or fmt.format == _F32_FORMAT:
                    value = _at_resolution(value, *self._resolution[name])
                if math.isfinite(value):
                    values[name] = float(value)
                else:
                    errors[name] = f"{name}: the device sent {raw!r}, not a finite number"
        for metric, part in self._slow:
            try:
                if metric.type is DataType.string:
                    texts[metric.name] = decode_text(metric, [int(v) for v in registers[part]], self._spec)
                else:
                    values[metric.name] = decode_metric(metric, registers[part], self._spec)
                    if metric.type is DataType.bitfield:
                        bitfields[metric.name] = int(values[metric.name])
            except DecodeError as exc:
                errors[metric.name] = str(exc)
        return BlockValues(values, bitfields, texts, errors)
