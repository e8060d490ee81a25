"""Benchmark: from a reading's arrival to the first notification handed to its channel, with open
alerts escalating at the same time.

    streetwatch bench rules-duty                          # SQLite in a temp dir, a throwaway Mosquitto
    streetwatch bench rules-duty --postgres               # a throwaway PostgreSQL+TimescaleDB instead
    streetwatch bench rules-duty --escalating 1000 --step-wait 10 --rate 20000

The rules benchmark's pipeline (``streetwatch bench rules``: the shipped rules on the real store and a real
broker, background readings at ``--rate`` per second, now and then a probe gauge jumping to 900 mm) with
the duty service composed as ``streetwatch run`` composes it: woken when an alert is announced, it starts
the escalation, runs its first step (rota, contacts, acknowledgement link, outbox, one transaction) and
delivers the outbox. Each probe's latency runs from its arrival in the readings queue to its first SMS
handed to the SMS channel (a channel that takes the message and records the time: the provider is not
part of the measurement).

Three phases in one run: no background load; the background load with no other escalation running (the
same-run figure without escalation); and the same load with ``--escalating`` open red alerts escalating
all the while, a step every ``--step-wait`` seconds each (a policy that repeats until acknowledged), so
their steps and notifications compete with the probes' first ones.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.rules import (
    CountingCommands,
    Probes,
    _percentiles,
    _services,
    bench_rules,
    fleet,
    pipeline_arguments,
    run_phase,
)
from device_registry.device import Device
from duty.ack_links import AckSigner
from duty.channels import Outgoing
from duty.delivery import Deliverer
from duty.escalation import Escalator
from duty.files import parse_duty_text
from duty.outbox import Outbox
from duty.recipients import Place
from duty.roster import Roster
from duty.service import DutyService
from people import Areas
from rules.alert_store import AlertStore
from rules.alerts import Alert, AlertEvent, AlertTransition
from rules.runner import RulesService
from streetwatch.clock import SystemClock
from streetwatch.config import DatabaseUrl, Settings
from streetwatch.database import Database, open_database
from streetwatch.gc_tuning import tuned_gc
from streetwatch.mqtt import MqttTransport

PROBE_GAUGES = 1000
DUTY_FILE = """
rotas:
  - area: bench
    shifts: [{{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "00:00", person: officer}}]
policies:
  - severity: red
    repeat: true
    steps: [{{notify: on_duty, up: 0, wait: {wait}s, channels: [sms]}}]
"""


@dataclass
class RecordingSms:
    """The SMS channel: takes each message and records when; the first message of a probe's alert is a sample."""

    probes: Probes
    alert_devices: dict[int, str] = field(default_factory=dict)
    first: list[float] = field(default_factory=list)
    handed: int = 0
    _seen: set[int] = field(default_factory=set)

    async def send(self, message: Outgoing) -> None:
        self.handed += 1
        alert_id = int(message.key.split(":", 1)[0])
        device = self.alert_devices.get(alert_id)
        start = self.probes.arrived.get(device) if device is not None else None
        if start is not None and alert_id not in self._seen:
            self._seen.add(alert_id)
            self.first.append(time.perf_counter() - start)


async def _city(db: Database, wait_s: float) -> Roster:
    roster = Roster(db, parse_duty_text(DUTY_FILE.format(wait=wait_s), ".yaml", "bench.yaml"), "Asia/Shanghai")
    await roster.migrate()
    await Areas(db).add("bench", "Bench district", level="district")
    await roster.contacts.add("officer", "sms", "+8613800000000")
    return roster


async def _place(alert: Alert) -> Place:
    return Place(alert.device_id, "bench")


async def _open_alerts(store: AlertStore, count: int) -> None:
    """``count`` red alerts of devices outside the fleet (the engine does not follow them): they only escalate."""
    now = SystemClock().now()
    for i in range(count):
        await store.apply(AlertTransition(i + 1, AlertEvent.raised, "culvert-water-level", f"ESC-{i:05d}", "red",
                                          None, now, device_kind="culvert_gauge", metric="water_level_mm",
                                          value=900.0, threshold=800.0))


async def _escalating(db: Database) -> int:
    """The open alerts (not the probes') whose chain has run its first step."""
    return int(await db.fetch_value(
        "SELECT count(*) FROM duty_escalations e JOIN alerts a ON a.id = e.alert_id "
        "WHERE e.stopped_at IS NULL AND e.step > 0 AND a.device_id LIKE 'ESC-%'") or 0)


