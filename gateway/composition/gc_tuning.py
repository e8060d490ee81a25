"""The garbage collector tuned for a long-running gateway, and put back on leaving.

A gateway holds a few hundred thousand long-lived objects (the device directory, rules, routes),
and each full collection scans them all: 100–200 ms with the event loop stopped, the largest part
of an alert's latency tail (docs/benchmarks.md, rules section). Once everything that lives for the
process's life is loaded, :func:`gc.freeze` moves it out of the collector's scans, and a higher
young-generation threshold lets batches of readings die young instead of reaching the old
generation.

>>> with tuned_gc((50_000, 20, 100)):          # doctest: +SKIP
...     await serve()
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

Thresholds = tuple[int, int, int]


@contextmanager
def tuned_gc(thresholds: Thresholds | None) -> Iterator[Thresholds | None]:
    """Freeze what lives now and set ``thresholds``; None leaves the collector as it is.

    Yields the thresholds in force. On leaving, the previous thresholds apply again and the frozen
    objects return to the collector (so a gateway run inside a test leaves the process as it was).
    """
    if thresholds is None:
        yield None
        return
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*thresholds)
    log.info("garbage collector tuned: %d object(s) frozen, thresholds %s", gc.get_freeze_count(), thresholds)
    try:
        yield thresholds
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
