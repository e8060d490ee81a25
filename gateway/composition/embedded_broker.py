"""An in-process MQTT broker (amqtt) for the embedded default: the demo needs no Mosquitto.

It binds a free port on 127.0.0.1, because a machine may already run a broker on 1883. Good for
a demo or a small site (about 1,900 QoS 1 round trips per second); production runs Mosquitto.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from amqtt.broker import Broker


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def embedded_broker(port: int = 0) -> AsyncIterator[str]:
    """Run a broker while inside; yields its ``mqtt://127.0.0.1:PORT`` URL."""
    port = port or _free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    # amqtt logs every connection at INFO; the demo's screen is for the city, not the broker.
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    broker = Broker(config)
    await broker.start()
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        await broker.shutdown()
