"""A composed service gets the readings and online/offline changes, runs its own task, and is closed on stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from benchmarks.servers import free_port
from gateway.composition.runtime import Gateway, GatewayContext, RunOptions, ServiceSpec, running
from streetwatch.readings import Reading
from tests.gateway.conftest import eventually, gateway_settings, http_get, modbus_device, register
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
        spec = ServiceSpec("rules", open_rules)
        gateway = Gateway(gateway_settings(tmp_path, url), services=[spec], options=RunOptions(mqtt=False))
        async with running(gateway):
            (rules,) = services
            await eventually(lambda: len(rules.readings) >= 24 and rules.ticks > 2, what="readings and ticks")
            assert rules.status == [("LP-0", True)]
            assert {r.metric for r in rules.readings} >= {"power_w", "supply_voltage_v"}
            assert rules.ctx.directory.devices["LP-0"].poll_interval_s == 0.1
    assert rules.closed


async def test_a_rule_file_with_mistakes_is_left_out_and_shown_in_health_and_metrics(
        tmp_path: Path, mqtt_url: str) -> None:
    # The gateway starts (no crash loop) with the shipped rules and the good extra file; the bad one is named.
    import json

    from gateway.composition.services import open_rules
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "extra.yaml").write_text("rules:\n  - {name: extra, kind: threshold, metric: m, levels: {red: 1}}\n")
    (rules_dir / "broken.yaml").write_text("rules:\n  - {name: deep, kind: condition, severity: red, when: \""
                                           + "not " * 3000 + "x\"}\n")
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    api, metrics = free_port(), free_port()
    settings = gateway_settings(tmp_path, url, mqtt_url, api_port=api, metrics_port=metrics)
    settings = settings.model_copy(update={"rules_dir": rules_dir})
    spec = ServiceSpec("rules", lambda ctx: open_rules(ctx, None))
    gateway = Gateway(settings, services=[spec], options=RunOptions(modbus=False))
    async with running(gateway):
        async def served() -> bool:
            return (await http_get(f"http://127.0.0.1:{api}/health"))[0] == 200
        await eventually(served, what="the gateway serving")
        code, body = await http_get(f"http://127.0.0.1:{api}/health")
        health = json.loads(body)
        assert code == 200 and health["status"] == "degraded"
        (problem,) = health["problems"]["rules"]
        assert problem.startswith(f"rule file {rules_dir / 'broken.yaml'} not loaded: 1 problem(s), first: "
                                  f"{rules_dir / 'broken.yaml'}:2: rules[0].when: longer than 500 characters")
        _, text = await http_get(f"http://127.0.0.1:{metrics}/metrics")
        assert 'streetwatch_service_problems{service="rules"} 1.0' in text
