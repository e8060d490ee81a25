"""Devices added, registered or retired in the registry take effect in a running gateway, without a restart."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_drivers.mqtt import encode_telemetry
from device_registry import open_registry
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.intake.records import GatewayRecords
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, mqtt_device, publisher, register
from tests.gateway.test_poller import lamp_servers

pytestmark = pytest.mark.services


async def pending_ids(url: str) -> list[str]:
    async with open_database(DatabaseUrl.parse(url)) as db:
        return [p.device_id for p in await GatewayRecords(db).pending()]


async def test_added_registered_and_retired_devices_take_effect_while_running(tmp_path: Path, mqtt_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    newcomer = f"CG-{uuid.uuid4().hex[:6]}"
    async with lamp_servers(2) as (first, second):
        await register(url, [modbus_device("LP-0", first.port, interval_s=0.1)])
        settings = gateway_settings(tmp_path, url, mqtt_url)
        options = RunOptions(registry_check_s=0.1)
        async with running(Gateway(settings, options=options)) as gateway, publisher(mqtt_url) as device, \
                open_registry(url) as registry:
            assert gateway.ingest is not None and gateway.recorder is not None
            await eventually(lambda: gateway.ingest.connected and first.request_count(1) > 0, what="polling")
            await device.publish(topics.telemetry(newcomer), encode_telemetry({"water_level_mm": 5}), qos=1)
            # The shared test broker may also hold retained statuses of other tests' devices: look for ours.
            await eventually(lambda: gateway.ingest.stats.unknown_device_messages >= 1)
            for _ in range(100):
                await gateway.recorder.flush()
                if newcomer in await pending_ids(url):
                    break
                await asyncio.sleep(0.05)
            assert newcomer in await pending_ids(url)

            await registry.add(modbus_device("LP-1", second.port, interval_s=0.1), by="installer")
            await registry.add(mqtt_device(newcomer), by="installer")
            await eventually(lambda: second.request_count(1) >= 3, what="the added device polled")
            await eventually(lambda: gateway.directory is not None and gateway.directory.get(newcomer) is not None)
            ts = datetime.now(UTC).replace(microsecond=0)
            await device.publish(topics.telemetry(newcomer), encode_telemetry({"water_level_mm": 6}, ts), qos=1)
            store = gateway.store
            assert store is not None
            await eventually(lambda: gateway.journal is not None and gateway.journal.backlog == 0)
            await eventually(lambda: _has_reading(store, newcomer), what="the newcomer's reading stored")
            await gateway.recorder.flush()
            assert newcomer not in await pending_ids(url)  # registered: off the installers' list

            await registry.retire("LP-0", by="installer")
            await eventually(lambda: gateway.poller is not None and gateway.poller.devices == 1, what="LP-0 dropped")
            polled = first.request_count(1)
            await asyncio.sleep(0.5)  # ten of its intervals: a retired device is not polled any more
            assert first.request_count(1) <= polled + 1  # a poll already under way may finish
            assert gateway.states is not None and gateway.states.get("LP-0") is None


async def _has_reading(store: object, device_id: str) -> bool:
    latest = await store.latest([device_id])  # type: ignore[attr-defined]
    return any(v.metric == "water_level_mm" and v.value == 6.0 for v in latest)
