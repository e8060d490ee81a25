"""MQTT devices on a real broker: telemetry, retained status, last wills and command acks.

Per the contract in :mod:`streetwatch.topics`, each device

* publishes ``{"ts": <epoch ms>, <metric>: <value>, …}`` on ``streetwatch/devices/{id}/telemetry``
  every ``interval_s`` at QoS 1 (phases spread so a fleet does not publish all at once);
* publishes a retained ``online`` on ``…/status`` when it connects and ``offline`` when it stops;
* answers each JSON command on ``…/cmd`` with ``{"id": …, "ok": true}`` (or ``"ok": false`` and
  an ``"error"``) on ``…/cmd/ack``.

Two ways to connect, chosen by ``per_device_clients``:

* **per device** (realism): every device has its own connection and its own last will
  (``offline``, retained). A dropout drops the TCP connection without saying goodbye, so the
  broker publishes the will; the device reconnects when the dropout is over.
* **shared** (scale): ``devices_per_client`` devices share a connection. No per-device last
  will; a silent device simply stops publishing.

Connections are made by the :class:`~streetwatch.mqtt.MqttTransport` given (so ``mqtts://`` works). With
``passwords`` (device id → the password ``streetwatch device credentials issue`` gave it), every device
logs in as itself, its id as the user name, as on a broker configured by ``streetwatch broker config``;
that needs a connection per device.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import aiomqtt

from device_drivers.errors import PayloadError
from device_drivers.mqtt import Command, CommandAck, encode_message, parse_command
from simulators.devices import CommandRejected
from simulators.errors import SimulatorError
from streetwatch import topics
from streetwatch.clock import Clock, SystemClock
from streetwatch.mqtt import MqttTransport, internals

log = logging.getLogger(__name__)

GOLDEN_FRACTION = 0.618033988749895  # spreads phases evenly for any fleet size
SUBSCRIBE_CHUNK = 100
MAX_IN_FLIGHT = 500  # telemetry publishes awaiting their PUBACK, per client
COALESCE_S = 0.01  # devices due within this much of each other go out together


class MqttFleetError(SimulatorError):
    """The fleet cannot run: the broker is unreachable or refused it."""


class TelemetryDevice(Protocol):
    device_id: str
    interval_s: float

    def telemetry(self, now: datetime) -> dict[str, float] | None: ...

    def silent(self, now: datetime) -> bool: ...

    def command(self, action: str, params: Mapping[str, Any], now: datetime) -> None: ...


@dataclass
class FleetStats:
    """Counters an operator (or a benchmark) reads."""

    published: int = 0
    silent: int = 0
    late: int = 0
    commands: int = 0
    rejected: int = 0
    bad_commands: int = 0
    connects: int = 0
    severed: int = 0


@dataclass
class _Link:
    """How one connection ended: the device dropped it itself (a dropout), or it failed."""

    severed: bool = False
    failed: bool = False


def telemetry_payload(metrics: Mapping[str, float], now: datetime, ts_format: Literal["ms", "iso"] = "ms") -> bytes:
    """The contract's JSON: ``{"ts": …, <metric>: <value>, …}``."""
    ts: int | str = int(now.timestamp() * 1000) if ts_format == "ms" else now.isoformat()
    return json.dumps({"ts": ts, **metrics}, separators=(",", ":")).encode()


