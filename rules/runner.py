"""Everything the gateway needs from the rules package, composed: load the rules, open the alert
store, the notifier and the engine, restore the open alerts, and keep the timers running.

>>> async with RulesService(db, settings, devices=registry, clock=SystemClock(), mqtt=transport,
...                         commands=dispatcher, handle_sighup=True) as rules:    # doctest: +SKIP
...     await rules.on_readings(batch)
...     await rules.on_status("CG-0007", online=False, at=now)
...     await rules.on_block_fault(fault)   # a refused Modbus block: rules.block_faults

The rule files are the shipped ones plus those in ``rules_dir`` (a file of the same name replaces
the shipped one), or exactly the files of the directory given as ``rules_dir=``.

Rule files are reloaded when they change (checked every ``reload_check_s``) or on SIGHUP; rules
that did not change keep their state. Rule files with mistakes are not loaded: the errors are
logged (``file:line: field: message``) and the rules in force stay, whatever the file holds.
At start-up a file with mistakes is left out and the rest run; the problems are logged at ERROR
and shown by :attr:`RulesService.problems` (the gateway's ``/health`` and metrics).
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

from rules.actions import CommandSink
from rules.alert_store import AlertStore
from rules.alerts import HazardPlace
from rules.engine import RulesEngine
from rules.flag_log import FlagRecorder, FlagSink
from rules.loader import SHIPPED_RULES_DIR, RuleSet, check_rule_paths, load_ruleset_skipping, rule_paths
from rules.notifier import Notifier
from rules.service import AlertService, Announced
from rules.sources import RULE_FILE_SUFFIXES
from rules.watched import WatchedDevice
from streetwatch.block_faults import BlockFault
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import Database, DatabaseError
from streetwatch.layered import layered_files
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def configured_rule_files(settings: Settings) -> list[Path]:
    """The shipped rule files plus those in ``rules_dir`` (same file name: the one in ``rules_dir``)."""
    return layered_files(SHIPPED_RULES_DIR, settings.rules_dir, RULE_FILE_SUFFIXES)


def rules_fingerprint(path: Path | list[Path]) -> Fingerprint:
    """Names, sizes and modification times of the rule files: changes when any file does."""
    out = []
    files = path if isinstance(path, list) else rule_paths(path) if path.exists() else []
    for file in files:
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
        devices: Mapping[str, WatchedDevice] | None = None,
        commands: CommandSink | None = None,
        rules_dir: Path | None = None,
        tick_interval_s: float = 1.0,
        reload_check_s: float = 2.0,
        handle_sighup: bool = False,
        on_announced: Announced | None = None,
        flag_sink: FlagSink | None = None,
    ) -> None:
        self.rules_dir = rules_dir
        self._db = db
        self._settings = settings
        self._clock = clock
        self._mqtt = mqtt
        self._devices = devices or {}
        self._places: Mapping[str, HazardPlace] = {}
        self._commands = commands
        self._tick_interval_s = tick_interval_s
        self._reload_check_s = reload_check_s
        self._handle_sighup = handle_sighup
        self._on_announced = on_announced
        self._flag_sink = flag_sink
        self.flags: FlagRecorder | None = None
        """Flagged readings on their way to the telemetry store (with a ``flag_sink``)."""
        self._stack: AsyncExitStack | None = None
        self._fingerprint: Fingerprint = ()
        self._skipped: dict[str, list[str]] = {}
        self.store: AlertStore | None = None
        self.alerts: AlertService | None = None
        self._engine: RulesEngine | None = None
        self.ruleset: RuleSet | None = None
        """The rules in force (None until started); duty reads their ``dispatch_task`` actions from it."""
        self.reloaded = asyncio.Event()
        """Set each time rule files are reloaded successfully (clear it to wait for the next)."""

    @property
    def engine(self) -> RulesEngine:
        if self._engine is None:
            raise RuntimeError("RulesService is not running; use it as an async context manager")
        return self._engine

    async def __aenter__(self) -> RulesService:
        files = self.rule_files()
        ruleset, self._skipped = load_ruleset_skipping(files)
        for file, problems in self._skipped.items():
            for problem in problems:
                log.error("rules: %s", problem)
            log.error("rules: %s left out: it has %d problem(s); the other rule files run", file, len(problems))
        self._fingerprint = rules_fingerprint(files)
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
            self.alerts.places = self._places
            if self._flag_sink is not None:
                self.flags = await stack.enter_async_context(FlagRecorder(self._flag_sink, clock=self._clock))
            engine = RulesEngine(self.alerts, clock=self._clock, commands=self._commands, rules=ruleset,
                                 devices=self._devices, fault_after_s=self._settings.gateway.modbus_block_fault_after_s,
                                 flags=self.flags)
            await stack.enter_async_context(engine)
            engine.restore(await self.store.active_alerts())
            self._engine, self.ruleset = engine, ruleset
            group = await stack.enter_async_context(asyncio.TaskGroup())
            timers = [group.create_task(self._ticker(), name="rules-ticker"),
                      group.create_task(self._sweeper(notifications.sweep_interval_s), name="rules-sweeper")]
            stack.callback(lambda: [task.cancel() for task in timers])  # they loop until cancelled
            if self._handle_sighup:
                loop = asyncio.get_running_loop()
                loop.add_signal_handler(signal.SIGHUP, self.reload)
                stack.callback(loop.remove_signal_handler, signal.SIGHUP)
            log.info("rules: %d rule(s) from %d file(s), %d open alert(s)", len(ruleset.enabled),
                     len(files) - len(self._skipped), len(await self.store.active_alerts()))
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

    async def on_block_fault(self, fault: BlockFault) -> None:
        """A Modbus device refuses a register block at every poll, or answers it again (a device fault alert)."""
        self.engine.faults.observe(fault, self._clock.now())

    def update_devices(self, devices: Mapping[str, WatchedDevice]) -> None:
        self._devices = devices
        self.engine.update_devices(devices)

    def update_places(self, places: Mapping[str, HazardPlace]) -> None:
        """The hazard point each device watches (device id → place), for the alerts' messages."""
        self._places = places
        if self.alerts is not None:
            self.alerts.places = places

    def rule_files(self) -> list[Path]:
        if self.rules_dir is not None:
            return rule_paths(self.rules_dir) if self.rules_dir.exists() else []
        return configured_rule_files(self._settings)

    def problems(self) -> list[str]:
        """What an operator must fix: rule files left out at start-up, rules disabled at run time."""
        out = [f"rule file {file} not loaded: {len(found)} problem(s), first: {found[0]}"
               for file, found in sorted(self._skipped.items()) if found]
        if self._engine is not None:
            out += [f"rule {name}: {why}" for name, why in sorted(self._engine.disabled.reasons().items())]
        return out

    def reload(self) -> bool:
        """Load the rule files again; on mistakes keep the rules in force. True if the new rules apply."""
        files = self.rule_files()
        self._fingerprint = rules_fingerprint(files)
        try:
            ruleset, problems = check_rule_paths(files)
            if ruleset is not None:
                self.apply_rules(ruleset)
        except Exception as exc:  # no rule file may stop the gateway; the old rules stay
            log.exception("rules not reloaded: %s", exc)
            return False
        if ruleset is None:
            for problem in problems:
                log.error("rules not reloaded: %s", problem)
            return False
        self._skipped = {}
        log.info("rules reloaded: %d rule(s) from %d file(s)", len(ruleset.enabled), len(files))
        self.reloaded.set()
        return True

    def apply_rules(self, ruleset: RuleSet) -> None:
        self.engine.load_rules(ruleset)
        self.ruleset = ruleset
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
                if rules_fingerprint(self.rule_files()) != self._fingerprint:
                    self.reload()

    async def _sweeper(self, interval_s: float) -> None:
        assert self.alerts is not None
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.alerts.sweep(self._clock.now())
            except DatabaseError as exc:  # the next sweep tries again; the engine's own path retries too
                log.warning("alert sweep skipped: %s", exc)
