"""Duty as a gateway service: each tick the escalation engine runs, rules' task orders are dispatched, overdue
tasks are escalated, then the outbox is delivered.

    async with open_duty_service(settings, db, registry, clock) as duty:   # doctest: +SKIP
        await duty.run()

A database outage is logged once and the ticks go on; when it is back, escalations resume where the
database says and the outbox delivers what waited (docs/duty.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import httpx

from device_registry import Registry
from duty.ack_links import AckSigner, load_key
from duty.channels import (
    Adapter,
    ConsoleAdapter,
    DingTalkAdapter,
    EmailAdapter,
    FeishuAdapter,
    HttpGatewayAdapter,
    WeComAdapter,
)
from duty.contacts import Contacts
from duty.delivery import Deliverer
from duty.errors import DutyFileError
from duty.escalation import Escalator
from duty.files import DutyPlan, load_duty
from duty.outbox import Outbox
from duty.places import registry_places
from duty.roster import Roster
from duty.rule_tasks import RuleTasks
from duty.sent_marks import PendingMarks
from duty.task_sla import escalate_overdue
from duty.tasks import Tasks
from rules.alert_store import AlertStore
from rules.loader import RuleSet
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import Database, DatabaseError
from streetwatch.readings import Reading

log = logging.getLogger(__name__)
LATER_SLICE_S = 0.2
"""How long older chains' steps and messages go on before a new alert's wake-up interrupts them."""


class DutyService:
    def __init__(self, escalator: Escalator, deliverer: Deliverer, contacts: Contacts, *, tick_s: float,
                 rule_tasks: RuleTasks | None = None) -> None:
        self.tasks = Tasks(escalator.db)
        self.rule_tasks = rule_tasks
        self.escalator = escalator
        self.deliverer = deliverer
        self.contacts = contacts
        self.tick_s = tick_s
        self.outages = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tick now (an alert was just raised), not at the next interval."""
        self._wake.set()

    async def on_readings(self, batch: Sequence[Reading]) -> None:
        """Duty follows alerts, not readings."""

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        """Duty follows alerts, not devices."""

    async def tick(self) -> None:
        self.deliverer.secrets = await self.contacts.secrets()
        clock = self.escalator.clock
        with self.escalator.roster.remembering():
            # New alerts' first messages go out before older chains' next steps; a newer alert's wake-up
            # interrupts those (they stay due) once they had LATER_SLICE_S, so its first message never waits
            # behind a thousand others, and the others still move on however often alerts come.
            if await self.escalator.tick("first"):
                await self.deliverer.run_once(alerts=self.escalator.started)
            since = [clock.monotonic()]

            def interrupted() -> bool:
                return self._wake.is_set() and clock.monotonic() - since[0] >= LATER_SLICE_S

            await self.escalator.tick("later", stop_when=interrupted)
            now = clock.now()
            if self.rule_tasks is not None:
                await self.rule_tasks.tick(now)
            await escalate_overdue(self.tasks, self.escalator.roster, self.escalator.outbox, now)
            since[0] = clock.monotonic()  # the messages get a slice of their own
            await self.deliverer.run_once(stop_when=interrupted)

    async def run(self) -> None:
        failing = False
        while True:
            try:
                await self.tick()
            except DatabaseError as exc:
                self.outages += not failing
                if not failing:
                    log.error("duty: the database is unreachable (%s); escalations wait for it", exc)
                failing = True
            else:
                if failing:
                    log.info("duty: the database is back; escalations go on")
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s)
            self._wake.clear()


def adapters(settings: Settings, client: httpx.AsyncClient, clock: Clock) -> dict[str, Adapter]:
    duty = settings.duty
    found: dict[str, Adapter] = {
        "email": EmailAdapter(host=duty.smtp_host, port=duty.smtp_port, sender=duty.mail_from,
                              starttls=duty.smtp_starttls, user=duty.smtp_user,
                              password=duty.smtp_password.get_secret_value()),
        "wecom": WeComAdapter(client, clock), "dingtalk": DingTalkAdapter(client, clock),
        "feishu": FeishuAdapter(client, clock), "console": ConsoleAdapter()}
    if duty.sms is not None:
        found["sms"] = HttpGatewayAdapter(duty.sms, client, clock, "sms")
    if duty.voice is not None:
        found["voice"] = HttpGatewayAdapter(duty.voice, client, clock, "voice")
    return found


@asynccontextmanager
async def open_duty_service(settings: Settings, db: Database, registry: Registry, clock: Clock,
                            rules_of: Callable[[], RuleSet | None] | None = None) -> AsyncIterator[DutyService]:
    """The duty service; ``rules_of`` gives the rules in force, whose ``dispatch_task`` actions it carries out."""
    duty = settings.duty
    try:
        plan = load_duty(duty.duty_dir)
    except DutyFileError as exc:
        # The gateway keeps measuring and raising alerts; nobody is escalated to until the files are fixed.
        for problem in exc.problems:
            log.error("duty: %s", problem)
        log.error("duty: the duty files are invalid; no escalation until `streetwatch duty validate` passes")
        plan = DutyPlan()
    roster = Roster(db, plan, settings.timezone)
    await roster.migrate()
    for problem in await roster.problems():
        log.warning("duty: %s", problem)
    alerts = AlertStore(db)
    await alerts.migrate()
    signer = AckSigner(load_key(duty.ack_secret.get_secret_value(), settings.data_dir))
    outbox = Outbox(db)
    place_of = registry_places(registry)
    rule_tasks = RuleTasks(roster, alerts, place_of, rules_of) if rules_of is not None else None
    escalator = Escalator(roster, alerts, outbox, signer, place_of, clock=clock,
                          public_url=duty.public_url, link_ttl_s=duty.ack_link_ttl_s, map_url=duty.map_url)
    async with httpx.AsyncClient(timeout=10.0) as client:
        deliverer = Deliverer(outbox, adapters(settings, client, clock), clock=clock,
                              retry_initial_s=duty.retry_initial_s, retry_max_s=duty.retry_max_s,
                              max_attempts=duty.max_attempts,
                              pending=PendingMarks(settings.data_dir / "duty" / "sent-unrecorded.log"))
        yield DutyService(escalator, deliverer, roster.contacts, tick_s=duty.tick_s, rule_tasks=rule_tasks)
