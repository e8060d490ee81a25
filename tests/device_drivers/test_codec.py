from __future__ import annotations

import math
import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.errors import DecodeError, EncodeError
from device_drivers.modbus.codec import (
    BlockDecoder,
    decode_metric,
    decode_raw,
    decode_text,
    encode_metric,
    encode_text,
    set_bits,
)
from device_registry.profile import DataType, ModbusMetric, ModbusSpec, Order

BIG: ModbusSpec = ModbusSpec(metrics=(ModbusMetric(name="x", address=0),))


def metric(type_: str, **kw: object) -> ModbusMetric:
    return ModbusMetric(name="m", address=0, type=type_, **kw)  # type: ignore[arg-type]


def spec(byte_order: Order = "big", word_order: Order = "big") -> ModbusSpec:
    return ModbusSpec(byte_order=byte_order, word_order=word_order, metrics=(ModbusMetric(name="x", address=0),))


# (type, byte order, word order, registers on the wire, value) — worked out by hand from the
# Modbus convention: 0x12345678 as u32 big/big is [0x1234, 0x5678].
TABLE: list[tuple[str, Order, Order, list[int], float]] = [
    ("u16", "big", "big", [0x1234], 0x1234),
    ("u16", "little", "big", [0x3412], 0x1234),
    ("i16", "big", "big", [0xFFFE], -2),
    ("i16", "big", "big", [0x8000], -32768),
    ("u32", "big", "big", [0x1234, 0x5678], 0x12345678),
    ("u32", "big", "little", [0x5678, 0x1234], 0x12345678),
    ("u32", "little", "big", [0x3412, 0x7856], 0x12345678),
    ("u32", "little", "little", [0x7856, 0x3412], 0x12345678),
    ("i32", "big", "big", [0xFFFF, 0xFFFF], -1),
    ("i32", "big", "little", [0xFFFE, 0xFFFF], -2),
    ("f32", "big", "big", [0x42F7, 0x0000], 123.5),
    ("f32", "big", "little", [0x0000, 0x42F7], 123.5),
    ("f32", "big", "big", [0xC148, 0x0000], -12.5),
    ("u64", "big", "big", [0x0001, 0x0002, 0x0003, 0x0004], 0x0001000200030004),
    ("u64", "big", "little", [0x0004, 0x0003, 0x0002, 0x0001], 0x0001000200030004),
    ("i64", "big", "big", [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFD], -3),
    ("f64", "big", "big", [0x4009, 0x21FB, 0x5444, 0x2D18], math.pi),
    ("f64", "little", "little", [0x182D, 0x4454, 0xFB21, 0x0940], math.pi),
]


@pytest.mark.parametrize(("type_", "byte_order", "word_order", "registers", "value"), TABLE)
def test_decode_and_encode_by_hand(type_: str, byte_order: Order, word_order: Order, registers: list[int],
                                   value: float) -> None:
    m = metric(type_)
    s = spec(byte_order, word_order)
    assert decode_metric(m, registers, s) == value
    assert encode_metric(m, value, s) == registers


def test_metric_orders_override_the_spec() -> None:
    m = metric("u32", word_order="little")
    assert decode_metric(m, [0x5678, 0x1234], spec("big", "big")) == 0x12345678
    m = metric("u16", byte_order="big")
    assert decode_metric(m, [0x1234], spec("little", "little")) == 0x1234


@pytest.mark.parametrize(("type_", "scale", "offset", "registers", "value"), [
    ("u16", 0.1, 0.0, [2314], 231.4),  # the lamp's supply voltage
    ("i16", 0.1, 0.0, [0xFF9C], -10.0),  # -10.0 °C
    ("u16", 0.01, -40.0, [5000], 10.0),
    ("u32", 0.01, 0.0, [0x0001, 0x86A0], 1000.0),  # 100000 × 0.01 kWh
])
def test_scale_and_offset(type_: str, scale: float, offset: float, registers: list[int], value: float) -> None:
    m = metric(type_, scale=scale, offset=offset)
    assert decode_metric(m, registers, BIG) == pytest.approx(value)
    assert encode_metric(m, value, BIG) == registers


