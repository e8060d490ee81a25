"""The composition root: ``runtime`` (the ``Gateway`` of ``streetwatch run``, with its named tasks)
composes the intake, the poller and the ``services`` (rules engine, remote control); ``components``
lists every package's migrations; ``metrics``, ``http`` and ``logs`` serve the
running process; ``demo`` and ``embedded_broker`` make ``streetwatch demo``."""
