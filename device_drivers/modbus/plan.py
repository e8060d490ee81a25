"""Which requests read a profile's metrics: neighbours coalesced into as few reads as the device allows.

Per table, metrics are sorted by address and merged into one block while the block stays within
``max_registers_per_read`` (125 for registers, 2000 for bits, by the Modbus specification) and the
unmapped registers between two metrics are at most ``max_gap`` (many devices answer
"illegal data address" to a read that spans registers they do not map; ``max_gap = 0`` then).

>>> from device_registry.profile import shipped_profiles
>>> spec = shipped_profiles()["sw-lamp-controller"].modbus
>>> [(b.table.value, b.address, b.count) for b in plan_reads(spec)]
[('holding', 0, 12), ('input', 0, 11), ('coil', 0, 1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from device_registry.profile import MAX_BITS_PER_READ, ModbusMetric, ModbusSpec, RegisterTable

# Tables in the order a poll reads them: measurements first, then settings, then bits.
_TABLE_ORDER = (RegisterTable.holding, RegisterTable.input, RegisterTable.coil, RegisterTable.discrete)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address``, and what they carry."""

    table: RegisterTable
    address: int
    count: int
    metrics: tuple[ModbusMetric, ...]

    @property
    def end(self) -> int:
        return self.address + self.count

    def slice_for(self, metric: ModbusMetric) -> slice:
        """Where ``metric``'s registers sit in this block's response."""
        start = metric.address - self.address
        return slice(start, start + metric.register_count)


def plan_reads(spec: ModbusSpec, metrics: Sequence[ModbusMetric] | None = None) -> list[ReadBlock]:
    """Coalesce ``metrics`` (default: all of the spec's) into read blocks, table by table."""
    chosen = spec.metrics if metrics is None else metrics
    blocks: list[ReadBlock] = []
    for table in _TABLE_ORDER:
        in_table = sorted((m for m in chosen if m.table is table), key=lambda m: m.address)
        limit = MAX_BITS_PER_READ if table.is_bits else spec.max_registers_per_read
        blocks += _coalesce(table, in_table, limit, spec.max_gap)
    return blocks


def _coalesce(table: RegisterTable, metrics: list[ModbusMetric], limit: int, max_gap: int) -> list[ReadBlock]:
    blocks: list[ReadBlock] = []
    group: list[ModbusMetric] = []
    start = end = 0
    for metric in metrics:
        if group and metric.address - end <= max_gap and max(end, metric.end) - start <= limit:
            group.append(metric)
            end = max(end, metric.end)
            continue
        if group:
            blocks.append(ReadBlock(table, start, end - start, tuple(group)))
        group, start, end = [metric], metric.address, metric.end
    if group:
        blocks.append(ReadBlock(table, start, end - start, tuple(group)))
    return blocks
