"""MQTT intake: telemetry and status messages from the broker, journaled before they are acknowledged.

The gateway keeps one persistent session (a fixed client id, ``clean_start`` off, a session expiry)
and subscribes with QoS 1, so what devices publish while it restarts waits at the broker. Each
QoS 1 message is acknowledged (PUBACK) only once its payload is in the journal on disk: the broker
keeps — and after a crash redelivers — anything not acknowledged. Acknowledging is manual (paho's
``manual_ack``) and group-committed: one fsync covers every message that arrived meanwhile. The
broker sends at most ``receive_maximum`` unacknowledged messages, which bounds what waits in memory.

Per message: a topic whose device id is not one the registry could hold (docs/mqtt.md) is refused
(``bad_device_id``) before the id is kept anywhere. A telemetry payload from a registered device is
parsed with its profile; its readings go to the store path and the subscribers, its rejections to
the dead letters. A message from a device the gateway does not know is held a moment while the
registry is checked (:mod:`gateway.unknown_senders`): a device just imported keeps its first
messages. Otherwise it is counted, logged (rate-limited), and listed for the installers
(``streetwatch device pending``). A status message (``online``/``offline``, retained,
also the last will) sets the device's state.

Reconnecting is this loop's job, with backoff; the subscriptions are made again on each session.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device_drivers.errors import PayloadError
from device_drivers.mqtt import parse_status, parse_telemetry
from gateway.intake import mqtt_publish
from gateway.intake.device_state import DeviceStates
from gateway.intake.directory import DeviceDirectory
from gateway.intake.fanout import Fanout
from gateway.intake.journal import Journal, JournalFull, Source
from gateway.intake.mqtt_publish import Publish
from gateway.intake.mqtt_reader import SocketReader
from gateway.intake.pipeline import StorePipeline
from gateway.intake.recorder import Recorder
from gateway.intake.records import DeadLetter
from gateway.intake.unknown_senders import HeldMessages, LogLimiter
from streetwatch import topics
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.mqtt import MqttTransport, internals
from streetwatch.mqtt.errors import failure_reason
from streetwatch.readings import Reading

log = logging.getLogger(__name__)

_STOP = object()  # put in the incoming queue to end the session's loop
INVALID_DEVICE_ID = "(invalid id)"  # the device of a dead letter whose topic had no valid id: no id can be this
MAX_HELD_BYTES = 4 * 1024 * 1024
STORE_WAIT_S = 1.0  # at most this long for the store before a batch goes on (and may go through the journal)


@dataclass
class IngestStats:
    """Counters an operator watches (read by the metrics collector)."""

    messages: int = 0
    readings: int = 0
    status_messages: int = 0
    unknown_device_messages: int = 0
    ignored_messages: int = 0  # topics outside the contract
    rejected: Counter[str] = field(default_factory=Counter)  # by reason: payloads or parts of them not used
    connects: int = 0
    store_waits: int = 0  # batches that waited for the store to take readings from memory
    journal_full_pauses: int = 0  # sessions ended because the journal was full (messages left with the broker)


class JournalFullPause(aiomqtt.MqttError):
    """The journal is full: the session ends, unacknowledged messages stay with the broker until there is room."""


class MqttIngest:
    """The MQTT intake task (:meth:`run`); :meth:`stop` ends it after acknowledging what is journaled."""

    def __init__(self, settings: Settings, transport: MqttTransport, *, journal: Journal,
                 directory: DeviceDirectory, pipeline: StorePipeline, states: DeviceStates, fanout: Fanout,
                 recorder: Recorder, clock: Clock, receive_maximum: int = 1_000, max_batch: int = 1_000) -> None:
        self.settings = settings
        self.transport = transport
        self.health = transport.health("intake")
        self.journal = journal
        self.directory = directory
        self.pipeline = pipeline
        self.states = states
        self.fanout = fanout
        self.recorder = recorder
        self.clock = clock
        self.receive_maximum = receive_maximum
        self.max_batch = max_batch
        self.stats = IngestStats()
        self.subscriptions = [topics.shared(topics.TELEMETRY_SUBSCRIPTION, settings.mqtt.shared_group),
                              topics.shared(topics.STATUS_SUBSCRIPTION, settings.mqtt.shared_group)]
        self._backoff = transport.reconnect_backoff()
        self._stopping = asyncio.Event()
        # Messages paho has read and the intake has not handled yet (and _STOP to end a session).
        self._incoming: deque[Publish | object] = deque()
        self._incoming_ready = asyncio.Event()
        self._reader: SocketReader | None = None
        self._earlier_pauses = 0
        self._acks: list[tuple[int, int]] = []
        self._ack_ready = asyncio.Event()
        self._unknown_log = LogLimiter()
        # Held messages are not acknowledged yet: a quarter of the broker's window at most, so the rest flows.
        self.held = HeldMessages(hold_s=settings.mqtt.hold_unknown_s, max_messages=max(1, receive_maximum // 4),
                                 max_bytes=MAX_HELD_BYTES)
        self._held_ready = asyncio.Event()
        self._max_ahead = timedelta(seconds=settings.mqtt.max_clock_skew_s)
        directory.on_change(lambda change: self._held_ready.set() if change.added else None)

    @property
    def connected(self) -> bool:
        """Whether the intake's session with the broker is up."""
        return self.health.connected

    @property
    def reading_pauses(self) -> int:
        """How often the intake stopped reading the broker's socket because it was behind (all sessions)."""
        return self._earlier_pauses + (self._reader.pauses if self._reader is not None else 0)

    @property
    def incoming_depth(self) -> int:
        """Messages received from the broker and not handled yet."""
        return len(self._incoming)

    def stop(self) -> None:
        self._stopping.set()
        self._put(_STOP)

    def _put(self, item: Publish | object) -> None:
        """A message to handle in the next batch (in place of aiomqtt's queue, which costs more than it gives)."""
        self._incoming.append(item)
        self._incoming_ready.set()

    async def run(self) -> None:
        where = self.transport.where
        while not self._stopping.is_set():
            try:
                await self._session()
            except* aiomqtt.MqttError as group:
                error = group.exceptions[0]
                reason = failure_reason(error, self.transport.url.username)
                self.health.down(reason)
                if isinstance(error, JournalFullPause):
                    if self._backoff.failures == 0:
                        log.error("MQTT intake paused: %s; messages stay with the broker, tried again with backoff",
                                  error)
                elif self._backoff.failures == 0:
                    log.error("MQTT broker %s: %s; reconnecting with backoff", where, reason)
                else:
                    log.debug("MQTT broker %s still unreachable: %s", where, reason)
            now = self.clock.monotonic()
            delay_s = self._backoff.failed(now) - now
            try:
                async with asyncio.timeout(delay_s):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    def _client(self) -> aiomqtt.Client:
        common: dict[str, Any] = {
            "identifier": self.settings.mqtt.client_id, "keepalive": 30, "timeout": 10,
            # QoS 1 is bounded by receive_maximum; this bounds a flood of QoS 0 messages too.
            "max_queued_incoming_messages": 10 * self.receive_maximum}
        if self.settings.mqtt.protocol == "3.1.1":
            # Brokers that speak only 3.1.1 (the demo's in-process one): the session persists
            # through clean_session=False; the broker decides how long it keeps it.
            client = self.transport.client(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False, **common)
        else:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.settings.mqtt.session_expiry_s
            properties.ReceiveMaximum = self.receive_maximum
            client = self.transport.client(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False,
                                          properties=properties, **common)
        # aiomqtt 2.5 has no manual acknowledgement; its paho client does: PUBACK goes out when we
        # call ``ack`` (see _acker). Messages come to _put, decoded by mqtt_publish.
        internals.enable_manual_ack(client)
        take = mqtt_publish.install(client, self._put)
        if self._reader is not None:
            self._earlier_pauses += self._reader.pauses
        self._reader = SocketReader(client, backlog=self._incoming.__len__, high_water=5 * self.receive_maximum,
                                    publish=take)
        self._reader.install()
        return client

    async def _session(self) -> None:
        client = self._client()
        # What the last connection left unhandled was not acknowledged: the broker sends it again. (Not
        # cleared once connected: what it sends again may arrive with the CONNACK.)
        self._incoming.clear()
        self.held.clear()
        async with client:
            self._acks = []
            for subscription in self.subscriptions:
                await client.subscribe(subscription, qos=1)
            self.health.up()
            self.stats.connects += 1
            if self._backoff.failures:
                log.info("MQTT broker %s reachable again; session resumed", self.transport.where)
            else:
                log.info("MQTT: subscribed to %s at %s as %s", ", ".join(self.subscriptions), self.transport.where,
                         self.settings.mqtt.client_id)
            self._backoff.succeeded()
            ended = internals.disconnected(client)
            ended.add_done_callback(lambda _: self._put(_STOP))
            if self._stopping.is_set():
                self._put(_STOP)
            async with asyncio.TaskGroup() as group:
                acker = group.create_task(self._acker(client), name="mqtt-acker")
                releaser = group.create_task(self._release_held(), name="mqtt-held")
                try:
                    await self._consume()
                finally:
                    acker.cancel()
                    releaser.cancel()
            await self._acknowledge(client)  # what was journaled before stopping
            self.health.down("stopped")
            if ended.done() and ended.exception() is not None:
                raise aiomqtt.MqttError(f"disconnected: {ended.exception()}")

    async def _consume(self) -> None:
        incoming = self._incoming
        while True:
            while not incoming:
                self._incoming_ready.clear()
                await self._incoming_ready.wait()
            if not self.pipeline.has_room:
                # The store is behind: what comes next waits here, then at the broker (see pipeline's doc).
                self.stats.store_waits += 1
                await self.pipeline.wait_for_room(STORE_WAIT_S)
            batch = [incoming.popleft() for _ in range(min(len(incoming), self.max_batch))]
            if self._reader is not None:
                self._reader.resume()
            messages = [m for m in batch if isinstance(m, Publish)]
            if messages:
                await self._handle(messages)
            if len(messages) != len(batch):
                return

    async def _release_held(self) -> None:
        """Handle held messages once their sender is registered, or refuse them once held long enough."""
        while True:
            deadline = self.held.next_deadline
            try:
                async with asyncio.timeout(None if deadline is None else max(0.0, deadline - self.clock.monotonic())):
                    await self._held_ready.wait()
            except TimeoutError:
                pass
            self._held_ready.clear()
            ready, expired = self.held.take(lambda device_id: self.directory.get(device_id) is not None,
                                            now=self.clock.monotonic())
            if ready or expired:
                await self._handle(ready + expired, may_hold=False)

    async def _handle(self, messages: Sequence[Publish], *, may_hold: bool = True) -> None:
        now = self.clock.now()
        received_at = now.timestamp()
        readings: list[Reading] = []
        handled = 0
        for message in messages:
            topic = message.topic
            parsed = topics.parse_device_topic(topic)
            if parsed is not None and not topics.valid_device_id(parsed.device_id):
                self._reject(INVALID_DEVICE_ID, topic, message.payload, now, reason="bad_device_id",
                             detail=f"{len(parsed.device_id)}-character device id {parsed.device_id[:40]!r} is not "
                                    "1-64 letters, digits, '.', '_' or '-'")
            elif (parsed is not None and may_hold and parsed.kind in ("telemetry", "status")
                  and self.directory.get(parsed.device_id) is None
                  and self.held.hold(parsed.device_id, message, now=self.clock.monotonic())):
                self.directory.check_soon()  # acknowledged once handled, after the hold
                if len(self.held) == 1:
                    self._held_ready.set()  # the releaser learns its next deadline
                continue
            elif parsed is None:
                self.stats.ignored_messages += 1
            elif parsed.kind == "telemetry":
                try:
                    self._telemetry(parsed.device_id, topic, message, now, received_at, readings)
                except JournalFull as exc:
                    # Not acknowledged: the broker keeps this message and what follows it. What was handled
                    # before it is acknowledged once journaled, as always.
                    self.stats.journal_full_pauses += 1
                    self._ack_ready.set()
                    self.journal.sync_soon()
                    await self.fanout.publish(readings)
                    raise JournalFullPause(str(exc)) from None
            elif parsed.kind == "status":
                self._status(parsed.device_id, topic, message, now)
            else:
                self.stats.ignored_messages += 1
            handled += 1
            if message.qos > 0:
                self._acks.append((message.mid, message.qos))
        self.stats.messages += handled
        self.stats.readings += len(readings)
        self._ack_ready.set()
        self.journal.sync_soon()
        await self.fanout.publish(readings)

    def _telemetry(self, device_id: str, topic: str, message: Publish, now: datetime, received_at: float,
                   readings: list[Reading]) -> None:
        payload = message.payload
        entry = self.directory.get(device_id)
        if entry is None:
            self._unknown(device_id, topic, now)
            return
        profile = self.directory.profile(entry.profile)
        if profile is None or profile.mqtt is None:
            self._reject(device_id, topic, payload, now, reason="no_mqtt_profile",
                         detail=f"profile {entry.profile} has no [mqtt] section (is it a Modbus device?)")
            return
        parsed = parse_telemetry(device_id, payload, profile, now, self.settings.mqtt.max_payload_bytes,
                                 self._max_ahead)
        for rejection in parsed.rejections:
            self._reject(device_id, topic, payload, now, reason=rejection.reason.value,
                         metric=rejection.metric, detail=rejection.detail)
        if not parsed.readings:
            return
        seq = self.journal.append_nowait(Source.MQTT_TELEMETRY, device_id, payload, received_at)
        self.pipeline.offer(seq, parsed.readings)
        readings.extend(parsed.readings)
        self.states.seen(device_id, now)

    def _status(self, device_id: str, topic: str, message: Publish, now: datetime) -> None:
        self.stats.status_messages += 1
        payload = message.payload
        if not payload:
            return  # an empty retained message clears the status at the broker: nothing to say
        if self.directory.get(device_id) is None:
            self._unknown(device_id, topic, now)
            return
        try:
            status = parse_status(payload)
        except PayloadError as exc:
            self._reject(device_id, topic, payload, now, reason="bad_status", detail=str(exc))
            return
        self.states.reported(device_id, status == "online", now, "retained status" if message.retain else "")

    def _unknown(self, device_id: str, topic: str, now: datetime) -> None:
        self.stats.unknown_device_messages += 1
        self.recorder.sighting(device_id, topic, now)
        if self._unknown_log.first(device_id, now=self.clock.monotonic()):
            log.warning("messages from %s, which is not registered, are not stored (see `streetwatch device "
                        "pending`; further messages from it are counted, not logged)", device_id,
                        extra={"device_id": device_id})

    def _reject(self, device_id: str, topic: str, payload: bytes, now: datetime, *, reason: str,
                metric: str | None = None, detail: str) -> None:
        """Count every rejection; the recorder keeps one dead letter per device, reason and metric a minute,
        with its count."""
        self.stats.rejected[reason] += 1
        self.recorder.dead_letter(DeadLetter(now, device_id, topic, reason, metric, detail,
                                             DeadLetter.excerpt(payload)))

    async def _acker(self, client: aiomqtt.Client) -> None:
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            await self._acknowledge(client)

    async def _acknowledge(self, client: aiomqtt.Client) -> None:
        """PUBACK every message handled so far, once the journal holds what they carried."""
        acks = self._acks
        count = len(acks)
        if not count:
            return
        await self.journal.sync()  # covers every message counted: each was journaled before it was listed
        if internals.disconnected(client).done() or acks is not self._acks:
            return  # the connection is gone: the broker sends them again in the next session
        internals.acknowledge_all(client, acks[:count])
        del acks[:count]
