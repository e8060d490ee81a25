"""A composed service gets the readings and online/offline changes, runs its own task, and is closed on stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from gateway.composition.runtime import Gateway, GatewayContext, RunOptions, ServiceSpec, running
from streetwatch.readings import Reading
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, register
from tests.gateway.test_poller import lamp_servers


class Rules:
    """Stands in for the rules engine: what it is given, it keeps."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.readings: list[Reading] = []
        self.status: list[tuple[str, bool]] = []
        self.ticks = 0
        self.closed = False

    async def on_readings(self, batch: Sequence[Reading]) -> None:
        self.readings += batch

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        self.status.append((device_id, online))

    async def run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.05)


async def test_a_service_is_composed_in_a_few_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    services: list[Rules] = []

    @asynccontextmanager
    async def open_rules(ctx: GatewayContext) -> AsyncIterator[Rules]:
        service = Rules(ctx)
        services.append(service)
        try:
            yield service
        finally:
            service.closed = True

    async with lamp_servers(1) as (server,):
        await register(url, [modbus_device("LP-0", server.port, interval_s=0.1)])
        spec = ServiceSpec("rules", open_rules, needs_devices=True)
        gateway = Gateway(gateway_settings(tmp_path, url), services=[spec], options=RunOptions(mqtt=False))
        async with running(gateway):
            (rules,) = services
            await eventually(lambda: len(rules.readings) >= 24 and rules.ticks > 2, what="readings and ticks")
            assert rules.status == [("LP-0", True)]
            assert {r.metric for r in rules.readings} >= {"power_w", "supply_voltage_v"}
            assert rules.ctx.directory.devices["LP-0"].poll_interval_s == 0.1  # whole devices, as asked
    assert rules.closed
