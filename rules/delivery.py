"""The engine's two outboxes: transitions to the alert sink, action requests to the command sink.

Each is a queue drained by one named task, so a slow database or dispatcher never holds up rule
evaluation. A sink that is unavailable is retried with backoff, in order; anything else it raises
is a fault: logged with its traceback, counted, and the next item goes on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from rules.actions import ActionRequest, CommandSink
from rules.alerts import AlertSink, AlertTransition
from rules.errors import AlertSinkUnavailable
from streetwatch.backoff import Backoff
from streetwatch.clock import Clock

log = logging.getLogger(__name__)


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
    sink_errors: int = 0
    action_errors: int = 0


async def deliver_transitions(queue: asyncio.Queue[AlertTransition | None], sink: AlertSink, clock: Clock,
                              stats: EngineStats) -> None:
    """Hand each transition to ``sink`` in order until the ``None`` that ends the queue."""
    while True:
        transition = await queue.get()
        try:
            if transition is None:
                return
            backoff = Backoff(initial_s=0.2, max_s=30.0)
            while True:
                try:
                    await sink.apply(transition)
                    break
                except AlertSinkUnavailable as exc:
                    stats.sink_retries += 1
                    now = clock.monotonic()
                    delay = backoff.failed(now) - now
                    level = logging.WARNING if backoff.failures == 1 else logging.DEBUG
                    log.log(level, "alert %s/%s waits for the alert store (retry in %.1f s): %s",
                            transition.rule, transition.device_id, delay, exc)
                    await asyncio.sleep(delay)
                except Exception:
                    stats.sink_errors += 1
                    log.exception("alert %s/%s (%s) could not be stored", transition.rule, transition.device_id,
                                  transition.event)
                    break
        finally:
            queue.task_done()


async def deliver_actions(queue: asyncio.Queue[ActionRequest | None], commands: CommandSink | None,
                          stats: EngineStats) -> None:
    """Submit each action request to the command dispatcher until the ``None`` that ends the queue."""
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
            try:
                await commands.submit(request.target, request.action, dict(request.params), request.requester,
                                      request.reason)
            except Exception:
                stats.action_errors += 1
                log.exception("%s: %s for %s %s was not accepted", request.requester, request.action,
                              request.target.kind, request.target.value)
        finally:
            queue.task_done()
