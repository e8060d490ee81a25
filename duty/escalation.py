"""The escalation engine: from a raised alert to the people of its policy, step by step, until someone
acknowledges or the alert is cleared.

Each tick reads the alert store, so an acknowledgement from anywhere (the CLI, the API, a signed link)
stops the chain at the next tick, and a restart resumes where the database says. A step is one
transaction: its notifications go into the outbox, its links are recorded, and the escalation moves to
the next step; a step replayed after a crash queues nothing twice (the outbox's keys).

>>> escalator = Escalator(roster, alerts, outbox, signer, places, clock=clock)   # doctest: +SKIP
>>> await escalator.tick()                                                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from duty.ack_links import AckSigner, epoch, new_nonce
from duty.outbox import Outbox, OutboxItem
from duty.recipients import Place, contacts_for, people_for
from duty.roster import Roster
from duty.suppression import Silence, Silences, parent_offline, silenced_by
from duty.templates import Notice, Projected, render
from rules.alert_rows import time_param, time_value
from rules.alert_store import AlertStore
from rules.alerts import Alert, AlertState
from rules.payload import projection
from streetwatch.clock import Clock
from streetwatch.database import Database

log = logging.getLogger(__name__)


class _Wait:
    """Not decided yet: look again on a later tick."""


_WAIT = _Wait()
PlaceOf = Callable[[Alert], Awaitable[Place]]


@dataclass(frozen=True, slots=True)
class Escalation:
    alert_id: int
    severity: str
    area: str
    step: int
    next_at: datetime | None
    started_at: datetime  # the chain's start: a chain started again (a reopened alert) is a new one


class Escalator:
    def __init__(self, roster: Roster, alerts: AlertStore, outbox: Outbox, signer: AckSigner, place_of: PlaceOf,
                 *, clock: Clock, public_url: str = "http://127.0.0.1:8000", link_ttl_s: float = 86_400.0,
                 map_url: str = "") -> None:
        self.roster = roster
        self.db: Database = roster.db
        self.alerts = alerts
        self.outbox = outbox
        self.signer = signer
        self.place_of = place_of
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.link_ttl_s = link_ttl_s
        self.map_url = map_url
        self.steps_run = 0
        self.suppressed = 0
        self.started: list[int] = []
        """The alerts whose chain's first step the last tick took up."""

    async def tick(self, steps: Literal["all", "first", "later"] = "all", *,
                   stop_when: Callable[[], bool] | None = None) -> int:
        """Start, advance and stop escalations as of now; the number of steps run.

        First steps (a chain's step 0: a new alert, or one whose chain starts again) run before the later
        steps of older chains, so a new alert's first message never waits behind a thousand reminders;
        ``steps="first"`` starts and stops chains and runs only those (their alerts are then in
        :attr:`started`), ``"later"`` only the others (the duty service delivers the first messages in
        between). ``stop_when()`` is asked between steps: the steps left stay due for the next tick.
        """
        now = self.clock.now()
        if steps != "later":
            await self._start_new(now)
            await self._stop_finished(now)
        ran = 0
        which = {"all": "", "first": " AND step = 0", "later": " AND step > 0"}[steps]
        rows = await self.db.fetch_all(
            f"SELECT * FROM duty_escalations WHERE stopped_at IS NULL AND next_at <= ?{which} "
            f"ORDER BY step > 0, next_at, alert_id", (time_param(self.db, now),))
        self.started = [int(row["alert_id"]) for row in rows if int(row["step"]) == 0]
        for row in rows:
            if stop_when is not None and stop_when():
                break
            started = time_value(row["started_at"])
            assert started is not None
            escalation = Escalation(int(row["alert_id"]), str(row["severity"]), str(row["area"]), int(row["step"]),
                                    time_value(row["next_at"]), started)
            step = await self._run_step(escalation, now)
            ran += step
            self.steps_run += step  # counted as they run: a long tick shows its progress
        return ran

    async def _start_new(self, now: datetime) -> None:
        severities = [p.severity for p in self.roster.plan.policies]
        if not severities:
            return
        marks = ", ".join("?" for _ in severities)
        # New alerts, and alerts whose chain must start again: reopened after a clear nobody acknowledged,
        # or raised to another severity while their chain runs (the new severity's policy takes over).
        rows = await self.db.fetch_all(
            f"SELECT a.id, e.alert_id AS known FROM alerts a LEFT JOIN duty_escalations e ON e.alert_id = a.id "
            f"WHERE a.state = ? AND a.severity IN ({marks}) AND (e.alert_id IS NULL OR (e.suppressed = '' "
            f"AND e.acked_at IS NULL AND ((e.stopped_at IS NOT NULL AND a.updated_at > e.stopped_at) "
            f"OR (e.stopped_at IS NULL AND e.severity <> a.severity)))) ORDER BY a.id",
            (AlertState.raised.value, *severities))
        silences = await Silences(self.db).active(now)
        await self._suppression_ended(marks, severities, silences, now)
        for row in rows:
            alert = await self.alerts.get(int(row["id"]))
            if row["known"] is not None:
                await self.db.execute(
                    "UPDATE duty_escalations SET severity = ?, step = 0, next_at = ?, started_at = ?, "
                    "stopped_at = NULL, stopped_by = '' WHERE alert_id = ?",
                    (alert.severity, time_param(self.db, now), time_param(self.db, now), alert.id))
                log.info("alert %d (%s) escalates again from the first step", alert.id, alert.severity)
                continue
            place = await self.place_of(alert)
            why = await self._suppressed(alert, place, silences, now)
            if isinstance(why, _Wait):
                continue
            await self.db.execute(
                "INSERT INTO duty_escalations (alert_id, severity, area, step, next_at, started_at, stopped_at, "
                "stopped_by, suppressed) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?) ON CONFLICT (alert_id) DO NOTHING",
                (alert.id, alert.severity, place.area, None if why else time_param(self.db, now),
                 time_param(self.db, now), time_param(self.db, now) if why else None, "suppressed" if why else "",
                 why or ""))
            if why:
                self.suppressed += 1
                log.info("alert %d (%s %s) recorded, not escalated: %s", alert.id, alert.rule, alert.device_id, why)

    async def _suppression_ended(self, marks: str, severities: list[str], silences: list[Silence],
                                 now: datetime) -> None:
        """Start the chain of every alert a silence or an offline parent kept quiet that is still raised, nobody
        acknowledged, and nothing suppresses any more: the silence expired or was ended (the flood did not stop
        with the maintenance), or the parent is back online while this device is still silent (so it is not the
        converter's outage any more)."""
        rows = await self.db.fetch_all(
            f"SELECT a.id, e.suppressed FROM alerts a JOIN duty_escalations e ON e.alert_id = a.id "
            f"WHERE (e.suppressed LIKE ? OR e.suppressed LIKE ?) AND a.state = ? AND a.acknowledged_at IS NULL "
            f"AND a.severity IN ({marks}) ORDER BY a.id",
            ("silence %", "parent %", AlertState.raised.value, *severities))
        for row in rows:
            alert = await self.alerts.get(int(row["id"]))
            if await self._suppressed(alert, await self.place_of(alert), silences, now) is not None:
                continue
            await self.db.execute(
                "UPDATE duty_escalations SET severity = ?, step = 0, next_at = ?, started_at = ?, stopped_at = NULL, "
                "stopped_by = '', suppressed = '' WHERE alert_id = ? AND suppressed = ?",
                (alert.severity, time_param(self.db, now), time_param(self.db, now), alert.id, row["suppressed"]))
            log.info("alert %d (%s %s) is still raised and nothing suppresses it any more (was: %s); escalation "
                     "starts", alert.id, alert.rule, alert.device_id, row["suppressed"])

    async def _suppressed(self, alert: Alert, place: Place, silences: list[Silence],
                          now: datetime) -> str | _Wait | None:
        """Why the alert is not escalated, :data:`_WAIT` to decide on a later tick, or None."""
        rules = self.roster.plan.suppression
        if rules.is_offline(alert.rule) and place.parent:
            offline = await parent_offline(self.db, place.parent, rules)
            if offline is not None:
                return f"parent {place.parent} is offline ({offline})"
            if (now - alert.raised_at).total_seconds() < rules.hold_s:
                return _WAIT  # the parent's own alert may be on its way
        silence = silenced_by(silences, place.device_id, place.groups, await self.roster.chain(place.area))
        if silence is not None:
            return f"silence {silence.id} ({silence.target_kind} {silence.target}): {silence.reason}"
        return None

    async def _stop_finished(self, now: datetime) -> None:
        """Stop the chain of every alert that is no longer raised (acknowledged, cleared or closed)."""
        rows = await self.db.fetch_all(
            "SELECT a.* FROM alerts a JOIN duty_escalations e ON e.alert_id = a.id "
            "WHERE e.stopped_at IS NULL AND a.state <> ?", (AlertState.raised.value,))
        for row in rows:
            alert = await self.alerts.get(int(row["id"]))
            why = f"acknowledged by {alert.acknowledged_by}" if alert.acknowledged_at else alert.state.value
            await self._stop(alert.id, now, why, acked_at=alert.acknowledged_at,
                             resolved_at=alert.closed_at or alert.cleared_at)

    async def _stop(self, alert_id: int, now: datetime, why: str, *, acked_at: datetime | None = None,
                    resolved_at: datetime | None = None) -> None:
        t = self.db
        await t.execute("UPDATE duty_escalations SET stopped_at = ?, stopped_by = ?, next_at = NULL, acked_at = ?, "
                        "resolved_at = ? WHERE alert_id = ? AND stopped_at IS NULL",
                        (time_param(t, now), why[:200], None if acked_at is None else time_param(t, acked_at),
                         None if resolved_at is None else time_param(t, resolved_at), alert_id))
        log.info("escalation of alert %d stopped: %s", alert_id, why)

    async def _run_step(self, escalation: Escalation, now: datetime) -> int:
        alert = await self.alerts.get(escalation.alert_id)
        policy = self.roster.plan.policy(escalation.severity)
        step = policy.step_at(escalation.step) if policy is not None else None
        if alert.state is not AlertState.raised or policy is None or step is None:
            await self._stop(alert.id, now, "no further step" if alert.state is AlertState.raised else
                             alert.state.value)
            return 0
        place = await self.place_of(alert)
        people = await people_for(self.roster, policy, step, Place(place.device_id, escalation.area, place.groups),
                                  now)
        contacts = await contacts_for(self.roster, people, step.channels)
        if not contacts:
            log.warning("alert %d, step %d (%s): nobody to notify at %s", alert.id, escalation.step, step.where,
                        escalation.area)
        async with self.db.transaction() as tx:
            items = [self._item(alert, escalation, c.person, c.channel, c.address, c.language, now)
                     for c in contacts]
            for item, nonce in items:
                await tx.execute("INSERT INTO duty_ack_links (nonce, alert_id, recipient, expires_at) "
                                 "VALUES (?, ?, ?, ?)", (nonce, alert.id, item.recipient,
                                                         time_param(tx, now + timedelta(seconds=self.link_ttl_s))))
            await self.outbox.enqueue([item for item, _ in items], now, db=tx)
            await tx.execute("UPDATE duty_escalations SET step = ?, next_at = ? WHERE alert_id = ? AND step = ?",
                             (escalation.step + 1, time_param(tx, now + timedelta(seconds=step.wait_s)), alert.id,
                              escalation.step))
        return 1

    def _item(self, alert: Alert, escalation: Escalation, person: str, channel: str, address: str, language: str,
              now: datetime) -> tuple[OutboxItem, str]:
        nonce = new_nonce()
        token = self.signer.sign(alert.id, expires=epoch(now) + int(self.link_ttl_s), nonce=nonce)
        notice = notice_of(alert, f"{self.public_url}/ack/{token}", self.map_url)
        message = render(notice, "en" if language == "en" else "zh")
        body = message.sms if channel == "sms" else message.voice if channel == "voice" else message.text
        chain = round(escalation.started_at.timestamp() * 1_000_000)
        key = f"{alert.id}:{chain}:{escalation.step}:{person}:{channel}:{address}"
        return OutboxItem(key, alert.id, person, channel, address, message.subject, body), nonce


