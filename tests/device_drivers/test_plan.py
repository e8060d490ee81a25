from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.modbus.plan import plan_reads
from device_registry.profile import ModbusMetric, ModbusSpec, Profile, RegisterTable


def m(name: str, address: int, type_: str = "u16", table: str = "holding", **kw: object) -> ModbusMetric:
    return ModbusMetric(name=name, address=address, type=type_, table=table, **kw)  # type: ignore[arg-type]


def test_lamp_profile_needs_three_requests(lamp: Profile) -> None:
    assert lamp.modbus is not None
    blocks = plan_reads(lamp.modbus)
    assert [(b.table, b.address, b.count) for b in blocks] == [
        (RegisterTable.holding, 0, 12), (RegisterTable.input, 0, 11), (RegisterTable.coil, 0, 1)]
    assert [x.name for x in blocks[1].metrics][:3] == ["supply_voltage_v", "lamp_current_a", "power_w"]
    assert blocks[1].slice_for(blocks[1].metrics[2]) == slice(2, 4)


def test_gap_larger_than_max_gap_splits() -> None:
    spec = ModbusSpec(max_gap=3, metrics=(m("a", 0), m("b", 4), m("c", 9, "u32")))
    assert [(b.address, b.count) for b in plan_reads(spec)] == [(0, 5), (9, 2)]
    strict = ModbusSpec(max_gap=0, metrics=(m("a", 0), m("b", 1), m("c", 3)))
    assert [(b.address, b.count) for b in plan_reads(strict)] == [(0, 2), (3, 1)]


def test_block_size_limit_is_respected() -> None:
    metrics = tuple(m(f"m{i}", i * 2, "f32", table="input") for i in range(100))  # 200 registers, no gaps
    blocks = plan_reads(ModbusSpec(metrics=metrics))
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 76)]  # an f32 is never split
    small = plan_reads(ModbusSpec(max_registers_per_read=10, metrics=metrics))
    assert all(b.count <= 10 for b in small) and len(small) == 20


def test_tables_are_never_mixed() -> None:
    spec = ModbusSpec(metrics=(m("a", 0), m("b", 0, table="input"), m("c", 1, "bool", table="discrete"),
                               m("d", 3, "bool", table="coil")))
    assert [(b.table.value, b.address, b.count) for b in plan_reads(spec)] == [
        ("holding", 0, 1), ("input", 0, 1), ("coil", 3, 1), ("discrete", 1, 1)]


@given(st.lists(st.tuples(st.integers(0, 400), st.sampled_from(["u16", "u32", "f64"])), min_size=1, max_size=40,
                unique_by=lambda t: t[0]),
       st.integers(0, 10), st.integers(4, 125))
def test_every_metric_is_read_once_within_limits(items: list[tuple[int, str]], max_gap: int, limit: int) -> None:
    # lay the metrics out without overlaps
    metrics, end = [], 0
    for i, (address, type_) in enumerate(sorted(items)):
        start = max(address, end)
        metric = m(f"m{i}", start, type_)
        metrics.append(metric)
        end = metric.end
    spec = ModbusSpec(max_gap=max_gap, max_registers_per_read=limit, metrics=tuple(metrics))
    blocks = plan_reads(spec)
    seen = [x.name for b in blocks for x in b.metrics]
    assert sorted(seen) == sorted(x.name for x in metrics)
    for block in blocks:
        assert block.count <= limit
        for x in block.metrics:
            assert block.address <= x.address and x.end <= block.end
        covered = sorted((x.address, x.end) for x in block.metrics)
        for (_, a_end), (b_start, _) in itertools.pairwise(covered):
            assert b_start - a_end <= max_gap
    # coalescing is greedy: two neighbouring blocks could not have been merged
    for a, b in itertools.pairwise(blocks):
        assert b.address - a.end > max_gap or b.end - a.address > limit


@pytest.mark.parametrize("name", ["sw-lamp-controller", "sw-culvert-gauge-modbus", "sw-water-quality-probe"])
def test_shipped_profiles_plan(profiles: dict[str, Profile], name: str) -> None:
    spec = profiles[name].modbus
    assert spec is not None
    assert sum(len(b.metrics) for b in plan_reads(spec)) == len(spec.metrics)
