"""A new alert's first message does not wait behind older chains' steps: first steps run first, their messages
are delivered on their own, and a newer alert's wake-up interrupts the older steps (they stay due)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from duty.ack_links import AckSigner
from duty.channels import Outgoing
from duty.delivery import Deliverer
from duty.escalation import Escalator
from duty.outbox import Outbox
from duty.recipients import Place
from rules.alerts import Alert, AlertEvent, AlertTransition
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.world import START, city


@dataclass
class Recording:
    keys: list[str] = field(default_factory=list)

    async def send(self, message: Outgoing) -> None:
        self.keys.append(message.key)


async def _in_the_community(alert: Alert) -> Place:
    return Place(alert.device_id, "xinshi")


async def test_a_new_alerts_first_step_and_message_go_before_a_hundred_older_steps(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/f.db")) as db:
        roster, _registry, alerts = await city(db)
        outbox, sms = Outbox(db), Recording()
        escalator = Escalator(roster, alerts, outbox, AckSigner(b"f" * 32), _in_the_community, clock=clock)
        deliverer = Deliverer(outbox, {"sms": sms, "email": Recording()}, clock=clock)

        async def raise_red(device: str, seq: int) -> int:
            change = await alerts.apply(AlertTransition(seq, AlertEvent.raised, "culvert-water-level", device, "red",
                                                        None, clock.now()))
            assert change is not None
            return change.alert.id

        for i in range(120):
            await raise_red(f"OLD-{i:03d}", i + 1)
        assert await escalator.tick("first") == 120
        await deliverer.run_once()
        assert len(sms.keys) == 120  # more than one batch of the outbox, in one run
        clock.advance(seconds=120)  # every old chain's second step is due
        new = await raise_red("NEW-1", 999)
        with roster.remembering():
            assert await escalator.tick("first") == 1
            assert escalator.started == [new]
            assert await deliverer.run_once(alerts=escalator.started) == 2  # SMS and e-mail of the new alert
            assert sms.keys[-1].startswith(f"{new}:")
            stop = [0]

            def woken() -> bool:  # another alert arrives after 10 of the older steps
                stop[0] += 1
                return stop[0] > 10

            assert await escalator.tick("later", stop_when=woken) == 10
        assert await escalator.tick("later") == 110  # the others stayed due
