"""Everything the gateway needs from the rules package, composed: load the rules, open the alert
store, the notifier and the engine, restore the open alerts, and keep the timers running.

>>> async with RulesService(db, settings, devices=registry, clock=SystemClock(), mqtt=transport,
...                         commands=dispatcher, handle_sighup=True) as rules:    # doctest: +SKIP
...     await rules.on_readings(batch)
...     await rules.on_status("CG-0007", online=False, at=now)

Rule files are reloaded when they change (checked every ``reload_check_s``) or on SIGHUP; rules
that did not change keep their state. A rule directory with mistakes is not loaded: the errors
are logged (``file:line: field: message``) and the rules in force stay.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from types import TracebackType

from device_registry.device import Device
from rules.actions import CommandSink
from rules.alert_store import AlertStore
from rules.engine import RulesEngine
from rules.errors import RuleFileError
from rules.loader import SHIPPED_RULES_DIR, RuleSet, load_ruleset, rule_paths
from rules.notifier import Notifier
from rules.service import AlertService, Announced
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import Database, DatabaseError
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def rules_fingerprint(path: Path) -> Fingerprint:
    """Names, sizes and modification times of the rule files: changes when any file does."""
    out = []
    for file in rule_paths(path) if path.exists() else []:
        try:
            stat = file.stat()
        except OSError:
            continue
        out.append((file.name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


class RulesService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Clock,
        mqtt: MqttTransport | None,
        devices: Mapping[str, Device] | None = None,
        commands: CommandSink | None = None,
        rules_dir: Path | None = None,
        tick_interval_s: float = 1.0,
        reload_check_s: float = 2.0,
        handle_sighup: bool = False,
        on_announced: Announced | None = None,
    ) -> None:
        self.rules_dir = rules_dir or settings.rules_dir or SHIPPED_RULES_DIR
        self._db = db
        self._settings = settings
        self._clock = clock
        self._mqtt = mqtt
        self._devices = devices or {}
        self._commands = commands
        self._tick_interval_s = tick_interval_s
        self._reload_check_s = reload_check_s
        self._handle_sighup = handle_sighup
        self._on_announced = on_announced
        self._stack: AsyncExitStack | None = None
        self._fingerprint: Fingerprint = ()
        self.store: AlertStore | None = None
        self.alerts: AlertService | None = None
        self._engine: RulesEngine | None = None
        self.reloaded = asyncio.Event()
        """Set each time rule files are reloaded successfully (clear it to wait for the next)."""

    @property
    def engine(self) -> RulesEngine:
        if self._engine is None:
            raise RuntimeError("RulesService is not running; use it as an async context manager")
        return self._engine

    async def __aenter__(self) -> RulesService:
        ruleset = load_ruleset(self.rules_dir)  # RuleFileError: the caller shows the problems and stops
        self._fingerprint = rules_fingerprint(self.rules_dir)
        notifications = self._settings.notifications
        async with AsyncExitStack() as stack:
            self.store = AlertStore(self._db, scale=ruleset.scale)
            await self.store.migrate()
            notifier = await stack.enter_async_context(Notifier(
                notifications, self._mqtt, client_id=f"{self._settings.mqtt.client_id}-alerts"))
            self.alerts = AlertService(self.store, notifier, clock=self._clock,
                                       reminder_interval_s=notifications.reminder_interval_s,
                                       reminder_severities=notifications.reminder_severities,
                                       on_announced=self._on_announced)
            engine = RulesEngine(self.alerts, clock=self._clock, commands=self._commands, rules=ruleset,
                                 devices=self._devices)
            await stack.enter_async_context(engine)
            engine.restore(await self.store.active_alerts())
            self._engine = engine
            group = await stack.enter_async_context(asyncio.TaskGroup())
            timers = [group.create_task(self._ticker(), name="rules-ticker"),
                      group.create_task(self._sweeper(notifications.sweep_interval_s), name="rules-sweeper")]
            stack.callback(lambda: [task.cancel() for task in timers])  # they loop until cancelled
            if self._handle_sighup:
                loop = asyncio.get_running_loop()
                loop.add_signal_handler(signal.SIGHUP, self.reload)
                stack.callback(loop.remove_signal_handler, signal.SIGHUP)
            log.info("rules: %d rule(s) from %s, %d open alert(s)", len(ruleset.enabled), self.rules_dir,
                     len(await self.store.active_alerts()))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        stack, self._stack = self._stack, None
        self._engine = None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    # -- what the gateway calls --------------------------------------------------------------

    async def on_reading(self, reading: Reading) -> None:
        await self.engine.on_reading(reading)

    async def on_readings(self, batch: Iterable[Reading]) -> None:
        await self.engine.on_readings(batch)

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        await self.engine.on_status(device_id, online, at)

    def update_devices(self, devices: Mapping[str, Device]) -> None:
        self._devices = devices
        self.engine.update_devices(devices)

    def reload(self) -> bool:
        """Load the rule files again; on mistakes keep the rules in force. True if the new rules apply."""
        self._fingerprint = rules_fingerprint(self.rules_dir)
        try:
            ruleset = load_ruleset(self.rules_dir)
        except RuleFileError as exc:
            for problem in exc.problems:
                log.error("rules not reloaded: %s", problem)
            return False
        self.apply_rules(ruleset)
        log.info("rules reloaded from %s: %d rule(s)", self.rules_dir, len(ruleset.enabled))
        self.reloaded.set()
        return True

    def apply_rules(self, ruleset: RuleSet) -> None:
        self.engine.load_rules(ruleset)
        if self.store is not None:
            self.store.scale = ruleset.scale

    # -- timers ------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        since_check = 0.0
        while True:
            await asyncio.sleep(self._tick_interval_s)
            await self.engine.tick(self._clock.now())
            since_check += self._tick_interval_s
            if since_check >= self._reload_check_s:
                since_check = 0.0
                if rules_fingerprint(self.rules_dir) != self._fingerprint:
                    self.reload()

    async def _sweeper(self, interval_s: float) -> None:
        assert self.alerts is not None
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.alerts.sweep(self._clock.now())
            except DatabaseError as exc:  # the next sweep tries again; the engine's own path retries too
                log.warning("alert sweep skipped: %s", exc)
