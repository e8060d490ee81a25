"""Acknowledging an alert through a one-time signed link: genuine, unexpired, unused — then the alert store's
own acknowledgement, recorded as the person the link was sent to.

>>> alert = await acknowledge_by_link(db, alerts, signer, token, now=clock.now())   # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime

from duty.ack_links import AckSigner
from duty.errors import AckLinkError
from rules.alert_rows import time_param
from rules.alert_store import AlertStore
from rules.alerts import Alert, AlertState
from streetwatch.database import Database


async def acknowledge_by_link(db: Database, alerts: AlertStore, signer: AckSigner, token: str, *,
                              now: datetime) -> Alert:
    """The alert, acknowledged; :class:`AckLinkError` for a forged, expired, used or unknown link."""
    claim = signer.verify(token, now=now.timestamp())
    row = await db.fetch_one("SELECT recipient FROM duty_ack_links WHERE nonce = ? AND alert_id = ?",
                             (claim.nonce, claim.alert_id))
    if row is None:
        raise AckLinkError("this acknowledgement link is not valid")
    # The first use wins: the guarded update changes one row once, whoever races for it.
    used = await db.execute("UPDATE duty_ack_links SET used_at = ? WHERE nonce = ? AND used_at IS NULL",
                            (time_param(db, now), claim.nonce))
    if used != 1:
        raise AckLinkError("this acknowledgement link has been used already")
    alert = await alerts.get(claim.alert_id)
    if alert.state not in (AlertState.raised, AlertState.cleared):
        return alert  # someone else acknowledged it first: the chain has stopped, nothing more to do
    change = await alerts.acknowledge(claim.alert_id, str(row["recipient"]), "acknowledged through the link", now)
    return change.alert
