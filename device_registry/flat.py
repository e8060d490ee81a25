"""A device as one flat row of text fields: the CSV columns, ``--set field=value`` and the CLI options.

Every way of entering a device (``device add``, ``device import``, ``device update --set``) comes
through :func:`device_from_fields`, so a mistake is named the same way everywhere::

    lat: Input should be less than or equal to 90 (got 95.5)

>>> device = device_from_fields({"id": "LP-1", "kind": "lamp_controller", "profile": "sw-lamp-controller",
...     "transport": "modbus-tcp", "host": "10.0.0.5", "lat": "31.2", "lon": "121.5"})
>>> device_to_fields(device)["port"]
'502'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from device_registry.device import Device, Transport
from device_registry.errors import FieldProblem, InvalidDevice

COLUMNS: tuple[str, ...] = (
    "id", "kind", "profile", "transport", "host", "port", "unit", "serial_port", "baudrate", "parity",
    "stopbits", "bytesize", "client_id", "username", "password", "lat", "lon", "landmark", "site", "area",
    "groups", "tags", "poll_interval_s", "thresholds", "status", "installed_on", "notes",
)
REQUIRED: tuple[str, ...] = ("id", "kind", "profile", "transport", "lat", "lon")
SECRET_COLUMNS = frozenset({"password"})

# Which columns each transport's address uses; any other address column must stay empty.
ADDRESS_COLUMNS: dict[Transport, tuple[str, ...]] = {
    Transport.modbus_tcp: ("host", "port", "unit"),
    Transport.modbus_rtu_over_tcp: ("host", "port", "unit"),
    Transport.modbus_rtu: ("serial_port", "baudrate", "parity", "stopbits", "bytesize", "unit"),
    Transport.mqtt: ("client_id", "username", "password"),
}
ALL_ADDRESS_COLUMNS = frozenset(c for cols in ADDRESS_COLUMNS.values() for c in cols)
# Per transport, the address columns it does not use, in the order their problems are named.
_UNUSED_ADDRESS_COLUMNS = {t: tuple(sorted(ALL_ADDRESS_COLUMNS - set(cols))) for t, cols in ADDRESS_COLUMNS.items()}
_COLUMN_SET = frozenset(COLUMNS)
_NO_FIELDS = dict.fromkeys(COLUMNS, "")
_COLUMN_ORDER = {name: i for i, name in enumerate(COLUMNS)}
_MODEL_FIELDS = ("id", "kind", "profile", "site", "area", "groups", "tags", "poll_interval_s", "thresholds", "status",
                 "installed_on", "notes")
_MODEL_NAMES = {"latitude": "lat", "longitude": "lon"}
_PARITY_WORDS = {"none": "N", "even": "E", "odd": "O", "n": "N", "e": "E", "o": "O"}


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parity(text: str) -> str:
    try:
        return _PARITY_WORDS[text.lower()]
    except KeyError:
        raise ValueError(f"{text!r} is not a parity: use N, E or O") from None


def split_list(text: str) -> list[str]:
    """``riverside; night-dim`` → ``['riverside', 'night-dim']``."""
    return [part.strip() for part in text.split(";") if part.strip()]


def parse_tags(text: str) -> dict[str, str]:
    """``district=Baiyun;pole=steel`` → ``{'district': 'Baiyun', 'pole': 'steel'}``."""
    tags: dict[str, str] = {}
    for part in split_list(text):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{part!r} is not key=value")
        tags[key.strip()] = value.strip()
    return tags


def parse_thresholds(text: str) -> dict[str, dict[str, float]]:
    """``water_level_mm.red=800;water_level_mm.orange=500`` → ``{'water_level_mm': {'red': 800, 'orange': 500}}``."""
    thresholds: dict[str, dict[str, float]] = {}
    for part in split_list(text):
        key, sep, value = part.partition("=")
        metric, dot, level = key.strip().rpartition(".")
        if not sep or not dot or not metric or not level:
            raise ValueError(f"{part!r} is not metric.level=value (e.g. water_level_mm.red=800)")
        thresholds.setdefault(metric, {})[level] = _number(value.strip())
    return thresholds


_PARSERS: dict[str, Callable[[str], Any]] = {
    "port": _whole, "unit": _whole, "baudrate": _whole, "stopbits": _whole, "bytesize": _whole,
    "lat": _number, "lon": _number, "poll_interval_s": _number, "parity": _parity, "installed_on": _date,
    "groups": split_list, "tags": parse_tags, "thresholds": parse_thresholds,
}


_PARSED_COLUMNS = tuple(name for name in COLUMNS if name in _PARSERS)
_TRANSPORTS = {t.value: t for t in Transport}  # a dict lookup; calling the enum costs a microsecond a row


def _transport(text: str) -> Transport:
    transport = _TRANSPORTS.get(text.strip().lower())
    if transport is None:
        known = ", ".join(t.value for t in Transport)
        raise ValueError(f"unknown transport {text!r} (use {known})")
    return transport


def _column_of(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "device"
    if loc[0] in ("address", "location"):
        last = next((p for p in reversed(loc) if isinstance(p, str)), str(loc[0]))
        return _MODEL_NAMES.get(last, last)
    return str(loc[0])


def _message(error: Mapping[str, Any], transport: Transport | None) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"required for transport {transport.value}" if transport else "required"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    given = error.get("input")
    if error["type"] != "value_error" and isinstance(given, int | float | str) and not isinstance(given, bool):
        message += f" (got {given!r})" if isinstance(given, str) else f" (got {_text(given)})"
    return message


def device_from_fields(fields: Mapping[str, str]) -> Device:
    """Build a :class:`Device` from text fields (CSV columns); empty text means the default.

    Raises :class:`InvalidDevice` naming every field at fault.
    """
    problems: list[FieldProblem] = []
    if not fields.keys() <= _COLUMN_SET:
        problems += [FieldProblem(name, f"unknown field (fields: {', '.join(COLUMNS)})")
                     for name in fields if name not in _COLUMN_SET]
    # Runs for every row of an import, most of whose cells are empty: keep the filled ones in one
    # comprehension, then parse only those that need parsing.
    values: dict[str, Any] = {name: text for name, raw in fields.items()
                              if raw is not None and raw != "" and (text := str(raw).strip())}
    if problems:  # unknown fields are reported above, not used
        values = {name: text for name, text in values.items() if name in _COLUMN_SET}
    for name in _PARSED_COLUMNS:
        if name in values:
            try:
                values[name] = _PARSERS[name](values[name])
            except ValueError as exc:
                del values[name]
                problems.append(FieldProblem(name, str(exc)))
    for name in REQUIRED:
        if name not in values and not any(p.field == name for p in problems):
            problems.append(FieldProblem(name, "required"))
    transport: Transport | None = None
    if "transport" in values:
        try:
            transport = _transport(values["transport"])
        except ValueError as exc:
            problems.append(FieldProblem("transport", str(exc)))
    if transport is not None:
        for name in _UNUSED_ADDRESS_COLUMNS[transport]:
            if name in values:
                problems.append(FieldProblem(name, f"not used by transport {transport.value}"))
    # Validate what did parse too, so one pass names every field at fault.
    model: dict[str, Any] = {name: values[name] for name in _MODEL_FIELDS if name in values}
    if transport is not None:
        address = {name: values[name] for name in ADDRESS_COLUMNS[transport] if name in values}
        model["address"] = {"transport": transport.value, **address}
    location: dict[str, Any] = {"latitude": values.get("lat"), "longitude": values.get("lon")}
    if "landmark" in values:
        location["landmark"] = values["landmark"]
    model["location"] = location
    try:
        device = Device.model_validate(model)
    except ValidationError as exc:
        reported = {p.field for p in problems}
        for error in exc.errors():
            column = _column_of(tuple(error["loc"]))
            if column not in reported and not (column == "address" and transport is None):
                problems.append(FieldProblem(column, _message(error, transport)))
        raise InvalidDevice(_in_column_order(problems)) from None
    if problems:
        raise InvalidDevice(_in_column_order(problems))
    return device


def _in_column_order(problems: list[FieldProblem]) -> list[FieldProblem]:
    return sorted(problems, key=lambda p: _COLUMN_ORDER.get(p.field, len(_COLUMN_ORDER)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_thresholds(thresholds: Mapping[str, Mapping[str, float]]) -> str:
    return ";".join(f"{metric}.{level}={_text(value)}"
                    for metric, levels in thresholds.items() for level, value in levels.items())


def device_to_fields(device: Device, *, secrets: bool = True) -> dict[str, str]:
    """The device as text fields, every column present (``''`` when unset); inverse of :func:`device_from_fields`."""
    # Called for every device an import adds (its history) and every one a listing exports: written out
    # field by field, plain dict stores, no keyword-argument dict, each enum read once.
    address, location = device.address, device.location
    transport = address.transport
    fields = _NO_FIELDS.copy()  # copying a dict of the same shape is cheaper than dict.fromkeys
    fields["id"] = device.id
    fields["kind"] = device.kind
    fields["profile"] = device.profile
    fields["transport"] = transport.value
    for name in ADDRESS_COLUMNS[transport]:
        fields[name] = _text(getattr(address, name))
    if not secrets:
        for name in SECRET_COLUMNS:
            fields[name] = "***" if fields[name] else ""
    fields["lat"] = repr(location.latitude)
    fields["lon"] = repr(location.longitude)
    fields["landmark"] = location.landmark
    fields["site"] = device.site
    fields["area"] = device.area
    fields["groups"] = ";".join(device.groups)
    if device.tags:
        fields["tags"] = ";".join(f"{k}={v}" for k, v in device.tags.items())
    fields["poll_interval_s"] = _text(device.poll_interval_s)
    if device.thresholds:
        fields["thresholds"] = format_thresholds(device.thresholds)
    fields["status"] = device.status.value
    if device.installed_on is not None:
        fields["installed_on"] = device.installed_on.isoformat()
    fields["notes"] = device.notes
    return fields


def fields_for_transport(fields: Mapping[str, str], transport: str) -> dict[str, str]:
    """``fields`` without the address columns another transport used (when an update changes transport)."""
    try:
        keep = set(ADDRESS_COLUMNS[_transport(transport)])
    except ValueError:
        return dict(fields)
    return {k: v for k, v in fields.items() if k not in ALL_ADDRESS_COLUMNS or k in keep}


def describe_address(device: Device) -> str:
    """A short human form: ``10.0.0.5:502 unit 1``, ``/dev/ttyUSB0 9600 8N1 unit 7``, ``mqtt``."""
    address = device.address
    if device.transport is Transport.mqtt:
        return "mqtt"
    if device.transport is Transport.modbus_rtu:
        d = address.model_dump()
        return f"{d['serial_port']} {d['baudrate']} {d['bytesize']}{d['parity']}{d['stopbits']} unit {d['unit']}"
    d = address.model_dump()
    host = f"[{d['host']}]" if ":" in d["host"] else d["host"]
    return f"{host}:{d['port']} unit {d['unit']}"


def split_host_port(text: str) -> tuple[str, str]:
    """``10.0.0.5:503`` → ``('10.0.0.5', '503')``; ``[::1]:502`` → ``('::1', '502')``; no port → ``''``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest.removeprefix(":")
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, ""
