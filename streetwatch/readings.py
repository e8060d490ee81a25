"""The unit of telemetry that flows from drivers through the gateway to the store and the rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple


class Reading(NamedTuple):
    """One metric of one device at one instant. ``ts`` is timezone-aware (UTC inside Streetwatch).

    Metric names carry their unit: ``water_level_mm``, ``power_w``, ``dissolved_oxygen_mg_l``.

    Immutable, as a frozen dataclass would be, and made at every reading the gateway takes in: a
    named tuple is made in less than half the time of a frozen dataclass (issue #21).
    """

    device_id: str
    metric: str
    ts: datetime
    value: float


def runs(readings: Iterable[Reading]) -> Iterator[list[Reading]]:
    """Consecutive readings of one device at one time, as lists: usually the readings of one message.

    A message's readings share their device id and time *objects*, so runs are told apart by
    identity (``is``), not equality: cheap, and never wrong, since equal runs side by side only stay
    apart. Whoever checks a device or a time once a run (the rules engine) does it once a message.

    >>> from datetime import UTC
    >>> at, later = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 1, 0, 1, tzinfo=UTC)
    >>> batch = [Reading("L-1", "power_w", at, 41.5), Reading("L-1", "voltage_v", at, 230.0),
    ...          Reading("L-1", "power_w", later, 40.0)]
    >>> [[r.metric for r in run] for run in runs(batch)]
    [['power_w', 'voltage_v'], ['power_w']]
    """
    run: list[Reading] = []
    device_id: str | None = None
    ts: datetime | None = None
    for reading in readings:
        if reading.ts is ts and reading.device_id is device_id:
            run.append(reading)
            continue
        if run:
            yield run
        run = [reading]
        device_id, ts = reading.device_id, reading.ts
    if run:
        yield run