def test_bool_and_bitfield() -> None:
    relay = ModbusMetric(name="relay_on", table="coil", address=0, type=DataType.bool)
    assert decode_metric(relay, [True], BIG) == 1.0
    assert encode_metric(relay, 0, BIG) == [False]
    with pytest.raises(EncodeError, match="0 or 1"):
        encode_metric(relay, 2, BIG)
    faults = metric("bitfield", bits={0: "lamp_failure", 4: "door_open"}, scale=10.0)
    value = decode_metric(faults, [0b10001], BIG)
    assert value == 17.0  # the integer value: a bitfield ignores scale
    assert set_bits(faults, value) == ["lamp_failure", "door_open"]
    wide = metric("bitfield", count=2, word_order="little", bits={16: "high"})
    assert decode_raw(wide, [0x0000, 0x0001], BIG) == 1 << 16
    assert set_bits(wide, 1 << 16) == ["high"]
    assert encode_metric(wide, 1 << 16, BIG) == [0, 1]


def test_strings_are_text_not_readings() -> None:
    serial = metric("string", count=4)
    registers = encode_text(serial, "SLC-1", BIG)
    assert registers == [0x534C, 0x432D, 0x3100, 0x0000]
    assert decode_text(serial, registers, BIG) == "SLC-1"
    assert decode_text(serial, registers, BIG) == decode_text(metric("string", count=4), registers, BIG)
    swapped = metric("string", count=4, byte_order="little")
    assert decode_text(swapped, [0x4C53, 0x2D43, 0x0031, 0], BIG) == "SLC-1"
    with pytest.raises(DecodeError, match="not a numeric reading"):
        decode_metric(serial, registers, BIG)
    with pytest.raises(EncodeError, match="do not fit"):
        encode_text(serial, "too long for eight", BIG)
    with pytest.raises(DecodeError, match="not UTF-8"):
        decode_text(serial, [0xFFFE, 0, 0, 0], BIG)


@pytest.mark.parametrize(("type_", "registers", "match"), [
    ("u32", [1], "needs 2 register"),
    ("u16", [1, 2], "needs 1 register"),
    ("f32", [0x7FC0, 0x0000], "not a finite number"),  # NaN
    ("f32", [0x7F80, 0x0000], "not a finite number"),  # +inf
    ("u16", [70000], "0..65535"),
])
def test_bad_registers_raise_decode_error(type_: str, registers: list[int], match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode_metric(metric(type_), registers, BIG)


@pytest.mark.parametrize(("type_", "value", "match"), [
    ("u16", 65536, "outside u16"),
    ("u16", -1, "outside u16"),
    ("i16", 40000, "outside i16"),
    ("u32", math.nan, "cannot write"),
    ("f32", 1e39, "does not fit a f32"),
    ("bitfield", 1.5, "does not fit"),
])
def test_values_that_do_not_fit_raise_encode_error(type_: str, value: float, match: str) -> None:
    with pytest.raises(EncodeError, match=match):
        encode_metric(metric(type_), value, BIG)


def test_integer_types_round_to_the_scale_step() -> None:
    volts = metric("u16", scale=0.1)
    assert encode_metric(volts, 230.04, BIG) == [2300]
    assert encode_metric(volts, 23.0, BIG) == [230]  # 23.0 / 0.1 is 229.99999999999997 in floats


# -- property tests: encode → decode round trips ---------------------------------------------------

INT_TYPES = {"u16": (0, 2**16 - 1), "i16": (-(2**15), 2**15 - 1), "u32": (0, 2**32 - 1),
             "i32": (-(2**31), 2**31 - 1), "u64": (0, 2**64 - 1), "i64": (-(2**63), 2**63 - 1)}
orders_st = st.sampled_from(["big", "little"])


@st.composite
def int_case(draw: st.DrawFn) -> tuple[ModbusMetric, ModbusSpec, int]:
    type_ = draw(st.sampled_from(sorted(INT_TYPES)))
    low, high = INT_TYPES[type_]
    m = metric(type_, byte_order=draw(st.none() | orders_st), word_order=draw(st.none() | orders_st))
    return m, spec(draw(orders_st), draw(orders_st)), draw(st.integers(low, high))


@given(int_case())
def test_integers_round_trip(case: tuple[ModbusMetric, ModbusSpec, int]) -> None:
    m, s, raw = case
    registers = encode_metric(m, raw, s)
    assert len(registers) == m.register_count
    assert all(0 <= int(r) <= 0xFFFF for r in registers)
    assert decode_raw(m, [int(r) for r in registers], s) == raw


@given(st.sampled_from(sorted(INT_TYPES)), st.integers(-(2**15), 2**15 - 1),
       st.sampled_from([0.1, 0.01, 0.001, 1.0, 10.0]), st.sampled_from([0.0, -40.0, 273.15]))
def test_scaled_registers_round_trip(type_: str, raw: int, scale: float, offset: float) -> None:
    low, high = INT_TYPES[type_]
    raw = min(max(raw, low), high)
    m = metric(type_, scale=scale, offset=offset)
    registers = [int(r) for r in encode_metric(m, raw * scale + offset, BIG)]
    value = decode_metric(m, registers, BIG)
    assert encode_metric(m, value, BIG) == registers  # the device's value survives a write
    assert decode_raw(m, registers, BIG) == raw


def _significant_digits(x: float) -> int:
    return len(Decimal(repr(x)).normalize().as_tuple().digits)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False), orders_st, orders_st)
