"""Device bus key → :class:`ModbusBus`: devices on one physical bus share one bus object and its lock."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

from device_drivers.errors import DriverError
from device_drivers.modbus.bus import ModbusBus
from device_drivers.modbus.endpoint import BusSettings, Endpoint, ModbusAddress


class BusPool:
    """Device bus key → :class:`ModbusBus`, each opened on first use; leaving the pool closes them all.

    >>> pool = BusPool(BusSettings(timeout_s=2.0))
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
        if self._stack is None:
            raise DriverError("the bus pool is not open: use `async with BusPool(...)`")
        key = address.bus_key
        bus = self._buses.get(key)
        if bus is None:
            bus = ModbusBus(Endpoint.of(address), self.settings)
            self._buses[key] = bus  # registered before the await so concurrent callers share it
            await self._stack.enter_async_context(bus)
        return bus

    def __len__(self) -> int:
        return len(self._buses)