def notice_of(alert: Alert, ack_url: str, map_url: str = "") -> Notice:
    """What the messages say about ``alert``; the trend comes from the rule's ``rise_10min`` context, the map
    link from the ``map_url`` template and the device's location. A device that watches a hazard point is
    spoken of as the point (its name, then its landmark and the device); a projected alert says when its
    level is reached."""
    landmark = alert.location.landmark if alert.location is not None else ""
    unit = alert.metric.rsplit("_", 1)[1] if alert.metric and "_" in alert.metric else ""
    rise = alert.context.get("rise_10min")
    where = alert.location
    link = map_url.format(lat=where.latitude, lon=where.longitude) if map_url and where is not None else ""
    place, detail = landmark or alert.site or alert.device_id, alert.device_id
    if alert.hazard is not None:
        place, detail = alert.hazard.name, ", ".join(x for x in (alert.hazard.landmark, alert.device_id) if x)
    ahead = projection(alert.context, alert.threshold)
    projected = (Projected(ahead["level"], ahead["eta_s"], ahead["earliest_s"], ahead["latest_s"])
                 if ahead is not None and ahead["level"] is not None else None)
    return Notice(alert.id, alert.severity, place, alert.metric, alert.value,
                  unit if unit in ("mm", "cm", "m", "ntu") else "", rise, ack_url, link, landmark=detail,
                  projection=projected)
