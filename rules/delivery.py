"""The engine's two outboxes: transitions to the alert sink, action requests to the command sink.

Each is a queue drained by one named task, so a slow database or dispatcher never holds up rule
evaluation; :class:`Outboxes` owns both as one async context manager. A sink that is unavailable
(the database is down) is retried with backoff, in order, until it takes the item: an alert
transition or a rule's command outlives a database outage. An action is submitted with its
request's key, so a retry after a submit whose answer was lost queues nothing twice. Anything else a
sink raises is a fault: logged with its traceback, counted, and the next item goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from rules.actions import ActionRequest, CommandSink
from rules.alerts import AlertSink, AlertTransition
from rules.errors import AlertSinkUnavailable, CommandSinkUnavailable
from streetwatch.backoff import Backoff
from streetwatch.clock import Clock

log = logging.getLogger(__name__)

BATCH = 200
"""Transitions handed to the alert sink at once at most (when that many wait)."""


@dataclass
class EngineStats:
    """Counters an operator watches (the gateway exports them as metrics)."""

    readings: int = 0
    unknown_devices: int = 0
    stale_readings: int = 0
    transitions: int = 0
    actions: int = 0
    actions_without_target: int = 0
    sink_retries: int = 0
    action_retries: int = 0
    sink_errors: int = 0
    action_errors: int = 0
    rules_disabled: int = 0


async def _until_taken(give: Callable[[], Awaitable[None]], unavailable: type[Exception], what: str,
                       waits_for: str, clock: Clock, on_retry: Callable[[], None]) -> bool:
    """``give()`` until it does not raise ``unavailable`` (with backoff); False if it failed otherwise."""
    backoff = Backoff(initial_s=0.2, max_s=30.0)
    while True:
        try:
            await give()
        except unavailable as exc:
            on_retry()
            now = clock.monotonic()
            delay = backoff.failed(now) - now
            level = logging.WARNING if backoff.failures == 1 else logging.DEBUG
            log.log(level, "%s waits for %s (retry in %.1f s): %s", what, waits_for, delay, exc)
            await asyncio.sleep(delay)
        except Exception:
            log.exception("%s was not taken", what)
            return False
        else:
            if backoff.failures:
                log.info("%s taken after %d retries", what, backoff.failures)
            return True


async def deliver_transitions(queue: asyncio.Queue[AlertTransition | None], sink: AlertSink, clock: Clock,
                              stats: EngineStats) -> None:
    """Hand each transition to ``sink`` in order until the ``None`` that ends the queue.

    What has queued up meanwhile goes as one batch (at most :data:`BATCH`) to a sink that takes
    batches (``apply_many``, all or none); if a batch fails otherwise than by the sink being
    unavailable, its transitions go one by one, so one bad transition costs only itself.
    """

    def retried() -> None:
        stats.sink_retries += 1

    apply_many: Callable[[Sequence[AlertTransition]], Awaitable[None]] | None = getattr(sink, "apply_many", None)
    while True:
        batch: list[AlertTransition | None] = [await queue.get()]
        while len(batch) < BATCH and batch[-1] is not None and not queue.empty():
            batch.append(queue.get_nowait())
        try:
            transitions = [t for t in batch if t is not None]
            if len(transitions) > 1 and apply_many is not None:
                def give(ts: Sequence[AlertTransition] = transitions,
                         many: Callable[[Sequence[AlertTransition]], Awaitable[None]] = apply_many) -> Awaitable[None]:
                    return many(ts)

                what = f"a batch of {len(transitions)} alert transitions (each is tried alone next)"
                if await _until_taken(give, AlertSinkUnavailable, what, "the alert store", clock, retried):
                    transitions = []
            for transition in transitions:
                def apply(t: AlertTransition = transition) -> Awaitable[None]:
                    return sink.apply(t)

                what = f"alert {transition.rule}/{transition.device_id} ({transition.event})"
                if not await _until_taken(apply, AlertSinkUnavailable, what, "the alert store", clock, retried):
                    stats.sink_errors += 1
            if batch[-1] is None:
                return
        finally:
            for _ in batch:
                queue.task_done()


async def deliver_actions(queue: asyncio.Queue[ActionRequest | None], commands: CommandSink | None, clock: Clock,
                          stats: EngineStats) -> None:
    """Submit each action request to the command dispatcher until the ``None`` that ends the queue.

    The request's key goes with every attempt: a retry never queues the command twice.
    """

    def retried() -> None:
        stats.action_retries += 1

    warned = False
    while True:
        request = await queue.get()
        try:
            if request is None:
                return
            if commands is None:
                if not warned:
                    log.warning("rule actions need a command dispatcher; none is configured (%s dropped)",
                                request.action)
                    warned = True
                stats.action_errors += 1
                continue

            def submit(sink: CommandSink = commands, r: ActionRequest = request) -> Awaitable[None]:
                return sink.submit(r.target, r.action, dict(r.params), r.requester, r.reason, request_key=r.key)

            what = f"{request.requester}: {request.action} for {request.target.kind} {request.target.value}"
            if not await _until_taken(submit, CommandSinkUnavailable, what, "the command store", clock, retried):
                stats.action_errors += 1
        finally:
            queue.task_done()


class Outboxes:
    """Both queues and their workers; leaving lets the workers finish what is queued, then stop."""

    def __init__(self, sink: AlertSink, commands: CommandSink | None, clock: Clock, stats: EngineStats) -> None:
        self.alerts: asyncio.Queue[AlertTransition | None] = asyncio.Queue()
        self.actions: asyncio.Queue[ActionRequest | None] = asyncio.Queue()
        self._sink, self._commands, self._clock, self._stats = sink, commands, clock, stats
        self._group: asyncio.TaskGroup | None = None

    async def __aenter__(self) -> Outboxes:
        group = self._group = asyncio.TaskGroup()
        await group.__aenter__()
        group.create_task(deliver_transitions(self.alerts, self._sink, self._clock, self._stats),
                          name="rules-alert-sink")
        group.create_task(deliver_actions(self.actions, self._commands, self._clock, self._stats), name="rules-actions")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._group is not None
        self.alerts.put_nowait(None)
        self.actions.put_nowait(None)
        group, self._group = self._group, None
        await group.__aexit__(exc_type, exc, tb)

    def transition(self, transition: AlertTransition) -> None:
        self.alerts.put_nowait(transition)
        self._stats.transitions += 1

    def action(self, request: ActionRequest) -> None:
        self.actions.put_nowait(request)
        self._stats.actions += 1

    async def flush(self) -> None:
        """Wait until every transition and action queued so far has been handed over."""
        await self.alerts.join()
        await self.actions.join()
