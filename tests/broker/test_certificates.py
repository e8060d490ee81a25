"""Client certificates from the installation's CA: the CN is the user name; expired, revoked and
retired devices' certificates are refused by a real Mosquitto."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509

from broker.pki import Pki
from tests.broker.conftest import Install

pytestmark = pytest.mark.services


@pytest.fixture
def cert_install(install: Install) -> Install:
    for name in ("CG-A", "CG-B", "~gateway"):
        assert install.cli("pki", "issue", name)[0] == 0
    install.configure("--require-certificate")  # listener options take a restart, not a reload
    install.broker.stop()
    install.broker.start()
    return install


async def _refused(install: Install, name: str) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with install.client(None, cert=name):
            pass


async def test_a_certificate_is_the_devices_identity(cert_install: Install) -> None:
    async with cert_install.client(None, cert="~gateway") as gateway, cert_install.client(None, cert="CG-A") as dev:
        await gateway.subscribe("streetwatch/devices/+/telemetry", qos=1)
        await dev.publish("streetwatch/devices/CG-B/telemetry", b"forged", qos=1)
        await dev.publish("streetwatch/devices/CG-A/telemetry", b"marker", qos=1)
        message = await asyncio.wait_for(anext(gateway.messages), 5)
        assert (message.topic.value, message.payload) == ("streetwatch/devices/CG-A/telemetry", b"marker")


async def test_no_certificate_or_a_foreign_one_is_refused(cert_install: Install, tmp_path: Path) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with cert_install.client("CG-A"):  # the right password, but no certificate
            pass
    other = Pki.init(tmp_path / "other-ca", server_names=["localhost"], now=datetime.now(UTC))
    issued = other.issue("CG-A", now=datetime.now(UTC))
    client = aiomqtt.Client("localhost", cert_install.broker.port, timeout=5, identifier="t-foreign",
                            tls_params=aiomqtt.TLSParameters(ca_certs=str(cert_install.ca),
                                                             certfile=str(issued.cert_path),
                                                             keyfile=str(issued.key_path)))
    with pytest.raises(aiomqtt.MqttError):
        async with client:
            pass


async def test_an_expired_certificate_is_refused(cert_install: Install) -> None:
    pki = Pki(cert_install.root / "data" / "pki")
    issued = pki.issue("CG-A", now=datetime.now(UTC) - timedelta(days=30), days=2)
    assert x509.load_pem_x509_certificate(issued.cert_path.read_bytes()).not_valid_after_utc < datetime.now(UTC)
    await _refused(cert_install, "CG-A")
    pki.issue("CG-A", now=datetime.now(UTC))  # a fresh one works again
    async with cert_install.client(None, cert="CG-A"):
        pass


async def test_revoked_and_retired_devices_certificates_are_refused_after_the_reload(cert_install: Install) -> None:
    async with cert_install.client(None, cert="CG-A"), cert_install.client(None, cert="CG-B"):
        pass
    code, out, err = cert_install.cli("pki", "revoke", "CG-B")
    assert code == 0, err
    assert cert_install.cli("device", "retire", "CG-A")[0] == 0
    cert_install.reload("--require-certificate")
    await _refused(cert_install, "CG-B")
    await _refused(cert_install, "CG-A")
    async with cert_install.client(None, cert="~gateway"):
        pass
    code, out, _ = cert_install.cli("pki", "list", "-o", "csv")
    assert "CG-B," in out and out.splitlines()[2].endswith("True")
