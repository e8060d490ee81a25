"""The garbage collector tuned for a long-running process, and put back on leaving.

A gateway holds a few hundred thousand long-lived objects (the device directory, rules, routes),
and each full collection scans them all: 100–200 ms with the event loop stopped, the largest part
of an alert's latency tail (docs/benchmarks.md, rules section). ``streetwatch serve`` holds fewer
(the application, its routes and models), yet a full scan of them took 45 ms: the p99 of a street's
device page. Once everything that lives for the process's life is loaded, :func:`gc.freeze` moves
it out of the collector's scans, and a higher young-generation threshold lets batches of readings
(or a request's objects) die young instead of reaching the old generation.

>>> with tuned_gc((50_000, 20, 100)):          # doctest: +SKIP
...     await serve()
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from pydantic import AfterValidator

log = logging.getLogger(__name__)

Thresholds = tuple[int, int, int]


def _checked(value: Thresholds) -> Thresholds:
    if value[0] <= 0 or min(value) < 0:
        raise ValueError("the first threshold must be positive and none negative (gc.set_threshold)")
    return value


GcThresholds = Annotated[Thresholds, AfterValidator(_checked)]
"""The three thresholds as a setting (``[gateway]`` and ``[api] gc_thresholds``), checked as gc.set_threshold would."""


class _Held:
    """A change to the collector, which is one per process, held by any number of holders (a gateway, an API
    server, an import, several in one test process): ``save`` runs when the first comes and returns what puts
    the collector back, which runs when the last leaves, in whatever order they leave."""

    def __init__(self, save: Callable[[], Callable[[], None]]) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.save = save
        self.undo: Callable[[], None] = lambda: None

    def enter(self, change: Callable[[], None]) -> None:
        with self.lock:
            if self.holders == 0:
                self.undo = self.save()
            self.holders += 1
            change()

    def leave(self) -> None:
        with self.lock:
            self.holders -= 1
            if self.holders == 0:
                self.undo()


def _untuned() -> Callable[[], None]:
    thresholds = gc.get_threshold()

    def undo() -> None:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    return undo


def _unpaused() -> Callable[[], None]:
    return gc.enable if gc.isenabled() else (lambda: None)


_TUNING = _Held(_untuned)
_PAUSE = _Held(_unpaused)


@contextmanager
def tuned_gc(thresholds: Thresholds | None) -> Iterator[Thresholds | None]:
    """Freeze what lives now and set ``thresholds``; None leaves the collector as it is.

    Yields the thresholds in force. When the last holder leaves, the thresholds found before the first
    apply again and the frozen objects return to the collector (so a gateway run inside a test leaves
    the process as it was).
    """
    if thresholds is None:
        yield None
        return

    def tune() -> None:
        gc.freeze()
        gc.set_threshold(*thresholds)

    _TUNING.enter(tune)
    log.info("garbage collector tuned: %d object(s) frozen, thresholds %s", gc.get_freeze_count(), thresholds)
    try:
        yield thresholds
    finally:
        _TUNING.leave()


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside: for a bulk pass whose objects all live until it ends.

    Importing 10,000 devices builds some 300,000 objects (rows, devices, history entries) that stay
    alive until the transaction commits; every full collection rescans them all, and the process's
    own start-up objects, and frees nothing: 0.2–0.3 s of a 1 s import (docs/benchmarks.md).
    Reference counting still frees everything else at once; only garbage cycles wait for the end.

    >>> with paused_gc():
    ...     gc.isenabled()
    False
    """
    _PAUSE.enter(gc.disable)
    try:
        yield
    finally:
        _PAUSE.leave()
