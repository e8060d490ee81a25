"""Numbers for people: no float artefacts, no exponents, whole numbers whole."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.modbus.codec import decode_metric
from device_drivers.mqtt.payload import json_kind, parse_telemetry
from device_registry.profile import ModbusMetric, ModbusSpec, shipped_profiles
from streetwatch import figures
from streetwatch.figures import decimals_of, show, tidy


def test_examples() -> None:
    assert doctest.testmod(figures).failed == 0


@pytest.mark.parametrize(("scale", "raw", "expected"), [
    (0.001, 412, 0.412), (0.1, 2298, 229.8), (0.01, 123456789, 1234567.89), (0.001, 950, 0.95),
    (0.1, -35, -3.5), (1.0, 1767225600, 1767225600.0),
])
def test_a_scaled_register_decodes_to_its_resolution(scale: float, raw: int, expected: float) -> None:
    metric = ModbusMetric(name="m", address=0, type="u32" if raw > 65535 else "i16" if raw < 0 else "u16",
                          scale=scale)
    registers = [raw >> 16 & 0xFFFF, raw & 0xFFFF] if metric.register_count == 2 else [raw & 0xFFFF]
    value = decode_metric(metric, registers, ModbusSpec(metrics=(metric,)))
    assert value == expected and repr(value) == repr(expected)


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from([0.1, 0.01, 0.001, 0.25, 0.5]))
def test_tidy_never_prints_an_artefact_or_exponent(raw: int, scale: float) -> None:
    value = figures.to_resolution(raw * scale, decimals_of(scale))
    text = show(value)
    assert "e" not in text
    assert len(text.split(".")[1]) <= decimals_of(scale) if "." in text else True
    assert json.loads(json.dumps(tidy(value))) == value


def test_json_kinds_not_python_names() -> None:
    values: tuple[object, ...] = (None, True, 1, 1.5, "x", [], {})
    assert [json_kind(v) for v in values] == [
        "null", "a boolean", "a number", "a number", "a string", "an array", "an object"]
    probe = shipped_profiles()["sw-water-quality-probe-mqtt"]
    parsed = parse_telemetry("WQ-1", b'{"ph": null}', probe, datetime.now(UTC))
    assert [r.detail for r in parsed.rejections] == ["null, not a number"]
    parsed = parse_telemetry("WQ-1", b'[1]', probe, datetime.now(UTC))
    assert [r.detail for r in parsed.rejections] == ["an array, not a JSON object"]
