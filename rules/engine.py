"""The rules engine: readings and device status in, alert transitions and commands out.

Evaluation is in memory. Rules are indexed by (device kind or profile, metric), so a reading meets
only the rules that concern it. Each (rule, device) keeps a :class:`~rules.persistence.Debouncer`;
when its settled severity changes the engine emits an :class:`~rules.alerts.AlertTransition` to the
:class:`~rules.alerts.AlertSink` and any action requests to the
:class:`~rules.actions.CommandSink`, each through its own queue and named worker task so a slow
database or dispatcher never holds up evaluation.

Time comes from the clock (readings, timers) or is passed in (``tick(now)``, ``on_status(at)``).

>>> async with RulesEngine(sink, clock=clock, rules=ruleset, devices=devices) as engine:  # doctest: +SKIP
...     await engine.on_readings(batch)
...     await engine.tick(clock.now())
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType

from device_registry.device import DeviceStatus
from rules.actions import CommandSink
from rules.alerts import Alert, AlertSink
from rules.block_faults import FAULT_RULE, BlockFaults, fault_policy
from rules.delivery import EngineStats, Outboxes
from rules.disabled import DisabledRules
from rules.durations import format_duration_s
from rules.evidence import Evidence, offline_evidence
from rules.flag_log import FlagRecorder
from rules.index import RuleIndex
from rules.loader import RuleSet
from rules.projected import ProjectedRuntime
from rules.quality_rule import QualityRuntime
from rules.runtime import AbsenceRuntime, ConditionRuntime, GroupRuntime, Runtime, ThresholdRuntime, make_runtime
from rules.severity import SeverityScale
from rules.tracks import Track, Tracks
from rules.transitions import RankChange, action_requests, clear_transition, make_transition
from rules.watched import WatchedDevice
from streetwatch.clock import Clock
from streetwatch.expressions import ExpressionBudgetError
from streetwatch.readings import Reading, runs

log = logging.getLogger(__name__)

YIELD_EVERY = 100  # readings evaluated between two yields to the event loop (well under a millisecond of work)
UNWATCHED = (DeviceStatus.maintenance, DeviceStatus.retired)  # not evaluated (their open alerts stay as they are)


class RulesEngine:
    """See the module docstring. ``restore`` the open alerts after loading rules and devices."""

    def __init__(self, sink: AlertSink, *, clock: Clock, commands: CommandSink | None = None,
                 rules: RuleSet | None = None, devices: Mapping[str, WatchedDevice] | None = None,
                 max_reading_age_s: float = 900.0, fault_after_s: float | None = None,
                 flags: FlagRecorder | None = None) -> None:
        self._clock = clock
        self.flags = flags  # where the quality rules' flagged readings go (rules/flag_log.py)
        self.max_reading_age_s = max_reading_age_s
        self.stats = EngineStats()
        self._scale = SeverityScale()
        self._runtimes: dict[str, Runtime] = {}
        self._index = RuleIndex()
        self._devices: dict[str, WatchedDevice] = {}
        self._tracks = Tracks()
        self._latest: dict[str, dict[str, float]] = {}
        self._ruleset = RuleSet()
        self.disabled = DisabledRules()
        """Rules taken out at run time: they went over the evaluation budget (see :mod:`rules.disabled`)."""
        self._counter = itertools.count(1)
        self._out = Outboxes(sink, commands, clock, self.stats)
        self.faults = BlockFaults(lambda device_id: fault_policy(self._watched(device_id), self._index, self._scale,
                                                                 fault_after_s), self._out.transition, self._counter)
        """Device fault alerts of refused Modbus blocks (:mod:`rules.block_faults`): ``faults.observe`` each."""
        self.load_rules(rules or RuleSet())
        self.update_devices(devices or {})

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> RulesEngine:
        await self._out.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._out.__aexit__(exc_type, exc, tb)  # the workers finish what is queued, then stop

    async def flush(self) -> None:
        """Wait until every transition and action emitted so far has been handed over."""
        await self._out.flush()

    # -- inputs ------------------------------------------------------------------------------

    async def on_reading(self, reading: Reading) -> None:
        now = self._clock.now()
        self._run((reading,), now.timestamp(), now, self._clock.monotonic())

    async def on_readings(self, batch: Iterable[Reading]) -> None:
        now = self._clock.now()
        t, arrived = now.timestamp(), self._clock.monotonic()
        evaluated = 0
        for run in runs(batch):  # a message's readings: its device and its time are checked once
            self._run(run, t, now, arrived)
            evaluated += len(run)
            if evaluated >= YIELD_EVERY:
                # Let the alert and action workers move on: a big batch must not hold up an alert.
                evaluated = 0
                await asyncio.sleep(0)

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        """A device said it is online or offline (MQTT status or last will, the Modbus poller)."""
        device = self._devices.get(device_id)
        if device is None or device.status in UNWATCHED:
            return
        t = at.timestamp()
        for rt in self._index.absence_for(device):
            track = self._tracks.get(rt.spec.name, device_id)
            if online:
                if not rt.spec.metrics:
                    self._seen(rt, device, None, t, at)
                elif track is not None and track.evidence.context.get("offline"):
                    self._observe(rt, track, Evidence(0, message="device online again"), t, at)
            elif rt.spec.offline_status:
                self._observe(rt, track or self._track(rt, device_id, t), offline_evidence(rt.rank), t, at)

    async def tick(self, now: datetime) -> None:
        """Fire due ``for``/``clear_for`` timers, absence deadlines and fault windows; call it every second or so."""
        t = now.timestamp()
        self.faults.tick(now)
        for track in self._tracks.due(t):
            rt = self._runtimes.get(track.rule)
            if rt is not None:
                self._settle(rt, track, t, now)
        for rt in self._index.absence:
            self._check_absence(rt, t, now)

    # -- configuration -----------------------------------------------------------------------

    def load_rules(self, ruleset: RuleSet) -> None:
        """Use ``ruleset``; rules that did not change keep their state, removed rules clear their alerts."""
        now = self._clock.now()
        t = now.timestamp()
        scale_changed = ruleset.scale != self._scale
        old_scale, self._scale = self._scale, ruleset.scale
        old = self._runtimes
        self._runtimes = {}
        self._ruleset = ruleset
        for cleared in self.disabled.release(ruleset, self._scale, self._counter, now):
            self._out.transition(cleared)
        for spec in ruleset.enabled:
            if spec.name in self.disabled:
                continue  # the same rule that went over its budget: it stays out until its file changes
            kept = old.get(spec.name)
            if kept is not None and not scale_changed and kept.spec == spec:
                self._runtimes[spec.name] = kept
                continue
            rt = self._runtimes[spec.name] = make_runtime(spec, ruleset.scale, self.flags)
            for track in self._tracks.pop_rule(spec.name):
                level = track.debouncer.level
                if not level:
                    continue
                name = old_scale.name(level)
                why = (None if self._scale.knows(name) and self._applies(rt, track.subject)
                       else "rule changed: it no longer applies here")
                if why is not None:
                    self._emit(old[spec.name], track, now, levels=(level, 0), scale=old_scale, message=why,
                               actions=False)
                    continue
                carried = self._track(rt, track.subject, t)
                carried.debouncer.force(self._scale.rank(name), t)
                carried.evidence = track.evidence
        for name in old.keys() - self._runtimes.keys():
            for track in self._tracks.pop_rule(name):
                if track.debouncer.level:
                    self._emit(old[name], track, now, levels=(track.debouncer.level, 0), scale=old_scale,
                               message="rule removed", actions=False)
        self._index.rebuild(self._runtimes)
        self._regroup_all(t, now)

    def update_devices(self, devices: Mapping[str, WatchedDevice]) -> None:
        """The registry changed: new, edited and removed devices (removed ones clear their alerts)."""
        now = self._clock.now()
        t = now.timestamp()
        old, self._devices = self._devices, dict(devices)
        changed = [d for d in old.keys() | self._devices.keys()
                   if old.get(d) is not self._devices.get(d) and old.get(d) != self._devices.get(d)]
        for device_id in changed:
            self._index.invalidate(device_id)
            device = self._devices.get(device_id)
            for rt in self._runtimes.values():
                if device is None:
                    rt.forget(device_id)
                elif isinstance(rt, ThresholdRuntime | ProjectedRuntime | QualityRuntime):
                    rt.device_changed(device_id)
            if device is None or device.status is DeviceStatus.retired:
                self._latest.pop(device_id, None)
                why = "device removed from the registry" if device is None else "device retired"
                for rule in self._tracks.rules():
                    track = self._tracks.remove(rule, device_id)
                    if track is not None and track.debouncer.level:
                        self._emit(self._runtimes[rule], track, now, levels=(track.debouncer.level, 0),
                                   message=why, actions=False)
                continue
            for rule in self._tracks.rules():  # e.g. moved to another site: some rules let go
                track = self._tracks.get(rule, device_id)
                if track is not None and track.debouncer.level and not self._applies(self._runtimes[rule], device_id):
                    self._tracks.remove(rule, device_id)
                    self._emit(self._runtimes[rule], track, now, levels=(track.debouncer.level, 0),
                               message="the rule no longer applies to this device", actions=False)
            if device.status is DeviceStatus.active:
                for rt in self._index.absence_for(device):
                    self._follow(rt, device_id, t)
        if changed:
            self._regroup_all(t, now)

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Take up the active alerts the store holds, so a restart does not raise them again."""
        now = self._clock.now()
        t = now.timestamp()
        alerts = [alert for alert in alerts if alert.active]
        self.faults.adopt([alert for alert in alerts if alert.rule == FAULT_RULE], now)
        for alert in alerts:
            if alert.rule == FAULT_RULE:
                continue
            rt = self._runtimes.get(alert.rule)
            device_gone = ":" not in alert.device_id and alert.device_id not in self._devices
            if rt is None or device_gone or not self._scale.knows(alert.severity) \
                    or not self._applies(rt, alert.device_id):
                why = ("rule removed" if rt is None else "device removed from the registry" if device_gone
                       else f"severity {alert.severity!r} is no longer on the scale"
                       if not self._scale.knows(alert.severity) else "the rule no longer applies to this device")
                self._out.transition(clear_transition(next(self._counter), alert, now, why))
                continue
            track = self._track(rt, alert.device_id, t)
            track.debouncer.force(self._scale.rank(alert.severity), t)
            track.evidence = Evidence(track.debouncer.level, alert.metric, alert.value, alert.threshold, alert.message)
        self._regroup_all(t, now)

    # -- introspection -----------------------------------------------------------------------

    def severity(self, rule: str, subject: str) -> str | None:
        """The settled severity of ``rule`` for ``subject`` (None when normal)."""
        track = self._tracks.get(rule, subject)
        return self._scale.name(track.debouncer.level) if track is not None and track.debouncer.level else None

    def rules_for(self, device_id: str, metric: str) -> list[str]:
        """The names of the rules a reading of ``metric`` from ``device_id`` meets."""
        device = self._devices.get(device_id)
        return [] if device is None else [rt.spec.name for rt in self._index.rules_for(device, metric)]

    # -- evaluation --------------------------------------------------------------------------

    def _run(self, run: Sequence[Reading], t: float, now: datetime, arrived: float) -> None:
        """Readings of one device at one time (:func:`~streetwatch.readings.runs`), in order."""
        self.stats.readings += len(run)
        device = self._devices.get(run[0].device_id)
        if device is None:
            self.stats.unknown_devices += len(run)
            return
        if device.status in UNWATCHED:
            return
        if t - run[0].ts.timestamp() > self.max_reading_age_s:
            self.stats.stale_readings += len(run)
            return
        absences, latest = self._index.absence_for(device), self._latest.get(device.id)
        for reading in run:
            metric = reading.metric
            for absence in absences:
                self._seen(absence, device, metric, t, now)
            if metric in self._index.latest_metrics:
                if latest is None:
                    latest = self._latest[device.id] = {}
                latest[metric] = reading.value
            held = False  # quality rules come first; a reading one of them holds back goes no further
            for rt in self._index.rules_for(device, metric):
                if held:
                    break
                track = self._tracks.get(rt.spec.name, device.id)
                if isinstance(rt, ConditionRuntime):
                    try:
                        evidence = rt.evaluate(device, reading, latest or {}, now)
                    except ExpressionBudgetError as exc:
                        self._disable(rt, device.id, str(exc), now)
                        continue  # the routes are a snapshot (a tuple): the reading's other rules still see it
                else:
                    evidence = rt.evaluate(device, reading, track.debouncer.raw if track is not None else 0)
                    held = isinstance(rt, QualityRuntime) and rt.holds_back
                if evidence is None or (track is None and not evidence.rank):
                    continue  # normal, and nothing pending: nothing to remember
                self._observe(rt, track or self._track(rt, device.id, t), evidence, t, now, arrived=arrived)

    def _observe(self, rt: Runtime, track: Track, evidence: Evidence, t: float, now: datetime, *,
                 arrived: float | None = None) -> None:
        track.evidence = evidence
        track.debouncer.observe(evidence.rank, t)
        self._settle(rt, track, t, now, arrived=arrived)
        if track.due is None and not track.debouncer.level and not track.debouncer.raw:
            # All quiet: a normal (rule, device) keeps no state. Fewer live objects also keep the
            # garbage collector's full collections, which stop the event loop, short.
            self._tracks.remove(track.rule, track.subject)

    def _settle(self, rt: Runtime, track: Track, t: float, now: datetime, *, arrived: float | None = None) -> None:
        before = track.debouncer.level
        after = track.debouncer.settle(t)
        if after != before:
            self._emit(rt, track, now, levels=(before, after), arrived=arrived)
        self._tracks.schedule(track)

    def _seen(self, rt: AbsenceRuntime, device: WatchedDevice, metric: str | None, t: float, now: datetime) -> None:
        if metric is not None and not rt.counts(metric):
            return
        rt.seen(device.id, t)
        track = self._tracks.get(rt.spec.name, device.id)
        if track is not None and track.debouncer.raw:
            self._observe(rt, track, Evidence(0, metric, message="data again"), t, now)

    def _follow(self, rt: AbsenceRuntime, device_id: str, t: float) -> None:
        """Count an active device's silence from now on (new, or back from maintenance)."""
        track = self._tracks.get(rt.spec.name, device_id)
        if device_id not in rt.tracked and not (track is not None and track.debouncer.raw):
            rt.seen(device_id, t)

    def _check_absence(self, rt: AbsenceRuntime, t: float, now: datetime) -> None:
        def watched(device_id: str) -> bool:
            device = self._watched(device_id)
            return device is not None and rt.spec.applies_to.matches(device)

        after = rt.spec.after_s
        for device_id, age in rt.expired(t, watched):
            evidence = Evidence(rt.rank, None, age, after,
                                f"no data for {format_duration_s(age)} (limit {format_duration_s(after)})")
            self._observe(rt, self._track(rt, device_id, t), evidence, t, now)

    def _regroup_all(self, t: float, now: datetime) -> None:
        for grt in itertools.chain.from_iterable(self._index.group_sources.values()):
            self._regroup(grt, t, now)

    def _regroup(self, grt: GroupRuntime, t: float, now: datetime) -> None:
        keys = set(grt.members) | {s.split(":", 1)[1] for s in self._tracks.of_rule(grt.spec.name)}
        grt.members = {}
        for subject, track in self._tracks.of_rule(grt.spec.source).items():
            device = self._devices.get(subject)
            if device is not None and track.debouncer.level >= grt.min_rank:
                for key in grt.keys_of(device):
                    grt.members.setdefault(key, {})[subject] = track.debouncer.level
        for key in keys | set(grt.members):
            self._observe(grt, self._track(grt, grt.subject(key), t), grt.evidence(key), t, now)

    # -- output ------------------------------------------------------------------------------

    def _emit(self, rt: Runtime, track: Track, now: datetime, *, levels: tuple[int, int],
              scale: SeverityScale | None = None, arrived: float | None = None, message: str | None = None,
              actions: bool = True) -> None:
        """Queue the transition of ``track`` from rank ``levels[0]`` to ``levels[1]``, and its actions."""
        change = RankChange(scale or self._scale, *levels)
        device = self._devices.get(track.subject)
        evidence = track.evidence
        transition = make_transition(next(self._counter), track.rule, track.subject, device=device,
                                     evidence=evidence, change=change, now=now, arrived=arrived,
                                     message=message or evidence.text or rt.spec.description)
        self._out.transition(transition)
        if actions:
            requests, untargeted = action_requests(rt.spec.name, rt.spec.actions, device, transition, change)
            for spec in untargeted:
                self.stats.actions_without_target += 1
                log.warning("rule %s: action %s for %s has no target", rt.spec.name, spec.action, track.subject)
            for request in requests:
                self._out.action(request)
        if device is not None:
            t = now.timestamp()
            for grt in self._index.group_sources.get(track.rule, ()):
                for group_key in grt.keys_of(device):
                    group_evidence = grt.set_rank(group_key, device.id, change.after)
                    self._observe(grt, self._track(grt, grt.subject(group_key), t), group_evidence, t, now)

    def _disable(self, rt: Runtime, device_id: str, why: str, now: datetime) -> None:
        """Take ``rt`` out of evaluation and raise its fault alert; its own alerts clear as a removed rule's."""
        log.error("rule %s disabled: %s (evaluating it for %s)", rt.spec.name, why, device_id)
        self.stats.rules_disabled += 1
        self._out.transition(self.disabled.disable(rt.spec, why, device_id, self._scale, next(self._counter), now))
        self.load_rules(self._ruleset)  # the same rules, less this one

    def _watched(self, device_id: str) -> WatchedDevice | None:
        """The device, if the rules watch it (registered, neither in maintenance nor retired)."""
        device = self._devices.get(device_id)
        return device if device is not None and device.status not in UNWATCHED else None

    def _applies(self, rt: Runtime, subject: str) -> bool:
        """Whether ``rt`` still watches ``subject`` (a group rule watches its groups)."""
        if isinstance(rt, GroupRuntime):
            return True
        device = self._devices.get(subject)
        return device is not None and rt.spec.applies_to.matches(device)

    def _track(self, rt: Runtime, subject: str, t: float) -> Track:
        return self._tracks.ensure(rt, subject, t, self._scale.top)
