"""Start a profile-driven Modbus server and a bus to it, on any of the three transports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from device_drivers.modbus import BusKind, BusSettings, Endpoint, ModbusBus
from device_registry.profile import Profile
from simulators.modbus_server import ModbusSimServer
from tests.fixtures.serial_pair import SerialPair

KINDS: tuple[BusKind, ...] = ("tcp", "rtu-over-tcp", "rtu")
BAUD = 115200


@asynccontextmanager
async def served(kind: BusKind, units: Mapping[int, Profile], serial: SerialPair | None = None,
                 settings: BusSettings | None = None, **server_options: object,
                 ) -> AsyncIterator[tuple[ModbusSimServer, ModbusBus]]:
    settings = settings or BusSettings(timeout_s=0.3)
    if kind == "rtu":
        assert serial is not None
        server = ModbusSimServer(units, kind="rtu", serial_port=serial.server, baudrate=BAUD,
                                 **server_options)  # type: ignore[arg-type]
        endpoint = Endpoint("rtu", serial_port=serial.client, baudrate=BAUD)
    else:
        server = ModbusSimServer(units, kind=kind, **server_options)  # type: ignore[arg-type]
    async with server:
        if kind != "rtu":
            endpoint = Endpoint(kind, host="127.0.0.1", port=server.port)
        async with ModbusBus(endpoint, settings) as bus:
            yield server, bus
