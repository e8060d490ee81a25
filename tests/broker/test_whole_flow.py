"""The whole flow over ``mqtts://`` on a Mosquitto run from exactly what ``streetwatch broker config``
wrote: the project's CA, the password file written by Python, the ACL generated from the registry.

The gateway logs in with its generated account (``~gateway``); the simulated gauges and the lamp each
log in with the credentials ``streetwatch device credentials issue`` gave them; the operators' account
reads the alerts. Telemetry is stored, a rule raises an alert that is published, the rule's lamp
command is sent and confirmed by the lamp's own ``cmd/ack``, and ``device probe`` hears a gauge. The
broker's log must show no denied publish of any of them (the generated ACL gives every party what it
needs) but the two forgeries: a gauge reporting for the other gauge, and the gateway's account writing a
device's telemetry; neither reading reaches the store.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from benchmarks.servers import free_port
from control import CommandStore
from control.model import DeliveryStatus
from gateway.cli import main
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import default_services
from simulators import Fleet, Scenario
from simulators.fleet import plan_fleet
from streetwatch import topics
from streetwatch.config import DatabaseUrl, Settings
from streetwatch.database import open_database
from streetwatch.mqtt import MqttTransport, TlsFiles
from telemetry_store import open_store
from tests.broker.conftest import Install
from tests.control.conftest import MQTT_LAMP_PROFILE
from tests.control.mqtt_device import MqttTestLamp
from tests.gateway.conftest import eventually, gateway_settings, http_get
from tests.rules.mqtt_support import Subscriber

pytestmark = pytest.mark.services

# Every simulated gauge reports a battery above 1 V: the first reading raises the alert.
RULE = """
rules:
  - name: secure-flow
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: battery_v
    direction: above
    levels: {red: 1.0}
    actions:
      - at: red
        action: set_dim
        target: group
        groups_matching: "hazard-*"
        params: {level_pct: 100}
