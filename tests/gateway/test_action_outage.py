"""A rule's command outlives a database outage: a red flood alert raised while PostgreSQL is down
dims the hazard point's lamp once the database is back, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.servers import PostgresServer
from device_registry import Device
from device_registry.profile import shipped_profiles
from gateway.composition.runtime import Gateway, GatewayContext, RunOptions, ServiceSpec, running
from gateway.composition.services import ControlService, open_control, open_rules
from rules.runner import RulesService
from simulators.modbus_server import ModbusSimServer, WriteEvent
from streetwatch.config import ControlSettings, DatabaseUrl
from streetwatch.database import open_database
from streetwatch.readings import Reading
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, mqtt_device, register

pytestmark = pytest.mark.services
FLOOD_RULE = """
rules:
  - name: underpass-flood
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {red: 800}
    actions:
      - {at: red, action: set_dim, target: group, groups_matching: "hazard-*", params: {level_pct: 100}}
"""


def in_group(device: Device, group: str) -> Device:
    return device.model_copy(update={"groups": (group,)})


def services(held: dict[str, object]) -> list[ServiceSpec]:
    @asynccontextmanager
    async def control(ctx: GatewayContext) -> AsyncIterator[ControlService]:
        async with open_control(ctx, schedules=False) as service:
            held["control"] = service
            yield service

    @asynccontextmanager
    async def rules(ctx: GatewayContext) -> AsyncIterator[RulesService]:
        control_service = held["control"]
        assert isinstance(control_service, ControlService)
        async with open_rules(ctx, control_service) as service:
            held["rules"] = service
            yield service

    return [ServiceSpec("control", control), ServiceSpec("rules", rules)]


async def test_a_rule_action_raised_during_an_outage_is_carried_out_once_after_it(
        tmp_path: Path, postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    # Named as the shipped culvert rules, so it replaces them: only this rule acts on the gauge.
    (rules_dir / "culverts.yaml").write_text(FLOOD_RULE)
    lamp = ModbusSimServer({1: shipped_profiles()["sw-lamp-controller"]})
    lamp.set_value(1, "supply_voltage_v", 230.0)
    dims: list[float] = []

    def on_write(event: WriteEvent) -> None:
        if "dim_level_pct" in event.metrics:
            dims.append(event.metrics["dim_level_pct"])

    lamp.on_write(on_write)
    async with lamp:
        await register(fresh_pg_url, [in_group(mqtt_device("CG-1"), "hazard-07"),
                                      in_group(modbus_device("LP-1", lamp.port, interval_s=0.5), "hazard-07")])
        settings = gateway_settings(tmp_path, fresh_pg_url, mqtt_url).model_copy(update={
            "rules_dir": rules_dir,
            "control": ControlSettings(retry_initial_s=0.1, retry_max_s=0.5, pickup_interval_s=0.1)})
        held: dict[str, object] = {}
        async with running(Gateway(settings, services=services(held), options=RunOptions(mqtt=False))):
            rules = held["rules"]
            assert isinstance(rules, RulesService)
            await eventually(lambda: lamp.request_count(1) >= 2, what="the lamp polled")
            postgres_server.stop()
            try:
                await rules.on_readings([Reading("CG-1", "water_level_mm", datetime.now(UTC), 950.0)])
                # The action is kept and tried again while the database is away; no lamp is dimmed yet.
                # (a submit waits up to 30 s for a connection before it counts as failed)
                await eventually(lambda: rules.engine.stats.action_retries >= 1, timeout_s=60,
                                 what="the action retried during the outage")
                assert dims == []
            finally:
                postgres_server.start()
            await eventually(lambda: dims == [100.0], timeout_s=60, what="the lamp dimmed to 100 %")
            await rules.engine.flush()
            assert rules.engine.stats.action_errors == 0
    assert dims == [100.0]  # once: the retries queued no second command
    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        rows = await db.fetch_all(
            "SELECT c.requester, d.device_id, d.status FROM control_commands c "
            "JOIN control_deliveries d ON d.command_id = c.id")
    assert [(r["requester"], r["device_id"], r["status"]) for r in rows] == [
        ("rule:underpass-flood", "LP-1", "confirmed")]
