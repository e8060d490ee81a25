"""A wrong password for the gateway's account on the generated broker: ``device probe`` says so in one line
(exit 2), and ``streetwatch run`` keeps running but reports every client not ready, with the reason, and
logs the refusal without the password."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import quote

import pytest

from benchmarks.servers import free_port
from gateway.cli import main
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import default_services
from tests.broker.conftest import Install
from tests.gateway.conftest import eventually, every_client_failed, gateway_settings, http_get

pytestmark = pytest.mark.services

WRONG = "not-the-gateway-password"
# Mosquitto says "Not authorized" (MQTT 5 reason 135) for a wrong password; the gateway says what it means.
REFUSED = "the broker refused ~gateway: bad user name, password or certificate (or the account was revoked)"


def _url(install: Install, password: str) -> str:
    return f"mqtts://{quote('~gateway')}:{quote(password, safe='')}@localhost:{install.broker.port}"


async def test_probe_with_a_wrong_password_is_one_line_and_exit_2(
        install: Install, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREETWATCH_MQTT_URL", _url(install, WRONG))
    monkeypatch.setenv("STREETWATCH_MQTT__CA_FILE", str(install.ca))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["device", "probe", "CG-A", "--timeout", "5"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and WRONG not in err
    assert err.strip().endswith(f"probe CG-A: the MQTT broker at mqtts://localhost:{install.broker.port} refused "
                                "~gateway: bad user name, password or certificate in mqtt_url/[mqtt] (or the account "
                                "was revoked)")
    # The right password: the same command gets through the broker (and waits for the gauge, in vain).
    monkeypatch.setenv("STREETWATCH_MQTT_URL", _url(install, install.passwords["~gateway"]))
    assert await asyncio.to_thread(main, ["device", "probe", "CG-A", "--timeout", "1"]) == 1
    assert "no telemetry from CG-A" in capsys.readouterr().err


async def test_run_with_a_wrong_password_is_not_ready_with_the_reason(
        install: Install, caplog: pytest.LogCaptureFixture) -> None:
    api_port = free_port()
    settings = gateway_settings(install.root, f"sqlite:///{install.root / 'data' / 'streetwatch.db'}",
                                _url(install, WRONG), api_port=api_port)
    settings = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(update={"ca_file": install.ca})})
    gateway = Gateway(settings, services=default_services(), options=RunOptions(modbus=False))
    caplog.set_level(logging.INFO)
    async with running(gateway):
        assert gateway.mqtt is not None

        await eventually(lambda: every_client_failed(gateway.mqtt), timeout_s=30, what="every client refused once")
        code, text = await http_get(f"http://127.0.0.1:{api_port}/health")
    health = json.loads(text)
    assert code == 503 and set(health["mqtt"]) == {"intake", "alerts", "control"}
    for name, client in health["mqtt"].items():
        assert client == {"ready": False, "reason": REFUSED}, name
    assert caplog.text.count(REFUSED) == 3  # once for each client, not on every retry
    assert WRONG not in caplog.text and WRONG not in text
