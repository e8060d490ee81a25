"""Telemetry payloads → readings, as the device's profile maps them (docs/mqtt.md).

The default shape is a flat JSON object, ``{"ts": …, "<metric>": <number>, …}``; a third-party
device's profile maps dotted paths (``data.level_m``) with scale and offset instead. Nothing in a
payload can stop the parse: each problem becomes a :class:`Rejection` with a reason code to store
and count, and every metric that is valid is kept.

>>> from datetime import UTC, datetime
>>> from device_registry.profile import shipped_profiles
>>> gauge = shipped_profiles()["sw-culvert-gauge-mqtt"]
>>> parsed = parse_telemetry("CG-1", b'{"water_level_mm": 412, "battery_v": "low"}', gauge,
...                          datetime(2026, 7, 1, tzinfo=UTC))
>>> [(r.metric, r.value) for r in parsed.readings]
[('water_level_mm', 412.0)]
>>> [(r.reason.value, r.metric) for r in parsed.rejections]
[('wrong_type', 'battery_v')]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec

from device_registry.profile import Profile
from streetwatch.expressions import Expression, ExpressionError
from streetwatch.figures import decimals_of, show, to_resolution
from streetwatch.readings import Reading

_strict_decode = msgspec.json.Decoder().decode
_new_tuple = tuple.__new__


def msgspec_first(payload: bytes) -> Any:
    """A payload's JSON: msgspec's decoder, and the standard one for what msgspec refuses.

    msgspec decodes a telemetry message about 4x faster than :func:`json.loads` (issue #21). It
    takes strict JSON only; the standard parser also takes the non-standard NaN/Infinity some
    devices send (so one bad value costs that metric, not the message), integers of any size,
    UTF-16/32, and gives the error message a rejection carries. So whatever msgspec refuses is
    parsed again by the standard parser, which decides as it always did.
    """
    try:
        return _strict_decode(payload)
    except msgspec.DecodeError:
        return json.loads(payload)


loads: Callable[[bytes], Any] = msgspec_first  # a variable: the payload benchmark swaps parsers in
DEFAULT_MAX_BYTES = 65_536
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(minutes=5)  # the default; the gateway's is mqtt.max_clock_skew_s
_MAX_DEPTH = 8


_JSON_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string"), (list, "an array"),
    (dict, "an object"),
)


def json_kind(value: object) -> str:
    """What a decoded JSON value is, in JSON's words (``null``, ``a string``), never Python's.

    >>> json_kind(None), json_kind("412"), json_kind([1])
    ('null', 'a string', 'an array')
    """
    for python_type, word in _JSON_KINDS:
        if isinstance(value, python_type):
            return word
    return "null" if value is None else "a value of no JSON type"


class RejectReason(StrEnum):
    """Why (part of) a payload was not used. Stable codes: store and count them."""

    oversized = "oversized"
    not_json = "not_json"
    not_object = "not_object"
    bad_timestamp = "bad_timestamp"
    future_timestamp = "future_timestamp"
    unknown_metric = "unknown_metric"
    wrong_type = "wrong_type"
    not_finite = "not_finite"
    derived_failed = "derived_failed"
    device_mismatch = "device_mismatch"

# A payload may name its device; it must be the device of its topic (the broker's ACL vouches for that).
DEVICE_ID_KEY = "device_id"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One problem: its reason, the metric (or dotted path) it concerns if any, and a human detail."""

    reason: RejectReason
    metric: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f" {self.metric}" if self.metric else ""
        return f"{self.reason.value}{where}: {self.detail}" if self.detail else f"{self.reason.value}{where}"


@dataclass(frozen=True, slots=True)
class TelemetryParse:
    readings: list[Reading]
    rejections: list[Rejection]


@dataclass(frozen=True, slots=True)
class _Mapped:
    name: str
    path: tuple[str, ...]
    scale: float
    offset: float


@dataclass(frozen=True, slots=True)
class _Mapping:
    """A profile's MQTT mapping, prepared once: what to look up where."""

    metrics: tuple[_Mapped, ...]
    timestamp_path: tuple[str, ...]
    known_paths: frozenset[str]
    flat: bool  # every path is one key: look keys up directly
    derived: tuple[tuple[str, Expression], ...]


_MAPPINGS: dict[int, tuple[Profile, _Mapping]] = {}


def _mapping(profile: Profile) -> _Mapping:
    cached = _MAPPINGS.get(id(profile))
    if cached is not None and cached[0] is profile:
        return cached[1]
    if profile.mqtt is None:
        raise ValueError(f"profile {profile.name} has no [mqtt] section")
    metrics = tuple(_Mapped(m.name, tuple(m.json_path.split(".")), m.scale, m.offset) for m in profile.mqtt.metrics)
    ts_path = tuple(profile.mqtt.timestamp_path.split("."))
    known = frozenset([".".join(m.path) for m in metrics] + [profile.mqtt.timestamp_path, DEVICE_ID_KEY])
    flat = all(len(m.path) == 1 for m in metrics) and len(ts_path) == 1
    derived = tuple((d.name, Expression.parse(d.expression)) for d in profile.derived)
    mapping = _Mapping(metrics, ts_path, known, flat, derived)
    _MAPPINGS[id(profile)] = (profile, mapping)
    return mapping


def parse_timestamp(raw: Any, received_at: datetime, max_ahead: timedelta = MAX_AHEAD) -> datetime | Rejection:
    """ISO-8601 with an offset, or epoch milliseconds; between 2000 and ``max_ahead`` after ``received_at``."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return Rejection(RejectReason.bad_timestamp, None, f"{json_kind(raw)} is not a timestamp")
    if isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            return Rejection(RejectReason.bad_timestamp, None, f"{raw[:40]!r} is not ISO-8601")
        if ts.tzinfo is None:
            return Rejection(RejectReason.bad_timestamp, None, f"{raw[:40]!r} has no UTC offset (add 'Z' or '+08:00')")
        ts = ts.astimezone(UTC)
    else:
        if not math.isfinite(raw):
            return Rejection(RejectReason.bad_timestamp, None, f"{raw} is not a timestamp")
        try:
            ts = datetime.fromtimestamp(raw / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return Rejection(RejectReason.bad_timestamp, None, f"{raw} ms is out of range")
        if ts < EARLIEST and 9.0e8 < raw < 1.0e10:
            return Rejection(RejectReason.bad_timestamp, None, f"{raw} looks like epoch seconds; send milliseconds")
    if ts < EARLIEST:
        return Rejection(RejectReason.bad_timestamp, None, f"{ts.isoformat()} is before 2000")
    if ts > received_at + max_ahead:
        # A clock running ahead would make its readings the "latest" until real time caught up with them.
        ahead = int((ts - received_at).total_seconds())
        return Rejection(RejectReason.future_timestamp, None,
                         f"{ts.isoformat()} is {ahead} s ahead of the gateway's clock "
                         f"(at most {show(max_ahead.total_seconds())} s)")
    return ts


def _lookup(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


_MISSING = object()


def _leaves(node: dict[str, Any], prefix: str, depth: int, out: list[str]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < _MAX_DEPTH:
            _leaves(value, f"{path}.", depth + 1, out)
        else:
            out.append(path)


def parse_telemetry(device_id: str, payload: bytes, profile: Profile, received_at: datetime,
                    max_bytes: int = DEFAULT_MAX_BYTES, max_ahead: timedelta = MAX_AHEAD) -> TelemetryParse:
    """Readings of one telemetry message, and a :class:`Rejection` for each thing not used."""
    if len(payload) > max_bytes:
        return TelemetryParse([], [Rejection(RejectReason.oversized, None, f"{len(payload)} bytes > {max_bytes}")])
    mapping = _mapping(profile)
    try:
        document = loads(payload)
    except (ValueError, RecursionError) as exc:
        return TelemetryParse([], [Rejection(RejectReason.not_json, None, str(exc)[:120])])
    if not isinstance(document, dict):
        problem = f"{json_kind(document)}, not a JSON object"
        return TelemetryParse([], [Rejection(RejectReason.not_object, None, problem)])
    named = document.get(DEVICE_ID_KEY, _MISSING)
    if named is not _MISSING and named != device_id:
        return TelemetryParse([], [Rejection(RejectReason.device_mismatch, None,
                                             f"names device {str(named)[:64]!r} on the topic of {device_id}")])

    rejections: list[Rejection] = []
    raw_ts = document.get(mapping.timestamp_path[0], _MISSING) if mapping.flat else _lookup(
        document, mapping.timestamp_path)
    if raw_ts is _MISSING or raw_ts is None:
        ts = received_at
    else:
        parsed_ts = parse_timestamp(raw_ts, received_at, max_ahead)
        if isinstance(parsed_ts, Rejection):
            # Without a trustworthy time no value can be placed: the whole message is rejected.
            return TelemetryParse([], [parsed_ts])
        ts = parsed_ts

    values: dict[str, float] = {}
    for metric in mapping.metrics:
        raw = document.get(metric.path[0], _MISSING) if mapping.flat else _lookup(document, metric.path)
        if raw is _MISSING:
            continue
        if raw.__class__ is float:
            value = raw
        elif raw.__class__ is int:
            value = float(raw) if -1e300 < raw < 1e300 else math.inf
        elif isinstance(raw, bool):
            value = 1.0 if raw else 0.0
        else:
            rejections.append(Rejection(RejectReason.wrong_type, metric.name, f"{json_kind(raw)}, not a number"))
            continue
        if metric.scale != 1.0 or metric.offset != 0.0:
            # 412 * 0.001 is 0.41200000000000003: keep the digits the number and the scale carry.
            value = to_resolution(value * metric.scale + metric.offset,
                                  decimals_of(value) + decimals_of(metric.scale, metric.offset))
        if not math.isfinite(value):
            rejections.append(Rejection(RejectReason.not_finite, metric.name, str(raw)))
            continue
        values[metric.name] = value

    if not mapping.flat or len(document) > (len(values) + len(rejections) + (raw_ts is not _MISSING)
                                            + (named is not _MISSING)):
        _reject_unknown(document, mapping, rejections)
    for name, expression in mapping.derived:
        if expression.names <= values.keys():
            try:
                result = float(expression.evaluate(values))
            except (ExpressionError, TypeError, ValueError, OverflowError) as exc:
                rejections.append(Rejection(RejectReason.derived_failed, name, str(exc)))
                continue
            if math.isfinite(result):
                values[name] = result
            else:
                rejections.append(Rejection(RejectReason.derived_failed, name, f"{expression.text!r} gave {result}"))
    # tuple.__new__ makes the named tuple without its Python-level __new__: 40 % less time a reading.
    readings: list[Reading] = [_new_tuple(Reading, (device_id, name, ts, value)) for name, value in values.items()]
    return TelemetryParse(readings, rejections)


def _reject_unknown(document: dict[str, Any], mapping: _Mapping, rejections: list[Rejection]) -> None:
    leaves: list[str] = []
    _leaves(document, "", 0, leaves)
    for path in leaves:
        if path not in mapping.known_paths:
            rejections.append(Rejection(RejectReason.unknown_metric, path[:64], "not in the device's profile"))