def test_f32_round_trips_exactly(value: float, byte_order: Order, word_order: Order) -> None:
    m = metric("f32")
    s = spec(byte_order, word_order)
    registers = [int(r) for r in encode_metric(m, value, s)]
    decoded = decode_metric(m, registers, s)  # the shortest decimal of the same float32
    assert struct.pack(">f", decoded) == struct.pack(">f", value) or decoded == value == 0  # -0.0 reads as 0
    assert _significant_digits(decoded) <= _significant_digits(value)  # never longer than the value written
    # and the bytes on the wire are IEEE 754, whatever the order
    wire = struct.pack(">f", value)
    words = [int.from_bytes(wire[0:2], "big"), int.from_bytes(wire[2:4], "big")]
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    assert registers == (words if word_order == "big" else words[::-1])


@given(st.floats(allow_nan=False, allow_infinity=False), orders_st, orders_st)
def test_f64_round_trips_exactly(value: float, byte_order: Order, word_order: Order) -> None:
    m = metric("f64")
    s = spec(byte_order, word_order)
    assert decode_metric(m, [int(r) for r in encode_metric(m, value, s)], s) == value


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16), orders_st)
def test_text_round_trips(text: str, byte_order: Order) -> None:
    m = metric("string", count=8, byte_order=byte_order)
    assert decode_text(m, encode_text(m, text, BIG), BIG) == text


# -- the block decoder used by polling agrees with decode_metric --------------------------------------

@st.composite
def block_case(draw: st.DrawFn) -> tuple[list[ModbusMetric], ModbusSpec, list[int]]:
    metrics, address = [], draw(st.integers(0, 5))
    start = address
    for i in range(draw(st.integers(1, 8))):
        type_ = draw(st.sampled_from(["u16", "i16", "u32", "i32", "f32", "u64", "i64", "f64", "bitfield", "string"]))
        count = draw(st.integers(1, 3)) if type_ in ("bitfield", "string") else None
        metrics.append(ModbusMetric(
            name=f"m{i}", table="input", address=address, type=type_, count=count,  # type: ignore[arg-type]
            byte_order=draw(st.none() | orders_st), word_order=draw(st.none() | orders_st),
            scale=draw(st.sampled_from([1.0, 0.1, 0.001])), offset=draw(st.sampled_from([0.0, -40.0]))))
        address = metrics[-1].end + draw(st.integers(0, 2))
    s = spec(draw(orders_st), draw(orders_st))
    registers = draw(st.lists(st.integers(0, 0xFFFF), min_size=address - start, max_size=address - start))
    return metrics, s, registers


@given(block_case())
def test_block_decoder_agrees_with_decode_metric(case: tuple[list[ModbusMetric], ModbusSpec, list[int]]) -> None:
    metrics, s, registers = case
    start = metrics[0].address
    got = BlockDecoder(metrics, start, len(registers), s).decode(registers)
    for m in metrics:
        part = registers[m.address - start:m.end - start]
        if m.type is DataType.string:
            try:
                text = decode_text(m, part, s)
            except DecodeError:
                assert m.name in got.errors and m.name not in got.texts
                continue
            assert got.texts[m.name] == text
            continue
        try:
            expected = decode_metric(m, part, s)
        except DecodeError:
            assert m.name in got.errors and m.name not in got.values
            continue
        assert got.values[m.name] == expected
        if m.type is DataType.bitfield:
            assert got.bitfields[m.name] == int(expected)
