"""``streetwatch run --no-mqtt``: no component of the gateway dials the broker or logs about it."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest

from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import default_services
from tests.gateway.conftest import gateway_settings, http_get, register


async def test_no_mqtt_leaves_alerts_and_control_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                       http_ports: tuple[int, int]) -> None:
    # The configured broker address is a listener that counts who connects: with MQTT off, nobody may.
    trap = socket.create_server(("127.0.0.1", 0))
    trap.setblocking(False)
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    await register(url, [])
    settings = gateway_settings(tmp_path, url, f"mqtt://127.0.0.1:{trap.getsockname()[1]}", api_port=http_ports[1])
    caplog.set_level(logging.INFO)
    gateway = Gateway(settings, services=default_services(), options=RunOptions(mqtt=False, modbus=False))
    assert gateway.mqtt is None
    try:
        async with running(gateway):  # ready: the rules service (alert publisher) and control are open
            await asyncio.sleep(0.5)  # time for a background connection attempt to be made, if one were
            code, body = await http_get(f"http://127.0.0.1:{http_ports[1]}/health")
        with pytest.raises(BlockingIOError):
            trap.accept()
    finally:
        trap.close()
    assert code == 200 and json.loads(body)["mqtt"] == "disabled"
    mqtt_lines = [r.getMessage() for r in caplog.records
                  if r.levelno >= logging.WARNING and ("MQTT" in r.getMessage() or "mqtt" in r.name)]
    assert mqtt_lines == []
    assert not [r for r in caplog.records if r.name in ("streetwatch.mqtt.link", "rules.mqtt_publisher",
                                                         "control.mqtt_channel", "gateway.intake.mqtt_ingest")]
