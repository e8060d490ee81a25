"""The other MQTT messages of the device contract (docs/mqtt.md): status, commands, acknowledgements.

>>> parse_status(b"online")
'online'
>>> command = Command(id="c-17", action="set_dim", params={"level_pct": 40})
>>> parse_command(encode_message(command)) == command
True
>>> parse_command(b'{"id": "c-18", "action": "switch", "params": {"on": false},'
...               b' "expires_at": "2026-12-21T10:15:00Z"}').expires_at.isoformat()
'2026-12-21T10:15:00+00:00'
>>> parse_ack(b'{"id": "c-17", "ok": false, "error": "relay stuck"}').error
'relay stuck'
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from device_drivers.errors import PayloadError
from device_drivers.mqtt.payload import DEFAULT_MAX_BYTES, loads

Status = Literal["online", "offline"]
COMMAND_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
ACTION_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _iso_time(value: Any) -> Any:
    # JSON carries times as text; the strict parse would refuse text for a datetime.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value[:40]!r}") from None
    return value


UtcTime = Annotated[
    AwareDatetime, BeforeValidator(_iso_time),
    PlainSerializer(lambda t: t.astimezone(UTC).isoformat().replace("+00:00", "Z"), return_type=str),
]
"""An aware time; written as ``2026-12-21T10:15:00Z``."""


class Command(_Message):
    """``streetwatch/devices/{device_id}/cmd``: do ``action`` with ``params``; answer with the same ``id``.

    ``expires_at``: the sender gives up on the command then; a device should not carry it out later.
    """

    id: str = Field(pattern=COMMAND_ID_PATTERN)
    action: str = Field(pattern=ACTION_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    expires_at: UtcTime | None = None


class CommandAck(_Message):
    """``streetwatch/devices/{device_id}/cmd/ack``: whether command ``id`` was carried out."""

    id: str = Field(pattern=COMMAND_ID_PATTERN)
    ok: bool
    error: str | None = Field(None, max_length=500)


M = TypeVar("M", bound=_Message)


def _parse(model: type[M], payload: bytes, max_bytes: int) -> M:
    what = model.__name__
    if len(payload) > max_bytes:
        raise PayloadError(f"{what}: {len(payload)} bytes > {max_bytes}")
    try:
        document = loads(payload)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"{what}: not JSON ({str(exc)[:80]})") from None
    try:
        return model.model_validate(document, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        raise PayloadError(f"{what}: {where}: {first['msg']}") from None


def parse_command(payload: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Command:
    """A command message, or :class:`PayloadError` naming the first problem."""
    return _parse(Command, payload, max_bytes)


def parse_ack(payload: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> CommandAck:
    """An acknowledgement message, or :class:`PayloadError` naming the first problem."""
    return _parse(CommandAck, payload, max_bytes)


def parse_status(payload: bytes) -> Status:
    """``online`` or ``offline`` (surrounding blanks and case forgiven), else :class:`PayloadError`."""
    text = payload[:32].strip().lower()
    if text == b"online" and len(payload) <= 32:
        return "online"
    if text == b"offline" and len(payload) <= 32:
        return "offline"
    raise PayloadError(f"status: expected 'online' or 'offline', got {payload[:32]!r}")


def encode_message(message: Command | CommandAck) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def encode_telemetry(values: dict[str, float], ts: datetime | None = None) -> bytes:
    """A telemetry payload in the default shape (simulators and tests publish these)."""
    document: dict[str, Any] = {}
    if ts is not None:
        document["ts"] = ts.isoformat().replace("+00:00", "Z")
    document.update(values)
    return json.dumps(document, separators=(",", ":")).encode()
