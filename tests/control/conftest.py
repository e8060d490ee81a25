"""A control rig on real parts: a registry and a command store on one database, Modbus lamp
controllers served by the drivers' profile-driven Modbus server, and a dispatcher in front."""

from __future__ import annotations

import zoneinfo
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from control.channel import DeliveryChannel
from control.dispatcher import Dispatcher
from control.library import ScheduleLibrary
from control.lookup import RegistryLookup
from control.modbus_channel import ModbusChannel
from control.store import CommandStore
from device_drivers.modbus import BusPool, BusSettings
from device_registry import Device, Registry
from device_registry.device import Location, ModbusTcpAddress, MqttAddress
from device_registry.profile import shipped_profiles
from simulators.modbus_server import ModbusSimServer
from streetwatch.config import ControlSettings, DatabaseUrl
from streetwatch.database import Database, open_database

LAMP_PROFILE = "sw-lamp-controller"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Quick retries and short lives, so that retry and expiry tests take about a second.
FAST = ControlSettings(command_ttl_s=5.0, attempt_timeout_s=0.4, retry_initial_s=0.05, retry_max_s=0.2,
                       pickup_interval_s=0.05, fanout_concurrency=50, max_bulk_without_yes=10)

MQTT_LAMP_PROFILE = """
name = "test-mqtt-lamp"
kind = "lamp_controller"
transport = "mqtt"
description = "A lamp controller that takes commands over MQTT"

[mqtt]
[[mqtt.metrics]]
name = "dim_level_pct"
unit = "%"

[commands.set_dim]
min = 0
max = 100

[commands.switch]

[commands.flash]
"""


def modbus_lamp(device_id: str, port: int, unit: int, *, group: str = "pier", site: str = "harbour",
                latitude: float = 23.13, longitude: float = 113.26, tags: Mapping[str, str] | None = None) -> Device:
    return Device(id=device_id, kind="lamp_controller", profile=LAMP_PROFILE,
                  address=ModbusTcpAddress(host="127.0.0.1", port=port, unit=unit),
                  location=Location(latitude=latitude, longitude=longitude), site=site, groups=(group,),
                  tags=dict(tags or {}))


def mqtt_lamp(device_id: str, *, group: str = "quay", site: str = "harbour") -> Device:
    return Device(id=device_id, kind="lamp_controller", profile="test-mqtt-lamp", address=MqttAddress(),
                  location=Location(latitude=45.8, longitude=126.53), site=site, groups=(group,))


def lamp_server(units: int, port: int = 0) -> ModbusSimServer:
    """Lamp controllers at unit ids 1..units behind one Modbus TCP port (0: a free one)."""
    profile = shipped_profiles()[LAMP_PROFILE]
    return ModbusSimServer(dict.fromkeys(range(1, units + 1), profile), port=port)


@dataclass
class Rig:
    db: Database
    registry: Registry
    store: CommandStore
    schedules: ScheduleLibrary

    async def add(self, devices: Sequence[Device]) -> None:
        for device in devices:
            await self.registry.add(device, by="test")

    def dispatcher(self, channels: Mapping[str, DeliveryChannel], settings: ControlSettings = FAST) -> Dispatcher:
        return Dispatcher(self.store, RegistryLookup(self.registry), channels, settings=settings,
                          schedules=self.schedules, zone=SHANGHAI)


@asynccontextmanager
async def open_rig(url: str) -> AsyncIterator[Rig]:
    async with open_database(DatabaseUrl.parse(url)) as db:
        registry = Registry(db)
        await registry.migrate()
        await registry.add_profile(MQTT_LAMP_PROFILE, "toml", source="test", by="test")
        store = await CommandStore.open(db)
        yield Rig(db, registry, store, ScheduleLibrary.load())


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """On the embedded SQLite store (the TimescaleDB path is covered by the store tests and a few others)."""
    async with open_rig(f"sqlite:///{tmp_path / 'sw.db'}") as opened:
        yield opened


@pytest.fixture
async def pool() -> AsyncIterator[BusPool]:
    async with BusPool(BusSettings(timeout_s=0.3)) as opened:
        yield opened


@pytest.fixture
def modbus(pool: BusPool) -> ModbusChannel:
    return ModbusChannel(pool)