class MqttFleet:
    """Runs MQTT devices against a broker while the ``async with`` block lasts."""

    def __init__(self, devices: Sequence[TelemetryDevice], transport: MqttTransport, *, clock: Clock | None = None,
                 per_device_clients: bool = False, devices_per_client: int = 250, client_prefix: str = "sim",
                 ts_format: Literal["ms", "iso"] = "ms", reconnect_s: float = 2.0,
                 passwords: Mapping[str, str] | None = None) -> None:
        self.devices = list(devices)
        if passwords is not None:
            missing = [d.device_id for d in self.devices if d.device_id not in passwords]
            if missing:
                raise MqttFleetError(f"no password for {', '.join(missing[:5])}"
                                     f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''}")
            per_device_clients = True  # one login per device: the broker's ACL keeps each on its own topics
        self.passwords = passwords
        self.transport = transport
        self.clock = clock or SystemClock()
        self.per_device_clients = per_device_clients
        self.devices_per_client = 1 if per_device_clients else devices_per_client
        self.client_prefix = client_prefix
        self.ts_format = ts_format
        self.reconnect_s = reconnect_s
        self.stats = FleetStats()
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._pending_first_connect = 0
        self._all_connected = asyncio.Event()
        self._phase = {d.device_id: (i * GOLDEN_FRACTION) % 1.0 for i, d in enumerate(self.devices)}

    def _groups(self) -> list[tuple[str, list[TelemetryDevice]]]:
        if self.per_device_clients:
            return [(f"{self.client_prefix}-{d.device_id}", [d]) for d in self.devices]
        n = self.devices_per_client
        return [(f"{self.client_prefix}-{i // n:04d}", self.devices[i:i + n]) for i in range(0, len(self.devices), n)]

    async def __aenter__(self) -> MqttFleet:
        groups = self._groups()
        self._pending_first_connect = len(groups)
        if not groups:
            self._all_connected.set()
        self._runner = asyncio.create_task(self._run(groups), name="mqtt-fleet")
        ready = asyncio.create_task(self._all_connected.wait(), name="mqtt-fleet-ready")
        await asyncio.wait([ready, self._runner], return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await self._finish()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        await self._finish()

    async def _finish(self, timeout_s: float = 10.0) -> None:
        runner = self._runner
        if runner is None:
            return
        done, _ = await asyncio.wait([runner], timeout=timeout_s)
        if not done:
            runner.cancel()
            await asyncio.wait([runner])
        if not runner.cancelled() and (exc := runner.exception()) is not None:
            while isinstance(exc, BaseExceptionGroup):  # the first real failure, not the task groups
                exc = exc.exceptions[0]
            raise exc

    async def wait(self) -> None:
        """Run until stopped from outside, or until the fleet fails."""
        if self._runner is not None:
            await asyncio.shield(self._runner)

    async def _run(self, groups: list[tuple[str, list[TelemetryDevice]]]) -> None:
        async with asyncio.TaskGroup() as tg:
            for name, devices in groups:
                tg.create_task(self._session(name, devices), name=f"mqtt-{name}")

    async def _pause(self, delay_s: float) -> bool:
        """Wait ``delay_s`` unless told to stop first; True when stopping."""
        if delay_s > 0 and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await self._stop.wait()
        return self._stop.is_set()

    def _client(self, name: str, devices: list[TelemetryDevice]) -> aiomqtt.Client:
        will = None
        if self.per_device_clients:
            will = aiomqtt.Will(topics.status(devices[0].device_id), topics.OFFLINE, qos=1, retain=True)
        transport = self.transport
        if self.passwords is not None:
            transport = transport.as_user(devices[0].device_id, self.passwords[devices[0].device_id])
        client = transport.client(name, will=will, clean_session=True, max_inflight_messages=100, timeout=10.0)
        client.pending_calls_threshold = MAX_IN_FLIGHT + 2 * len(devices) + 10
        return client

    async def _session(self, name: str, devices: list[TelemetryDevice]) -> None:
        connected_once = False
        outage_logged = False
        while not self._stop.is_set():
            link = _Link()
            try:
                async with self._client(name, devices) as client:
                    await self._announce(client, devices)
                    self.stats.connects += 1
                    if outage_logged:
                        log.info("%s: connected to the broker again", name)
                    outage_logged = False
                    if not connected_once:
                        connected_once = True
                        self._pending_first_connect -= 1
                        if self._pending_first_connect == 0:
                            self._all_connected.set()
                    async with asyncio.TaskGroup() as tg:
                        listener = tg.create_task(self._listen(client, devices), name=f"{name}-commands")
                        tg.create_task(self._publish(client, devices, listener, link, tg), name=f"{name}-telemetry")
            except* aiomqtt.MqttError as group:
                if not connected_once:
                    raise MqttFleetError(f"MQTT broker {self.transport.where}: {group.exceptions[0]}") from None
                if not link.severed and not outage_logged:
                    log.warning("%s: lost the broker (%s); reconnecting every %g s", name,
                                group.exceptions[0], self.reconnect_s)
                    outage_logged = True
                link.failed = not link.severed
            if link.severed:
                self.stats.severed += 1
                await self._sit_out_dropout(devices[0])
            elif link.failed:
                await self._pause(self.reconnect_s)

    async def _sit_out_dropout(self, device: TelemetryDevice) -> None:
        # A silent device wakes at its reporting interval to see whether it can transmit again.
        while device.silent(self.clock.now()):
            if await self._pause(device.interval_s):
                return

    async def _announce(self, client: aiomqtt.Client, devices: list[TelemetryDevice]) -> None:
        await asyncio.gather(*(client.publish(topics.status(d.device_id), topics.ONLINE, qos=1, retain=True)
                               for d in devices))
        command_topics = [(topics.command(d.device_id), 1) for d in devices]
        for i in range(0, len(command_topics), SUBSCRIBE_CHUNK):
            await client.subscribe(command_topics[i:i + SUBSCRIBE_CHUNK])

    async def _publish(self, client: aiomqtt.Client, devices: list[TelemetryDevice],
                       listener: asyncio.Task[None], link: _Link, tg: asyncio.TaskGroup) -> None:
        """Publish each device's telemetry when due. PUBACKs are awaited by tasks of the session's
        group (a failed publish ends the session), at most ``MAX_IN_FLIGHT`` at once: waiting for each
        round trip here would make a busy client fall behind its schedule."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        due = [(start + self._phase[d.device_id] * d.interval_s, i) for i, d in enumerate(devices)]
        heapq.heapify(due)
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def send(topic: str, payload: bytes) -> None:
            try:
                await client.publish(topic, payload, qos=1)
                self.stats.published += 1
            finally:
                in_flight.release()

        while not await self._pause(due[0][0] - loop.time()):
            now, t = self.clock.now(), loop.time()
            while due and due[0][0] <= t + COALESCE_S:
                at, i = heapq.heappop(due)
                device = devices[i]
                if self.per_device_clients and device.silent(now):
                    link.severed = True
                    internals.sever(client)
                    # The listener ends with the connection's error; the task group then stops us.
                    await asyncio.wait([listener])
                    return
                metrics = device.telemetry(now)
                if metrics is None:
                    self.stats.silent += 1
                else:
                    await in_flight.acquire()  # backpressure: the broker sets the pace beyond this
                    tg.create_task(send(topics.telemetry(device.device_id),
                                        telemetry_payload(metrics, now, self.ts_format)))
                at += device.interval_s
                if at <= t:  # fell behind: skip the missed slots rather than burst
                    self.stats.late += 1
                    at += (t - at) // device.interval_s * device.interval_s + device.interval_s
                heapq.heappush(due, (at, i))
        await asyncio.gather(*(client.publish(topics.status(d.device_id), topics.OFFLINE, qos=1, retain=True)
                               for d in devices))
        listener.cancel()

    async def _listen(self, client: aiomqtt.Client, devices: list[TelemetryDevice]) -> None:
        by_id = {d.device_id: d for d in devices}
        async for message in client.messages:
            parsed = topics.parse_device_topic(message.topic.value)
            if parsed is None or parsed.kind != "cmd" or parsed.device_id not in by_id:
                continue
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            ack = self._answer(by_id[parsed.device_id], payload)
            if ack is not None:
                await client.publish(topics.command_ack(parsed.device_id), ack, qos=1)

    def _answer(self, device: TelemetryDevice, payload: bytes) -> bytes | None:
        """The acknowledgement for one command, or None when it cannot be answered (no usable id)."""
        self.stats.commands += 1
        try:
            command = parse_command(payload)
        except PayloadError as exc:
            self.stats.bad_commands += 1
            log.warning("%s: bad command: %s", device.device_id, exc)
            command_id = _command_id(payload)
            return None if command_id is None else encode_message(CommandAck(id=command_id, ok=False,
                                                                             error=str(exc)[:500]))
        try:
            device.command(command.action, command.params, self.clock.now())
        except CommandRejected as exc:
            self.stats.rejected += 1
            return encode_message(CommandAck(id=command.id, ok=False, error=str(exc)[:500]))
        return encode_message(CommandAck(id=command.id, ok=True))


def _command_id(payload: bytes) -> str | None:
    """The id of a command that is otherwise wrong, so the sender still hears why (if it is usable)."""
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    command_id = document.get("id") if isinstance(document, dict) else None
    if not isinstance(command_id, str):
        return None
    try:
        return Command(id=command_id, action="x").id
    except ValueError:
        return None
