"""The one owner of the Modbus buses of a process: bus key → :class:`ModbusBus`.

A serial line, or an RTU-over-TCP converter, carries one request at a time, and many converters
accept a single TCP connection. So every part of the gateway that talks Modbus (the poller, the
command dispatcher, the probe) takes its bus from the one pool the composition root opens: one
client and one lock per physical bus, whoever asks.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

from device_drivers.errors import DriverError
from device_drivers.modbus.bus import ModbusBus
from device_drivers.modbus.endpoint import BusSettings, Endpoint, ModbusAddress


class BusPool:
    """Bus key → :class:`ModbusBus`, each opened on first use; leaving the pool closes them all.

    >>> pool = BusPool(BusSettings(timeout_s=2.0))
    >>> len(pool)
    0
    """

    def __init__(self, settings: BusSettings | None = None) -> None:
        self.settings = settings or BusSettings()
        self._buses: dict[str, ModbusBus] = {}
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        self._stack = AsyncExitStack()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        stack, self._stack = self._stack, None
        self._buses.clear()
        if stack is not None:
            await stack.aclose()

    async def bus_for(self, address: ModbusAddress) -> ModbusBus:
        """The bus a device's address is on (the same object for every device with that bus key)."""
        return await self.bus_at(Endpoint.of(address))

    async def bus_at(self, endpoint: Endpoint) -> ModbusBus:
        """The bus at ``endpoint``, opened on first use."""
        if self._stack is None:
            raise DriverError("the bus pool is not open: use `async with BusPool(...)`")
        bus = self._buses.get(endpoint.key)
        if bus is None:
            bus = ModbusBus(endpoint, self.settings)
            self._buses[endpoint.key] = bus  # registered before the await so concurrent callers share it
            await self._stack.enter_async_context(bus)
        return bus

    async def disconnect(self, key: str) -> None:
        """Close the connection of the bus ``key`` (no device is polled there any more).

        The bus itself stays in the pool: another user (a command to that address) connects again.
        """
        bus = self._buses.get(key)
        if bus is not None:
            await bus.disconnect()

    def __contains__(self, key: object) -> bool:
        return key in self._buses

    def __len__(self) -> int:
        return len(self._buses)
