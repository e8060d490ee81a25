"""`streetwatch demo`: a district's street furniture, a storm, and what Streetwatch makes of it.

Everything runs in this one process on the embedded default: a SQLite store in the data
directory, an in-process MQTT broker on a free port, simulated lamp controllers (Modbus TCP),
culvert gauges (MQTT) and water-quality probes (Modbus TCP) around Baiyun, Guangzhou, the gateway
with the rules engine and remote control, and the night lighting schedule.

The story: about 30 s in, a rainstorm starts; culvert levels rise; yellow, orange and red flood
alerts are raised; the red one sets the lamps at that hazard point to 100 %; the water drains and
the alerts clear. :class:`DemoSummary` says whether that happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from control import AssignmentStore
from device_registry import Registry, read_csv
from gateway.composition.demo_console import DemoConsole, demo_console
from gateway.composition.embedded_broker import embedded_broker
from gateway.composition.runtime import Gateway, RunOptions
from gateway.composition.services import default_services
from simulators.fleet import Fleet
from simulators.rain import Rainfall
from simulators.scenario import Scenario
from streetwatch.clock import SystemClock
from streetwatch.config import Settings
from streetwatch.database import Database, open_database

log = logging.getLogger(__name__)

DEMO_RULES_DIR = Path(__file__).parent / "demo_rules"
FLOOD_RULE = "culvert-water-level"
STORY_SEVERITIES = ("yellow", "orange", "red")


def demo_scenario(*, lamps: int = 300, gauges: int = 12, probes: int = 3, rain: str = "30s+120s@80mm/h",
                  seed: int = 1) -> Scenario:
    return Scenario(lamps=lamps, gauges=gauges, probes=probes, rainfall=Rainfall.parse(rain), seed=seed,
                    gauge_interval_s=2.0, probe_interval_s=5.0, lamp_poll_interval_s=5.0)


@dataclass
class DemoSummary:
    readings_stored: int = 0
    raised: dict[str, int] = field(default_factory=dict)  # flood alerts that reached each severity
    cleared: int = 0
    still_open: int = 0
    commands: int = 0
    deliveries_confirmed: int = 0
    rule_deliveries_confirmed: int = 0
    devices_online: int = 0
    devices: int = 0

    def problems(self) -> list[str]:
        """What is missing from the story (empty: it all happened)."""
        missing = []
        if self.readings_stored == 0:
            missing.append("no readings were stored")
        missing += [f"no {severity} flood alert was raised" for severity in STORY_SEVERITIES
                    if not self.raised.get(severity)]
        if self.rule_deliveries_confirmed == 0:
            missing.append("no lamp confirmed the red alert's 100 % command")
        if self.cleared == 0 or self.still_open:
            missing.append(f"{self.still_open} flood alert(s) still open: the water has not drained yet")
        return missing

    def lines(self) -> list[str]:
        raised = ", ".join(f"{s} {self.raised.get(s, 0)}" for s in STORY_SEVERITIES)
        return [
            f"readings stored:       {self.readings_stored:,}",
            f"devices online:        {self.devices_online} of {self.devices}",
            f"flood alerts raised:   {raised} (cleared {self.cleared}, still open {self.still_open})",
            f"commands:              {self.commands} ({self.deliveries_confirmed:,} deliveries confirmed, "
            f"{self.rule_deliveries_confirmed} from flood rules)",
        ]


async def summarise(db: Database, gateway: Gateway) -> DemoSummary:
    summary = DemoSummary()
    summary.readings_stored = int(await db.fetch_value("SELECT count(*) AS n FROM readings") or 0)
    rows = await db.fetch_all(
        "SELECT peak_severity, state, count(*) AS n FROM alerts WHERE rule = ? GROUP BY peak_severity, state",
        (FLOOD_RULE,))
    order = {s: i for i, s in enumerate(STORY_SEVERITIES)}
    for row in rows:
        peak, n = row["peak_severity"], int(row["n"])
        for severity in STORY_SEVERITIES[: order.get(peak, -1) + 1]:
            summary.raised[severity] = summary.raised.get(severity, 0) + n
        if row["state"] in ("cleared", "closed"):
            summary.cleared += n
        else:
            summary.still_open += n
    summary.commands = int(await db.fetch_value("SELECT count(*) AS n FROM control_commands") or 0)
    summary.deliveries_confirmed = int(await db.fetch_value(
        "SELECT count(*) AS n FROM control_deliveries WHERE status = 'confirmed'") or 0)
    summary.rule_deliveries_confirmed = int(await db.fetch_value(
        "SELECT count(*) AS n FROM control_deliveries d JOIN control_commands c ON c.id = d.command_id "
        "WHERE d.status = 'confirmed' AND c.requester LIKE 'rule:%'") or 0)
    if gateway.states is not None:
        summary.devices_online = gateway.states.online
    summary.devices = len(gateway.directory) if gateway.directory is not None else 0
    return summary


async def _register(settings: Settings, fleet: Fleet) -> int:
    csv_path = settings.data_dir / "demo-devices.csv"
    fleet.write_csv(csv_path)
    async with open_database(settings.database) as db:
        registry = Registry(db, profiles_dir=settings.profiles_dir)
        await registry.migrate()
        report = await registry.import_devices(read_csv(csv_path.read_text()), by="demo")
        sites = sorted({d.site for d in fleet.registered if d.site})
        assignments = await AssignmentStore.open(db)
        for site in sites:
            await assignments.assign("site", site, "night", by="demo")
    return report.added


def demo_settings(base: Settings, mqtt_url: str) -> Settings:
    data_dir = base.data_dir / "demo"
    rules_dir = data_dir / "rules"
    return base.model_copy(update={
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'streetwatch.db'}",
        "mqtt_url": mqtt_url,
        "rules_dir": rules_dir,
        "gateway": base.gateway.model_copy(update={"metrics_port": None, "api_port": None}),
        # The in-process broker speaks MQTT 3.1.1 only.
        "mqtt": base.mqtt.model_copy(update={"protocol": "3.1.1", "shared_group": None, "ca_file": None,
                                             "cert_file": None, "key_file": None}),
    })


def _fresh_demo_dir(settings: Settings) -> None:
    """Each demo starts from nothing, so the story is the same every time."""
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    rules_dir = settings.rules_dir
    assert rules_dir is not None
    rules_dir.mkdir(parents=True)
    # rules_dir adds to the shipped rules; a file of the same name replaces the shipped culverts.yaml.
    shutil.copy(DEMO_RULES_DIR / "culverts.yaml", rules_dir / "culverts.yaml")


Reporter = Callable[[float, DemoSummary, Fleet, Gateway], None]
Announcer = Callable[[DemoConsole], None]


async def run_demo(base: Settings, *, duration_s: float | None, scenario: Scenario,
                   report: Reporter, report_every_s: float = 1.0,
                   announce: Announcer | None = None) -> DemoSummary:
    """Run the demo for ``duration_s`` (None: until cancelled) and return what happened.

    With ``announce``, the operator console is served while the demo runs and ``announce`` is
    told its address and the demo login once it answers.
    """
    async with embedded_broker() as mqtt_url:
        settings = demo_settings(base, mqtt_url)
        _fresh_demo_dir(settings)
        async with Fleet(scenario, mqtt_url=mqtt_url, lamp_initial_dim_pct=60) as fleet:
            await _register(settings, fleet)
            gateway = Gateway(settings, services=default_services(),
                              options=RunOptions(registry_check_s=2.0))
            started = time.monotonic()
            fleet_task = asyncio.create_task(fleet.run(), name="demo-fleet")
            gateway_task = asyncio.create_task(gateway.run(), name="demo-gateway")
            ready = asyncio.create_task(gateway.ready.wait(), name="demo-gateway-ready")
            try:
                await asyncio.wait([ready, gateway_task, fleet_task], return_when=asyncio.FIRST_COMPLETED)
                for task in (gateway_task, fleet_task):
                    if task.done():
                        task.result()  # a failure to start ends the demo with its reason
                        raise RuntimeError(f"{task.get_name()} ended early")
                async with open_database(settings.database) as db, contextlib.AsyncExitStack() as stack:
                    if announce is not None:
                        announce(await stack.enter_async_context(demo_console(settings, db, SystemClock())))
                    summary = DemoSummary()
                    while duration_s is None or time.monotonic() - started < duration_s:
                        await asyncio.sleep(report_every_s)
                        for task in (gateway_task, fleet_task):
                            if task.done():
                                task.result()
                        summary = await summarise(db, gateway)
                        report(time.monotonic() - started, summary, fleet, gateway)
            finally:
                ready.cancel()
                gateway.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(gateway_task, timeout=15)
                fleet_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fleet_task
            async with open_database(settings.database) as db:
                return await summarise(db, gateway)