async def main_async(args: argparse.Namespace) -> None:
    devices = fleet(args.lamps, args.gauges, args.probes, PROBE_GAUGES)
    with tempfile.TemporaryDirectory(prefix="rules-duty-bench-") as tmp:
        async with _services(args, Path(tmp)) as (mqtt_url, database_url):
            url = DatabaseUrl.parse(database_url)
            print(f"fleet: {len(devices)} devices; store: {url.backend}; broker: {mqtt_url}")
            probes = Probes()
            sms = RecordingSms(probes)
            settings = Settings(mqtt_url=mqtt_url, data_dir=Path(tmp))
            clock = SystemClock()
            async with open_database(url) as db:
                roster = await _city(db, args.step_wait)
                alerts = AlertStore(db)
                outbox = Outbox(db)
                escalator = Escalator(roster, alerts, outbox, AckSigner(b"b" * 32), _place, clock=clock)
                duty = DutyService(escalator, Deliverer(outbox, {"sms": sms}, clock=clock), roster.contacts,
                                   tick_s=1.0)

                def announced(transition: AlertTransition | None, alert: Alert) -> None:
                    probes.on_announced(transition, alert)
                    sms.alert_devices[alert.id] = alert.device_id
                    duty.wake()

                async with RulesService(db, settings, clock=clock, mqtt=MqttTransport.from_settings(settings),
                                        devices=devices, commands=CountingCommands(),
                                        on_announced=announced) as service, asyncio.TaskGroup() as group:
                    service.apply_rules(bench_rules())
                    # As `streetwatch run` does once started ([gateway] gc_tuning), and undone afterwards.
                    with tuned_gc(settings.gateway.gc_thresholds):
                        runner = group.create_task(duty.run(), name="duty")
                        results = await _phases(args, service, devices, probes, sms, db, alerts, duty)
                        runner.cancel()
    print(f"\nescalation: a step every {args.step_wait:g} s for each open alert, one SMS a step; "
          f"{sms.handed:,} SMS handed to the channel in the run")
    for label, figures, published, first, extra in results:
        print(f"\n{label}: achieved {figures['readings_per_s']:,.0f} readings/s{extra}")
        print(f"  arrival → alert stored + published (PUBACK): {_percentiles(published)}")
        print(f"  arrival → first SMS handed to its channel:   {_percentiles(first)}")


async def _phases(args: argparse.Namespace, service: RulesService, devices: dict[str, Device], probes: Probes,
                  sms: RecordingSms, db: Database, alerts: AlertStore, duty: DutyService
                  ) -> list[tuple[str, dict[str, float], list[float], list[float], str]]:
    results: list[tuple[str, dict[str, float], list[float], list[float], str]] = []
    phases = (("no background load, no escalation", 0.0, args.baseline_seconds, 0),
              (f"{args.rate:,.0f} readings/s, no other escalation", args.rate, args.seconds, 0),
              (f"{args.rate:,.0f} readings/s, {args.escalating:,} open alerts escalating", args.rate, args.seconds,
               args.escalating))
    probe = 0
    for label, rate, seconds, escalating in phases:
        if escalating:
            await _open_alerts(alerts, escalating)
            duty.wake()
            for _ in range(1200):  # until the open alerts' first steps have run (10 min at most)
                if await _escalating(db) >= escalating:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(args.step_wait)  # past their first steps' burst: steps now come due all the while
            print(f"{escalating:,} open alerts escalating: first steps run, {sms.handed:,} SMS handed so far")
        sms.first.clear()
        probes.published.clear()
        handed, steps, started = sms.handed, duty.escalator.steps_run, time.perf_counter()
        figures = await run_phase(service, devices, rate=rate, seconds=seconds,
                                  probes_per_s=args.probes_per_s, probes=probes, first_probe=probe,
                                  probe_gauges=PROBE_GAUGES)
        probe += int(seconds * args.probes_per_s * 3) + 10
        await asyncio.sleep(1.5)  # the last probes' first steps
        took = time.perf_counter() - started
        extra = (f"; {(duty.escalator.steps_run - steps) / took:,.0f} escalation steps/s, "
                 f"{(sms.handed - handed) / took:,.0f} SMS/s handed" if escalating else "")
        results.append((label, figures, list(probes.published), list(sms.first), extra))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streetwatch bench rules-duty", description=__doc__.split("\n\n")[0])
    pipeline_arguments(parser, probes_per_s=3)
    parser.add_argument("--escalating", type=int, default=1_000, help="open alerts escalating in the last phase")
    parser.add_argument("--step-wait", type=float, default=10, help="seconds between an open alert's steps")
    args = parser.parse_args(argv)
    if (args.seconds * 2 + args.baseline_seconds) * args.probes_per_s * 3 + 30 > PROBE_GAUGES:
        parser.error(f"too many probes for {PROBE_GAUGES} probe gauges: fewer --probes-per-s or shorter phases")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

