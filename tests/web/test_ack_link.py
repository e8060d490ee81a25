"""``/ack/{token}`` served by ``streetwatch serve``: a public route; GET only shows, POST acknowledges once,
as the person the link was sent to, and the audit log says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from duty import MIGRATIONS as DUTY_MIGRATIONS
from duty.ack_links import AckSigner, epoch
from people import People
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertState, AlertTransition
from streetwatch.clock import FakeClock
from streetwatch.config import ApiSettings, DatabaseUrl, DutySettings, Settings
from streetwatch.database import open_database
from streetwatch.migrations import migrate
from tests.web.world import serving

pytestmark = pytest.mark.services
KEY = "an acknowledgement key for tests"


async def _seed(database_url: str, clock: FakeClock) -> tuple[int, str, str]:
    """An alert and two links to it (to wang and to li)."""
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await People(db).migrate()
        alerts = AlertStore(db)
        await alerts.migrate()
        await migrate(db, DUTY_MIGRATIONS)
        change = await alerts.apply(AlertTransition(1, AlertEvent.raised, "culvert-water-level", "CUL-7", "red", None,
                                                    clock.now(), metric="water_level_mm", value=820.0,
                                                    message="water over the floor"))
        assert change is not None
        signer, expires = AckSigner(KEY.encode()), epoch(clock.now()) + 3600
        tokens = []
        for nonce, person in (("nonceWAN", "wang"), ("nonceLI_", "li")):
            await db.execute("INSERT INTO duty_ack_links (nonce, alert_id, recipient, expires_at) VALUES (?, ?, ?, ?)",
                             (nonce, change.alert.id, person, (clock.now() + timedelta(hours=1)).isoformat()))
            tokens.append(signer.sign(change.alert.id, expires=expires, nonce=nonce))
        return change.alert.id, tokens[0], tokens[1]


async def _state(database_url: str, alert_id: int) -> tuple[AlertState, str | None, list[tuple[str, str]]]:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        alert = await AlertStore(db).get(alert_id)
        audit = await People(db).audit.list(limit=10)
        return alert.state, alert.acknowledged_by, [(e.actor, e.action) for e in audit if e.role == "ack-link"]


def test_a_link_shows_then_acknowledges_once_as_its_recipient(database_url: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    alert_id, wang, li = asyncio.run(_seed(database_url, clock))
    settings = Settings(database_url=database_url, api=ApiSettings(cookie_secure=False),
                        duty=DutySettings(ack_secret=SecretStr(KEY)))
    with serving(settings, clock) as url, httpx.Client(base_url=url) as client:
        shown = client.get(f"/ack/{wang}")
        assert shown.status_code == 200 and '<form method="post">' in shown.text and "CUL-7" in shown.text
        assert shown.headers["cache-control"] == "no-store"
        assert asyncio.run(_state(database_url, alert_id))[0] is AlertState.raised  # GET changes nothing

        done = client.post(f"/ack/{wang}")
        assert done.status_code == 200 and "Acknowledged" in done.text
        assert asyncio.run(_state(database_url, alert_id)) == (AlertState.acknowledged, "wang", [("wang", "alert.ack")])

        again = client.post(f"/ack/{wang}")
        assert again.status_code == 410 and "used already" in again.text
        other = client.post(f"/ack/{li}")  # a second recipient's link: the alert is acknowledged already
        assert other.status_code == 200 and asyncio.run(_state(database_url, alert_id))[1] == "wang"

        forged = client.post(f"/ack/{wang[:-4]}AAAA")
        assert forged.status_code == 404 and "not valid" in forged.text
        assert client.post("/ack/<script>").status_code == 404
