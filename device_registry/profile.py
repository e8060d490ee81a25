"""Device profiles: what a device model exposes, as data an installer can write (TOML or YAML).

A Modbus profile maps each metric to registers (table, address, type, byte/word order, scale,
offset, unit); an MQTT profile maps a JSON payload to metrics. Both may add derived metrics
(``water_level_mm = mounting_height_mm - distance_mm``) and declare the commands they accept.

:func:`check_profile` reports *every* problem with its location; :func:`load_profile` raises
:class:`ProfileError` carrying them all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streetwatch.datafile import DataFileError, parse_mapping
from streetwatch.expressions import Expression, ExpressionError

SHIPPED_PROFILES_DIR = Path(__file__).parent / "profiles"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
METRIC_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_REGISTERS_PER_READ = 125  # Modbus limit for function codes 3 and 4
MAX_BITS_PER_READ = 2000  # Modbus limit for function codes 1 and 2


class RegisterTable(StrEnum):
    holding = "holding"
    input = "input"
    coil = "coil"
    discrete = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (RegisterTable.coil, RegisterTable.discrete)


class DataType(StrEnum):
    u16 = "u16"
    i16 = "i16"
    u32 = "u32"
    i32 = "i32"
    f32 = "f32"
    u64 = "u64"
    i64 = "i64"
    f64 = "f64"
    bitfield = "bitfield"
    string = "string"
    bool = "bool"


# Registers each fixed-size type occupies; bitfield and string take ``count``.
REGISTER_COUNT: dict[DataType, int] = {
    DataType.u16: 1, DataType.i16: 1, DataType.u32: 2, DataType.i32: 2, DataType.f32: 2,
    DataType.u64: 4, DataType.i64: 4, DataType.f64: 4, DataType.bool: 1,
}

Order = Literal["big", "little"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusMetric(_Strict):
    """One metric read from registers. ``value = raw * scale + offset``."""

    name: str
    table: RegisterTable = RegisterTable.holding
    address: int = Field(ge=0, le=65535)
    type: DataType = DataType.u16
    count: int | None = Field(None, ge=1, le=125, description="registers; required for string, bitfield")
    byte_order: Order | None = None
    word_order: Order | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    writable: bool = False
    min: float | None = Field(None, description="lowest plausible value (commissioning flags others)")
    max: float | None = Field(None, description="highest plausible value")
    bits: dict[int, str] = Field(default_factory=dict, description="bitfield: bit number → flag name")
    description: str = ""

    @property
    def register_count(self) -> int:
        if self.count is not None:
            return self.count
        return REGISTER_COUNT.get(self.type, 1)

    @property
    def end(self) -> int:
        """One past the last register (or bit) this metric occupies."""
        return self.address + self.register_count


class ScheduleTable(_Strict):
    """An on-device schedule: ``slots`` entries of (minute of day, dim level %) in holding registers."""

    address: int = Field(ge=0, le=65535)
    slots: int = Field(ge=1, le=60)
    count_address: int = Field(ge=0, le=65535, description="holding register with the number of slots in use")


class ModbusSpec(_Strict):
    byte_order: Order = "big"
    word_order: Order = "big"
    max_registers_per_read: int = Field(MAX_REGISTERS_PER_READ, ge=1, le=MAX_REGISTERS_PER_READ)
    max_gap: int = Field(8, ge=0, description="unmapped registers a coalesced read may span")
    metrics: tuple[ModbusMetric, ...]
    schedule_table: ScheduleTable | None = None


class MqttMetric(_Strict):
    """One metric taken from a JSON payload. ``path`` is dotted (``data.level``); default: the name."""

    name: str
    path: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    min: float | None = None
    max: float | None = None
    description: str = ""

    @property
    def json_path(self) -> str:
        return self.path or self.name


class MqttSpec(_Strict):
    timestamp_path: str = Field("ts", description="dotted path of the timestamp (ISO-8601 or epoch ms)")
    metrics: tuple[MqttMetric, ...]


class DerivedMetric(_Strict):
    """A metric computed from others of the same reading, e.g. level from distance."""

    name: str
    expression: str
    unit: str = ""
    min: float | None = None
    max: float | None = None


class CommandSpec(_Strict):
    """How a device carries out an action: Modbus writes ``metric`` (then reads it back); MQTT publishes."""

    metric: str | None = None
    min: float | None = None
    max: float | None = None


class Profile(_Strict):
    name: str
    kind: str
    transport: Literal["modbus", "mqtt"]
    description: str = ""
    manufacturer: str = ""
    model: str = ""
    modbus: ModbusSpec | None = None
    mqtt: MqttSpec | None = None
    derived: tuple[DerivedMetric, ...] = ()
    commands: dict[str, CommandSpec] = Field(default_factory=dict)

    def metric_names(self) -> list[str]:
        base: list[str] = []
        if self.modbus:
            base = [m.name for m in self.modbus.metrics]
        elif self.mqtt:
            base = [m.name for m in self.mqtt.metrics]
        return base + [d.name for d in self.derived]

    def unit_of(self, metric: str) -> str:
        for m in self.iter_metrics():
            if m.name == metric:
                return m.unit
        return ""

    def iter_metrics(self) -> Iterator[ModbusMetric | MqttMetric | DerivedMetric]:
        if self.modbus:
            yield from self.modbus.metrics
        if self.mqtt:
            yield from self.mqtt.metrics
        yield from self.derived

    def plausible_range(self, metric: str) -> tuple[float | None, float | None]:
        for m in self.iter_metrics():
            if m.name == metric:
                return m.min, m.max
        return None, None


class ProfileError(ValueError):
    """A profile file has problems; ``problems`` lists each as ``location: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _loc(parts: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """``modbus.metrics[3].type`` → ``modbus.metrics[3] (power_w).type`` so the reader finds it."""
    out = ""
    node: Any = data
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            if isinstance(node, list) and part < len(node):
                node = node[part]
                if isinstance(node, dict) and "name" in node:
                    out += f" ({node['name']})"
            continue
        out += f".{part}" if out else str(part)
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return out or "(profile)"


def _semantic_problems(profile: Profile) -> list[str]:
    problems: list[str] = []
    if not NAME_PATTERN.match(profile.name):
        problems.append(f"name: {profile.name!r} must be lower-case letters, digits, '.', '_', '-' (≤ 64)")
    if profile.transport == "modbus" and profile.modbus is None:
        problems.append("modbus: a modbus profile needs a [modbus] section with metrics")
    if profile.transport == "mqtt" and profile.mqtt is None:
        problems.append("mqtt: an mqtt profile needs an [mqtt] section with metrics")
    seen: dict[str, str] = {}
    for where, metric in _named_metrics(profile):
        if not METRIC_PATTERN.match(metric.name):
            problems.append(f"{where}.name: {metric.name!r} must be lower_snake_case")
        if metric.name in seen:
            problems.append(f"{where}.name: {metric.name!r} is already defined at {seen[metric.name]}")
        seen.setdefault(metric.name, where)
        if metric.min is not None and metric.max is not None and metric.min > metric.max:
            problems.append(f"{where}: min {metric.min} is above max {metric.max}")
    if profile.modbus:
        problems += _modbus_problems(profile.modbus)
    known = set(seen)
    for i, derived in enumerate(profile.derived):
        where = f"derived[{i}] ({derived.name})"
        try:
            expr = Expression.parse(derived.expression)
        except ExpressionError as exc:
            problems.append(f"{where}.expression: {exc}")
            continue
        unknown = expr.names - known
        if unknown:
            problems.append(f"{where}.expression: unknown metric(s) {', '.join(sorted(unknown))}")
    for action, spec in profile.commands.items():
        where = f"commands.{action}"
        if profile.transport == "modbus" and profile.modbus is not None:
            target = next((m for m in profile.modbus.metrics if m.name == spec.metric), None)
            schedule_action = action in ("set_schedule", "clear_schedule") and profile.modbus.schedule_table
            if spec.metric is None:
                if not schedule_action:
                    problems.append(f"{where}.metric: a Modbus command must name the writable metric it writes")
            elif target is None:
                problems.append(f"{where}.metric: no metric named {spec.metric!r}")
            elif not target.writable:
                problems.append(f"{where}.metric: {spec.metric!r} is not writable")
    return problems


def _named_metrics(profile: Profile) -> Iterator[tuple[str, ModbusMetric | MqttMetric | DerivedMetric]]:
    if profile.modbus:
        for i, m in enumerate(profile.modbus.metrics):
            yield f"modbus.metrics[{i}] ({m.name})", m
    if profile.mqtt:
        for i, mq in enumerate(profile.mqtt.metrics):
            yield f"mqtt.metrics[{i}] ({mq.name})", mq
    for i, d in enumerate(profile.derived):
        yield f"derived[{i}] ({d.name})", d


def _modbus_problems(spec: ModbusSpec) -> list[str]:
    problems: list[str] = []
    for i, m in enumerate(spec.metrics):
        where = f"modbus.metrics[{i}] ({m.name})"
        fixed = REGISTER_COUNT.get(m.type)
        if m.table.is_bits and m.type is not DataType.bool:
            problems.append(f"{where}.type: {m.table.value} holds single bits; use type 'bool', not {m.type.value!r}")
        if not m.table.is_bits and m.type is DataType.bool:
            problems.append(f"{where}.type: 'bool' is for coil or discrete tables; use u16 or bitfield")
        if m.type is DataType.string and m.count is None:
            problems.append(f"{where}.count: a string needs a register count")
        if fixed is not None and m.count is not None and m.count != fixed:
            problems.append(f"{where}.count: {m.type.value} takes {fixed} register(s), not {m.count}")
        if m.bits and m.type is not DataType.bitfield:
            problems.append(f"{where}.bits: only a bitfield has named bits")
        for bit in m.bits:
            if not 0 <= bit < 16 * m.register_count:
                problems.append(f"{where}.bits: bit {bit} is outside the field's {16 * m.register_count} bits")
        if m.end > 65536:
            problems.append(f"{where}.address: runs past register 65535")
        if m.register_count > spec.max_registers_per_read:
            problems.append(f"{where}.count: {m.register_count} registers exceed one read "
                            f"({spec.max_registers_per_read})")
    by_table: dict[RegisterTable, list[tuple[int, ModbusMetric]]] = {}
    for i, m in enumerate(spec.metrics):
        by_table.setdefault(m.table, []).append((i, m))
    for table, items in by_table.items():
        items.sort(key=lambda item: item[1].address)
        for (i, a), (j, b) in itertools.pairwise(items):
            if b.address < a.end:
                problems.append(
                    f"modbus.metrics[{j}] ({b.name}).address: {table.value} register {b.address} overlaps "
                    f"modbus.metrics[{i}] ({a.name}) at {a.address}..{a.end - 1}")
    return problems


def check_profile(data: Mapping[str, Any]) -> tuple[Profile | None, list[str]]:
    """Validate raw profile data; return the profile (if it parsed) and every problem found."""
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            elif error["type"] == "enum":
                message = f"unknown value {error.get('input')!r}: {message.lower()}"
            problems.append(f"{_loc(tuple(error['loc']), data)}: {message}")
        return None, problems
    problems = _semantic_problems(profile)
    return (profile if not problems else None), problems


def read_profile_data(path: Path) -> dict[str, Any]:
    """Parse a profile file (``.toml``, ``.yaml`` or ``.yml``) into raw data."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return parse_profile_text(text, path.suffix.lower(), str(path))


def parse_profile_text(text: str, suffix: str, source: str) -> dict[str, Any]:
    try:
        return parse_mapping(text, suffix)
    except DataFileError as exc:
        raise ProfileError(source, [str(exc)]) from None


def load_profile(path: Path) -> Profile:
    data = read_profile_data(path)
    profile, problems = check_profile(data)
    if profile is None:
        raise ProfileError(str(path), problems)
    return profile


def shipped_profiles() -> dict[str, Profile]:
    """The profiles that ship with Streetwatch, by name."""
    profiles = {}
    for path in sorted(SHIPPED_PROFILES_DIR.glob("*.toml")):
        profile = load_profile(path)
        profiles[profile.name] = profile
    return profiles
