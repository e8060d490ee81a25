"""The outbox and its deliverer: queued once per key, retried per channel, nothing lost or sent twice when
the database goes away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_registry import Registry
from duty.channels import Outgoing
from duty.delivery import Deliverer
from duty.errors import DeliveryError
from duty.outbox import Outbox, OutboxItem
from duty.schema import MIGRATIONS
from duty.sent_marks import PendingMarks
from duty.service import open_duty_service
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, DutySettings, Settings
from streetwatch.database import Database, DatabaseUnavailable, open_database
from streetwatch.migrations import migrate


class Flaky:
    """A channel that refuses the first ``failures`` messages, then takes every one (and remembers it)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.taken: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("gateway busy")
        self.taken.append(message)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/o.db")) as database:
        await migrate(database, MIGRATIONS)
        yield database


def _item(recipient: str, channel: str) -> OutboxItem:
    return OutboxItem(f"7:raised:0:{recipient}:{channel}", 7, recipient, channel, f"{recipient}@x.example", "s", "b")


async def test_the_same_key_is_queued_once(db: Database) -> None:
    outbox, now = Outbox(db), datetime(2026, 7, 1, tzinfo=UTC)
    assert await outbox.enqueue([_item("wang", "email"), _item("wang", "sms")], now) == 2
    assert await outbox.enqueue([_item("wang", "email"), _item("li", "email")], now) == 1
    assert [r.item.key for r in await outbox.of_alert(7)] == [
        "7:raised:0:wang:email", "7:raised:0:wang:sms", "7:raised:0:li:email"]


async def test_a_failing_channel_is_retried_with_backoff_while_others_go_on(db: Database) -> None:
    clock = FakeClock(datetime(2026, 7, 1, tzinfo=UTC))
    sms, email = Flaky(failures=2), Flaky()
    outbox = Outbox(db)
    deliverer = Deliverer(outbox, {"sms": sms, "email": email}, clock=clock, retry_initial_s=2, retry_max_s=60)
    await outbox.enqueue([_item("wang", "sms"), _item("wang", "email")], clock.now())
    assert await deliverer.run_once() == 1 and len(email.taken) == 1 and sms.taken == []
    assert await deliverer.run_once() == 0  # the SMS waits for its backoff
    clock.advance(seconds=2.5)
    assert await deliverer.run_once() == 0  # second failure: the wait doubles
    clock.advance(seconds=2.5)
    assert await deliverer.run_once() == 0
    clock.advance(seconds=2.5)
    assert await deliverer.run_once() == 1
    rows = await outbox.of_alert(7)
    assert [(r.item.channel, r.attempts, r.sent_at is not None, r.last_error) for r in rows] == [
        ("sms", 3, True, "gateway busy"), ("email", 1, True, "")]
    clock.advance(seconds=600)
    assert await deliverer.run_once() == 0 and len(sms.taken) == 1 and len(email.taken) == 1


async def test_given_up_after_max_attempts_and_kept_with_the_error(db: Database) -> None:
    clock = FakeClock(datetime(2026, 7, 1, tzinfo=UTC))
    outbox = Outbox(db)
    deliverer = Deliverer(outbox, {"sms": Flaky(failures=99)}, clock=clock, retry_initial_s=1, retry_max_s=1,
                          max_attempts=3)
    await outbox.enqueue([_item("wang", "sms"), _item("li", "voice")], clock.now())
    for _ in range(5):
        await deliverer.run_once()
        clock.advance(seconds=1.5)
    rows = await outbox.of_alert(7)
    assert [(r.attempts, r.failed_at is not None, r.last_error) for r in rows] == [
        (3, True, "gateway busy"), (1, True, "no voice channel is configured")]


class GoesAway(Outbox):
    """The database refuses the 'sent' mark ``refusals`` times, as during an outage."""

    refusals = 0

    async def mark_sent(self, row_id: int, now: datetime) -> None:
        if self.refusals:
            self.refusals -= 1
            raise DatabaseUnavailable("connection refused")
        await super().mark_sent(row_id, now)


async def test_a_database_outage_after_sending_does_not_send_twice(db: Database) -> None:
    clock = FakeClock(datetime(2026, 7, 1, tzinfo=UTC))
    outbox = GoesAway(db)
    email = Flaky()
    deliverer = Deliverer(outbox, {"email": email}, clock=clock)
    await outbox.enqueue([_item("wang", "email")], clock.now())
    outbox.refusals = 2
    with pytest.raises(DatabaseUnavailable):
        await deliverer.run_once()
    with pytest.raises(DatabaseUnavailable):
        await deliverer.run_once()  # the mark is tried first, before anything is sent
    assert await deliverer.run_once() == 0
    (row,) = await outbox.of_alert(7)
    assert row.sent_at is not None and len(email.taken) == 1


async def test_a_restart_while_the_database_is_away_does_not_send_again(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 7, 1, tzinfo=UTC))
    outbox, email = GoesAway(db), Flaky()
    marks = PendingMarks(tmp_path / "duty" / "sent-unrecorded.log")
    await outbox.enqueue([_item("wang", "email")], clock.now())
    outbox.refusals = 1
    with pytest.raises(DatabaseUnavailable):
        await Deliverer(outbox, {"email": email}, clock=clock, pending=marks).run_once()
    assert marks.path.exists()
    # the process stops before the database is back; a new one starts once it is
    restarted = Deliverer(outbox, {"email": email}, clock=clock, pending=marks)
    assert await restarted.run_once() == 0
    (row,) = await outbox.of_alert(7)
    assert row.sent_at is not None and len(email.taken) == 1
    assert not marks.path.exists()  # every mark is in the database


async def test_invalid_duty_files_leave_the_service_running_without_escalation(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    duty_dir = tmp_path / "duty"
    duty_dir.mkdir()
    (duty_dir / "bad.yaml").write_text("policies:\n  - severity: red\n    steps: [{notify: boss}]\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path, duty=DutySettings(duty_dir=duty_dir))
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/s.db")) as db:
        registry = Registry(db)
        await registry.migrate()
        async with open_duty_service(settings, db, registry, FakeClock()) as service:
            await service.tick()
            assert service.escalator.roster.plan.policies == ()
    assert any("bad.yaml:3: policies[0].steps[0].notify" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "ack.key").stat().st_mode & 0o777 == 0o600
