"""The services composed into ``streetwatch run`` beside the intake and the store path.

Each is a :class:`~gateway.runtime.ServiceSpec`: a name, and a function from the
:class:`~gateway.runtime.GatewayContext` to an async context manager. What it yields gets the
readings and online/offline changes if it has ``on_readings``/``on_status``, and runs as a task if
it has ``async def run()``. Adding the rules engine is one entry::

    ServiceSpec("rules", lambda ctx: RulesService(ctx.db, ctx.settings, clock=ctx.clock,
                                                  devices=ctx.directory.devices), needs_devices=True)
"""

from __future__ import annotations

from gateway.runtime import ServiceSpec
from streetwatch.config import Settings


def composed_services(settings: Settings) -> list[ServiceSpec]:
    """The services ``streetwatch run`` composes (none yet beyond the gateway's own)."""
    del settings  # each service takes what it needs from the context
    return []