"""
LAMP = "LT-S1"
FORGED = b'{"battery_v": 0.123}'  # a value no simulated gauge reports


def _settings(install: Install, database_url: str, gateway_url: str, api_port: int) -> Settings:
    rules_dir = install.root / "rules"
    rules_dir.mkdir()
    (rules_dir / "secure.yaml").write_text(RULE)
    base = gateway_settings(install.root, database_url, gateway_url, api_port=api_port)
    return base.model_copy(update={"rules_dir": rules_dir,
                                   "mqtt": base.mqtt.model_copy(update={"ca_file": install.ca})})


async def _deliveries(database_url: str) -> list[tuple[str, DeliveryStatus]]:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        store = await CommandStore.open(db)
        return [(d.device_id, d.status) for progress in await store.recent(limit=5)
                for d in await store.deliveries(progress.command.id)]


async def test_ingest_alerts_commands_and_probe_over_the_generated_broker_configuration(
        install: Install, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = Scenario(gauges=2, gauge_interval_s=0.5, id_prefix="S-", per_device_clients=True)
    gauge_ids = [d.id for d in plan_fleet(scenario).devices]
    for device_id in gauge_ids:  # at the hazard point whose lamps the rule turns up
        code, _, err = install.cli("device", "add", device_id, "--kind", "culvert_gauge", "--profile",
                                   "sw-culvert-gauge-mqtt", "--transport", "mqtt", "--group", "hazard-1",
                                   "--lat", "23.1", "--lon", "113.3")
        assert code == 0, err
        install.issue(device_id)
    profile = install.root / "lamp.toml"
    profile.write_text(MQTT_LAMP_PROFILE)
    assert install.cli("profile", "add", str(profile))[0] == 0
    code, _, err = install.cli("device", "add", LAMP, "--kind", "lamp_controller", "--profile", "test-mqtt-lamp",
                               "--transport", "mqtt", "--group", "hazard-1", "--lat", "23.1", "--lon", "113.3")
    assert code == 0, err
    install.issue(LAMP)
    install.reload()  # the new devices' passwords reach the broker

    where = f"localhost:{install.broker.port}"
    gateway_url = f"mqtts://{quote('~gateway')}:{quote(install.passwords['~gateway'], safe='')}@{where}"
    api_port = free_port()
    database_url = f"sqlite:///{install.root / 'data' / 'streetwatch.db'}"
    settings = _settings(install, database_url, gateway_url, api_port)
    devices = MqttTransport.from_url(f"mqtts://{where}", TlsFiles(ca_file=install.ca))
    operator = devices.as_user("~operator", install.passwords["~operator"])
    gateway = Gateway(settings, services=default_services(), options=RunOptions(modbus=False))
    assert gateway.mqtt is not None
    async with MqttTestLamp(devices.as_user(LAMP, install.passwords[LAMP]), LAMP) as lamp, \
            Subscriber(operator, "streetwatch/alerts/#") as alerts, running(gateway):
        await eventually(lambda: all(c.connected for c in gateway.mqtt.clients)  # type: ignore[union-attr]
                         and len(gateway.mqtt.clients) == 3, what="the gateway's three clients logged in")
        async with Fleet(scenario, mqtt=devices, passwords={i: install.passwords[i] for i in gauge_ids}) as fleet:
            topic, alert = await alerts.next(timeout_s=20)
            assert re.fullmatch(r"streetwatch/alerts/red/S-CG-\d+", topic) and alert["event"] == "raised"
            await eventually(lambda: lamp.dim_level_pct == 100, what="the lamp dimmed")
            await eventually(lambda: _confirmed(database_url), timeout_s=20,
                             what="the command confirmed by the lamp's ack")
            await eventually(lambda: gateway.pipeline is not None and gateway.pipeline.stored_readings >= 6,
                             what="both gauges' readings stored")

            monkeypatch.setenv("STREETWATCH_MQTT_URL", gateway_url)
            monkeypatch.setenv("STREETWATCH_MQTT__CA_FILE", str(install.ca))
            capsys.readouterr()
            probed = await asyncio.to_thread(main, ["device", "probe", gauge_ids[0], "--timeout", "15"])
            out = capsys.readouterr().out
            assert probed == 0, out
            assert "water_level_mm" in out and "battery_v" in out
            assert fleet.mqtt is not None and fleet.mqtt.stats.connects == 2

            # A gauge cannot report for the other one, and the gateway's account cannot write telemetry at all.
            async with devices.as_user(gauge_ids[0], install.passwords[gauge_ids[0]]).client("t-spoof") as spoof:
                await spoof.publish(topics.telemetry(gauge_ids[1]), FORGED, qos=1)
            async with devices.as_user("~gateway", install.passwords["~gateway"]).client("t-forger") as forger:
                await forger.publish(topics.telemetry(gauge_ids[1]), FORGED, qos=1)
            await asyncio.sleep(1)  # a reading let through would be stored by now (flush interval 50 ms)
        code, health = await http_get(f"http://127.0.0.1:{api_port}/health")
    assert code == 200 and json.loads(health)["mqtt"] == {
        name: {"ready": True, "reason": None} for name in ("intake", "control", "alerts")}
    assert lamp.received and {c["action"] for c in lamp.received} == {"set_dim"}  # one per gauge's alert
    log = install.broker.log
    denied = [line for line in log.splitlines() if "Denied PUBLISH" in line]
    assert len(denied) == 2 and "t-spoof" in denied[0] and "t-forger" in denied[1], denied
    async with open_store(DatabaseUrl.parse(database_url)) as store:
        batteries = [r.value for r in await store.history(gauge_ids[1], "battery_v", datetime.now(UTC) - timedelta(
            hours=1), datetime.now(UTC) + timedelta(hours=1))]
    assert batteries and 0.123 not in batteries
    client_id = settings.mqtt.client_id
    for who, user in ((client_id, "~gateway"), (f"{client_id}-control", "~gateway"),
                      (f"{client_id}-alerts", "~gateway"), (f"streetwatch-probe-{gauge_ids[0]}", "~gateway"),
                      (f"test-lamp-{LAMP}", LAMP)):
        assert re.search(rf"New client connected from \S+ as {re.escape(who)} \(.*u'{re.escape(user)}'\)", log), who


async def _confirmed(database_url: str) -> bool:
    return (LAMP, DeliveryStatus.confirmed) in await _deliveries(database_url)
