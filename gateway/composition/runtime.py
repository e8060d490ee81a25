"""``streetwatch run``: one async process composing the intake, the store path and the services.

    async with asyncio.TaskGroup():   # one named task each
        mqtt-ingest    MQTT telemetry and status → journal → store path, subscribers
        modbus-poller  Modbus polls → journal → store path, subscribers
        store-writer   memory or journal → the telemetry store (gateway.intake.pipeline)
        subscribers    readings and online/offline changes → services (rules engine, …)
        recorder       dead letters, unregistered senders, online/offline changes → database
        registry-watch registry revision → device directory → poller
        maintenance    rollups and retention (telemetry_store.run_maintenance)
        metrics-http, api-http, and each service's own ``run()``

A service is composed with a :class:`ServiceSpec`: a name and a function that, given the
:class:`GatewayContext`, returns an async context manager. What it yields receives readings and
online/offline changes if it has ``on_readings``/``on_status`` (:class:`~gateway.intake.fanout.ReadingSubscriber`),
runs as a task if it has ``async def run()``, and what its ``problems()`` lists (a rule file left out)
shows in ``/health`` and the ``streetwatch_service_problems`` metric::

    ServiceSpec("rules", lambda ctx: RulesService(ctx.db, ctx.settings, clock=ctx.clock, mqtt=ctx.mqtt,
                                                  devices=ctx.directory.devices))

``gateway/composition/services.py`` lists the services ``streetwatch run`` composes.

:meth:`Gateway.stop` (SIGTERM, SIGINT) stops the intake first (acknowledging what is journaled),
writes what is in memory to the store, and leaves the rest in the journal: within ``stop_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from device_drivers.modbus import BusPool, BusSettings
from device_registry import Registry
from gateway.composition.components import all_migrations
from gateway.composition.http import bind, create_api, metrics_app, serve
from gateway.composition.metrics import GatewayMetrics
from gateway.intake.decode import RecordDecoder
from gateway.intake.describe import describe_device
from gateway.intake.device_state import DeviceStates
from gateway.intake.directory import DeviceDirectory
from gateway.intake.fanout import Fanout, ReadingSubscriber
from gateway.intake.journal import Journal
from gateway.intake.mqtt_ingest import MqttIngest
from gateway.intake.pipeline import StorePipeline
from gateway.intake.recorder import Recorder
from gateway.intake.records import GatewayRecords
from gateway.poller.poller import ModbusPoller
from hydrology import DailyReports, SectionStore
from streetwatch import migrations
from streetwatch.backoff import Backoff
from streetwatch.clock import Clock, SystemClock
from streetwatch.config import Settings
from streetwatch.database import Database, DatabaseUnavailable, open_database
from streetwatch.gc_tuning import Thresholds, tuned_gc
from streetwatch.mqtt import MqttTransport
from telemetry_store import StoreUnavailable, TelemetryStore, open_store, run_maintenance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayContext:
    """What a composed service may use."""

    settings: Settings
    clock: Clock
    db: Database
    registry: Registry
    directory: DeviceDirectory
    store: TelemetryStore
    states: DeviceStates
    buses: BusPool
    """The one owner of every Modbus bus: the poller, the dispatcher and the probe take theirs from it."""
    mqtt: MqttTransport | None
    """The one door to the MQTT broker; None when MQTT is off (``--no-mqtt``)."""
    recorder: Recorder | None = None  # dead letters of a service (e.g. refused command acks)


@dataclass(frozen=True)
class ServiceSpec:
    """A service to compose: ``open(ctx)`` gives an async context manager (see the module doc)."""

    name: str
    open: Callable[[GatewayContext], AbstractAsyncContextManager[Any]]


@dataclass(frozen=True)
class RunOptions:
    mqtt: bool = True
    modbus: bool = True
    maintenance: bool = True
    registry_check_s: float = 2.0
    stop_timeout_s: float = 9.0
    journal_fsync_interval_s: float = 0.005
    max_backoff_s: float = 300.0  # a Modbus device offline is retried at most this far apart


class Gateway:
    """The running service. ``await gateway.run()`` until :meth:`stop`; :attr:`ready` is set once it serves."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, services: Sequence[ServiceSpec] = (),
                 options: RunOptions | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.services = list(services)
        self.options = options or RunOptions()
        # Made here, before anything runs: a bad CA file or key is a one-line error (MqttSetupError).
        self.mqtt = MqttTransport.from_settings(settings) if self.options.mqtt else None
        self.ready = asyncio.Event()
        self.metrics = GatewayMetrics()
        self.journal: Journal | None = None
        self.pipeline: StorePipeline | None = None
        self.ingest: MqttIngest | None = None
        self.poller: ModbusPoller | None = None
        self.states: DeviceStates | None = None
        self.directory: DeviceDirectory | None = None
        self.fanout: Fanout | None = None
        self.recorder: Recorder | None = None
        self.store: TelemetryStore | None = None
        self.buses: BusPool | None = None
        self.water: DailyReports | None = None
        self.gc_thresholds: Thresholds | None = None
        """The collector's thresholds the gateway set once running (None: left as they were)."""
        self._stopping = asyncio.Event()
        self._main: asyncio.Task[Any] | None = None
        self._opened: dict[str, Any] = {}

    @property
    def opened_services(self) -> list[Any]:
        """Composed services, as opened; one with ``collect_metrics()`` adds its own metrics."""
        return list(self._opened.values())

    def stop(self) -> None:
        """Begin a clean stop; a second call cancels at once."""
        if self._stopping.is_set() and self._main is not None:
            log.warning("stopping now, without waiting")
            self._main.cancel()
        self._stopping.set()

    # -- what the HTTP API shows ---------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        store_ok = self.pipeline is not None and not self.pipeline.outage
        broker = "disabled" if self.ingest is None else ("connected" if self.ingest.connected else "disconnected")
        clients = self.mqtt.clients if self.mqtt is not None else []
        journal = self.journal
        body: dict[str, Any] = {
            "status": "ok",
            "store": "reachable" if store_ok else "unreachable",
            "broker": broker,
            # Every MQTT client the gateway holds (intake, alerts, control), each ready or not, and why.
            "mqtt": {c.name: {"ready": c.connected, "reason": c.reason} for c in clients} if self.mqtt else "disabled",
            "journal_backlog_records": journal.backlog if journal is not None else 0,
            "spool_bytes": journal.size_bytes() if journal is not None else 0,
            "journal_room_bytes": journal.room_bytes() if journal is not None else 0,
            "journal_space_alarm": journal.alarm.reason or False if journal is not None else False,
            "catching_up": self.pipeline.catching_up if self.pipeline is not None else False,
            "devices": len(self.directory) if self.directory is not None else 0,
        }
        recorder = self.recorder
        recorder_ok = recorder is None or not recorder.failing
        if recorder is not None:
            # Dead letters and unregistered senders are how an operator sees bad traffic: losing them is not "ok".
            body["recorder"] = "recording" if recorder_ok else f"failing: {recorder.last_error}"
            body["recorder_refused_rows"] = recorder.refused_rows
        problems = self.service_problems()
        if problems:
            body["problems"] = problems
        space_ok = journal is None or not journal.alarm.raised
        ok = store_ok and recorder_ok and space_ok and all(c.connected for c in clients) and self.ready.is_set()
        # A service's problem (a rule file left out) degrades the status but not readiness: the gateway serves.
        body["status"] = "ok" if ok and not problems else "degraded"
        return ok, body

    def service_problems(self) -> dict[str, list[str]]:
        """What composed services report an operator must fix (their ``problems()``), by service."""
        out: dict[str, list[str]] = {}
        for name, service in self._opened.items():
            report = getattr(service, "problems", None)
            found = report() if callable(report) else []
            if found:
                out[name] = list(found)
        return out

    def device_state(self, device_id: str) -> dict[str, Any] | None:
        entry = self.directory.get(device_id) if self.directory is not None else None
        if entry is None:
            return None
        return describe_device(entry, self.states.get(device_id) if self.states is not None else None)

    # -- running -------------------------------------------------------------------------------------

    async def run(self) -> None:
        self._main = asyncio.current_task()
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # the bus converts and reports its errors
        async with AsyncExitStack() as stack:
            opened = await self._open(stack)
            if opened is None:
                return  # stopped before the database could be reached
            db, store = opened
            ctx = await self._compose(stack, db, store)
            sockets = self._bind_http()
            stack.callback(lambda: [s.close() for s in sockets.values()])
            await self._serve(stack, ctx, sockets)

    async def _open(self, stack: AsyncExitStack) -> tuple[Database, TelemetryStore] | None:
        """The database (migrated) and the store; waits with backoff while the database is unreachable."""
        settings = self.settings
        backoff = Backoff(initial_s=1.0, max_s=30.0, jitter=0.2)
        while True:
            try:
                attempt = AsyncExitStack()
                db = await attempt.enter_async_context(open_database(settings.database, connect_timeout=5.0))
                await migrations.migrate(db, all_migrations())
                # Two batches in flight, each split over two connections, and the maintenance job.
                store = await attempt.enter_async_context(open_store(settings.database, settings.store,
                                                                     max_connections=6, connect_timeout_s=5.0))
            except (DatabaseUnavailable, StoreUnavailable) as exc:
                await attempt.aclose()
                if backoff.failures == 0:
                    log.error("database unavailable, the gateway starts when it is reachable: %s", exc)
                now = self.clock.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff.failed(now) - now):
                        await self._stopping.wait()
                if self._stopping.is_set():
                    return None
                continue
            await stack.enter_async_context(attempt)
            return db, store

    async def _compose(self, stack: AsyncExitStack, db: Database, store: TelemetryStore) -> GatewayContext:
        settings, options = self.settings, self.options
        self.store = store
        registry = Registry(db, profiles_dir=settings.profiles_dir, clock=self.clock)
        self.water = DailyReports(SectionStore(db), registry, store, settings.zone)
        self.directory = directory = DeviceDirectory(registry, check_interval_s=options.registry_check_s)
        await directory.load()
        records = GatewayRecords(db)
        self.recorder = recorder = Recorder(records, clock=self.clock)
        self.states = states = DeviceStates(offline_after_failures=settings.gateway.offline_after_failures)
        states.restore({d: c for d, c in (await records.device_states()).items() if directory.get(d)})
        self.fanout = fanout = Fanout()
        states.listen(recorder.status_change)
        states.listen(fanout.publish_status)
        states.listen_faults(fanout.publish_fault)  # the rules raise a device fault alert when one lasts
        directory.on_change(lambda change: states.forget(change.removed))
        directory.on_change(lambda change: recorder.registered({e.id for e in change.added}))
        self.journal = journal = await stack.enter_async_context(
            Journal.open(settings.data_dir / "journal", fsync_interval_s=options.journal_fsync_interval_s,
                         max_bytes=settings.gateway.journal_max_bytes,
                         min_free_bytes=settings.gateway.journal_min_free_bytes))
        store_settings = settings.store
        self.pipeline = StorePipeline(
            journal, store, RecordDecoder(directory, max_payload_bytes=settings.mqtt.max_payload_bytes,
                                   max_ahead=timedelta(seconds=settings.mqtt.max_clock_skew_s)),
            batch_size=store_settings.batch_size, flush_interval_s=store_settings.flush_interval_ms / 1000,
            capacity_readings=max(store_settings.queue_size, store_settings.batch_size),
            on_written=lambda _count, seconds: self.metrics.write_batch.observe(seconds))
        if self.mqtt is not None:
            self.ingest = MqttIngest(settings, self.mqtt, journal=journal, directory=directory, pipeline=self.pipeline,
                                     states=states, fanout=fanout, recorder=recorder, clock=self.clock)
        gw = settings.gateway
        # Opened even without polling: commands to Modbus devices go over it too.
        self.buses = buses = await stack.enter_async_context(BusPool(BusSettings(timeout_s=gw.poll_timeout_s)))
        if options.modbus:
            self.poller = poller = ModbusPoller(
                directory=directory, buses=buses, journal=journal, pipeline=self.pipeline, states=states,
                fanout=fanout, clock=self.clock, concurrency=gw.poll_concurrency,
                offline_after_failures=gw.offline_after_failures, max_backoff_s=options.max_backoff_s,
                observe_latency=self.metrics.poll_latency.observe, dead_letter=recorder.dead_letter)
            poller.reconcile()
            directory.on_change(poller.reconcile)
        self.metrics.attach(self)
        return GatewayContext(settings, self.clock, db, registry, directory, store, states, buses, self.mqtt,
                              self.recorder)

    def _bind_http(self) -> dict[str, Any]:
        sockets = {}
        gw = self.settings.gateway
        if gw.metrics_port:
            sockets["metrics"] = bind(gw.metrics_port, "gateway.metrics_port", gw.listen_host)
        if gw.api_port:
            try:
                sockets["api"] = bind(gw.api_port, "gateway.api_port", gw.listen_host)
            except Exception:
                for sock in sockets.values():
                    sock.close()
                raise
        return sockets

    async def _serve(self, stack: AsyncExitStack, ctx: GatewayContext, sockets: dict[str, Any]) -> None:
        assert self.pipeline is not None
        assert self.recorder is not None
        assert self.fanout is not None
        extra: list[tuple[str, Any]] = []
        for spec in self.services:
            service = await stack.enter_async_context(spec.open(ctx))
            self._opened[spec.name] = service
            stack.callback(self._opened.pop, spec.name, None)
            if isinstance(service, ReadingSubscriber):
                self.fanout.add(spec.name, service)
            run = getattr(service, "run", None)
            if callable(run):
                extra.append((spec.name, run))
        async with asyncio.TaskGroup() as group:
            def start(name: str, coro: Any) -> asyncio.Task[Any]:
                return group.create_task(coro, name=name)

            writer = start("store-writer", self.pipeline.run())
            background = [
                start("recorder", self.recorder.run()),
                start("subscribers", self.fanout.run()),
                start("registry-watch", ctx.directory.watch()),
                *(start(name, run()) for name, run in extra),
            ]
            if self.options.maintenance:
                background.append(start("maintenance", run_maintenance(ctx.store, self.clock)))
            if "metrics" in sockets:
                background.append(start("metrics-http", serve(metrics_app(self.metrics.registry), sockets["metrics"])))
            if "api" in sockets:
                api = create_api(self, remote_water_report=self.settings.gateway.water_report_remote)
                background.append(start("api-http", serve(api, sockets["api"])))
            intake = []
            if self.ingest is not None:
                intake.append(start("mqtt-ingest", self.ingest.run()))
            if self.poller is not None:
                intake.append(start("modbus-poller", self.poller.run()))
            # Everything that lives as long as the process is loaded now (directory, services, rules).
            gw = self.settings.gateway
            with tuned_gc(gw.gc_thresholds if gw.gc_tuning else None) as self.gc_thresholds:
                self.ready.set()
                log.info("gateway running: %d device(s), store %s, journal %s", len(ctx.directory),
                         self.settings.database.backend, self.journal.directory if self.journal else "-")
                await self._stopping.wait()
                await self._shut_down(intake, writer, background)
            self.gc_thresholds = None

    async def _shut_down(self, intake: list[asyncio.Task[Any]], writer: asyncio.Task[Any],
                         background: list[asyncio.Task[Any]]) -> None:
        assert self.pipeline is not None
        assert self.recorder is not None
        assert self.journal is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.stop_timeout_s
        log.info("stopping: intake first, then what is in memory goes to the store")
        if self.ingest is not None:
            self.ingest.stop()
        if self.poller is not None:
            self.poller.stop()
        if intake:
            _, late = await asyncio.wait(intake, timeout=min(3.0, self.options.stop_timeout_s / 3))
            for task in late:
                task.cancel()
        drained = await self.pipeline.drain(max(0.5, deadline - loop.time() - 1.0))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.1, min(1.0, deadline - loop.time()))):
                await self.recorder.flush()
        writer.cancel()
        for task in background:
            task.cancel()
        left = self.journal.backlog
        if drained and not left:
            log.info("stopped: every accepted reading is in the store")
        else:
            log.warning("stopped: %d journal record(s) wait for the store; they are written at the next start", left)


@contextlib.asynccontextmanager
async def running(gateway: Gateway) -> AsyncIterator[Gateway]:
    """Run ``gateway`` in the background (for tests and benchmarks); stop it cleanly on leaving."""
    task = asyncio.create_task(gateway.run(), name="gateway")
    ready = asyncio.create_task(gateway.ready.wait(), name="gateway-ready")
    done, _ = await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        await task  # raises what stopped it
        raise RuntimeError("the gateway stopped before it was ready")
    try:
        yield gateway
    finally:
        gateway.stop()
        await task
