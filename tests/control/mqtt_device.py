"""A tiny lamp controller on MQTT for the tests: it takes commands on its ``cmd`` topic and answers
on ``cmd/ack`` as told (ack, refuse, stay silent, or ack late).

It reads commands with the documented parser (``device_drivers.mqtt.parse_command``), as a device
that follows docs/mqtt.md would, and refuses one the parser refuses (``contract_errors`` keeps why)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import TracebackType
from typing import Any, Literal, Self

import aiomqtt

from device_drivers.errors import PayloadError
from device_drivers.mqtt import parse_command
from streetwatch import topics
from streetwatch.mqtt import MqttTransport

Behaviour = Literal["ack", "refuse", "silent", "late"]


class MqttTestLamp:
    def __init__(self, mqtt: str | MqttTransport, device_id: str, behaviour: Behaviour = "ack", *,
                 late_s: float = 0.0) -> None:
        self.transport = mqtt if isinstance(mqtt, MqttTransport) else MqttTransport.from_url(mqtt)
        self.device_id = device_id
        self.behaviour = behaviour
        self.late_s = late_s
        self.received: list[dict[str, Any]] = []
        self.contract_errors: list[str] = []
        self.dim_level_pct: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()
        self.got_command = asyncio.Event()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._serve(), name=f"test-lamp-{self.device_id}")
        await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _serve(self) -> None:
        async with self.transport.client(f"test-lamp-{self.device_id}") as client:
            await client.subscribe(topics.command(self.device_id), qos=1)
            self._ready.set()
            async with asyncio.TaskGroup() as group:
                async for message in client.messages:
                    command = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                    self.received.append(command)
                    self.got_command.set()
                    group.create_task(self._answer(client, command))

    async def _answer(self, client: aiomqtt.Client, command: dict[str, Any]) -> None:
        if self.behaviour == "silent":
            return
        if self.behaviour == "late":
            if len(self.received) > 1:
                return  # repeats go unanswered: only the first, late, ack can confirm
            await asyncio.sleep(self.late_s)  # after the gateway gave up waiting for it
        try:
            parse_command(json.dumps(command).encode())
        except PayloadError as exc:
            self.contract_errors.append(str(exc))
            await client.publish(topics.command_ack(self.device_id),
                                 json.dumps({"id": command["id"], "ok": False, "error": str(exc)}), qos=1)
            return
        if self.behaviour == "refuse":
            ack = {"id": command["id"], "ok": False, "error": "local override: dimming locked"}
        else:
            if command["action"] == "set_dim":
                self.dim_level_pct = command["params"]["level_pct"]
            ack = {"id": command["id"], "ok": True}
        await client.publish(topics.command_ack(self.device_id), json.dumps(ack), qos=1)
