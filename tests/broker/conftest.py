"""An installation on a SQLite registry with its own CA, MQTT devices and a Mosquitto run from the
configuration that ``streetwatch broker config`` generated."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from gateway.cli import main
from tests.fixtures.secure_broker import SecureBroker

Cli = Callable[..., tuple[int, str, str]]


@dataclass
class Install:
    cli: Cli
    root: Path
    broker: SecureBroker
    passwords: dict[str, str]

    @property
    def ca(self) -> Path:
        return self.root / "data" / "pki" / "ca.crt"

    def configure(self, *extra: str) -> None:
        code, _out, err = self.cli("broker", "config", "--out", str(self.broker.out), "--port", str(self.broker.port),
                                  *extra)
        assert code == 0, err
        if self.broker.pidfile.exists():
            self.broker.refresh()

    def reload(self, *extra: str) -> None:
        """Regenerate and SIGHUP the broker (it re-reads passwords, ACL and CRL, not listener options)."""
        self.configure(*extra)
        reloads = self.broker.log.count("Reloading config.")
        code, _, err = self.cli("broker", "config", "--out", str(self.broker.out), "--port", str(self.broker.port),
                                "--reload", str(self.broker.pidfile), *extra)
        assert code == 0, err
        # The broker handles the signal in its next loop: wait until it says so, or a test races it.
        deadline = time.monotonic() + 5
        while self.broker.log.count("Reloading config.") == reloads:
            assert time.monotonic() < deadline, "the broker did not reload"
            time.sleep(0.02)

    def issue(self, device_id: str, *extra: str) -> str:
        code, out, err = self.cli("device", "credentials", "issue", device_id, *extra)
        assert code == 0, err
        password = re.search(r"^password:\s+(\S+)$", out, re.M)
        assert password is not None, out
        self.passwords[device_id] = password.group(1)
        return password.group(1)

    def client(self, username: str | None, password: str | None = None, *, cert: str | None = None,
               tls: bool = True, client_id: str | None = None) -> aiomqtt.Client:
        certfile = keyfile = None
        if cert is not None:
            certfile = str(self.root / "data" / "pki" / "issued" / f"{cert}.crt")
            keyfile = str(self.root / "data" / "pki" / "issued" / f"{cert}.key")
        params = aiomqtt.TLSParameters(ca_certs=str(self.ca), certfile=certfile, keyfile=keyfile) if tls else None
        if password is None and username is not None and cert is None:
            password = self.passwords[username]
        return aiomqtt.Client("localhost", self.broker.port, username=username, password=password,
                              tls_params=params, identifier=client_id or f"t-{username}-{id(params)}", timeout=3)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STREETWATCH_TIMEZONE", "UTC")

    def run(*args: str) -> tuple[int, str, str]:
        # In a thread of its own: the command runs its own event loop, and a test's may be running.
        with ThreadPoolExecutor(1) as pool:
            code = pool.submit(main, list(args)).result()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def add_gauge(cli: Cli, device_id: str) -> None:
    code, _, err = cli("device", "add", device_id, "--kind", "culvert_gauge", "--profile", "sw-culvert-gauge-mqtt",
                       "--transport", "mqtt", "--lat", "23.1", "--lon", "113.3")
    assert code == 0, err


@pytest.fixture
def install(cli: Cli, tmp_path: Path) -> Iterator[Install]:
    """Devices CG-A and CG-B with passwords, the gateway's and the operators' accounts, a running broker."""
    assert cli("pki", "init")[0] == 0
    (tmp_path / "broker").mkdir()
    broker = SecureBroker(root=tmp_path / "broker")
    setup = Install(cli, tmp_path, broker, {})
    for device_id in ("CG-A", "CG-B"):
        add_gauge(cli, device_id)
        setup.issue(device_id)
    for role, user in (("gateway", "~gateway"), ("operator", "~operator")):
        code, out, err = cli("broker", "account", "issue", role)
        assert code == 0, err
        setup.passwords[user] = re.search(r"^password:\s+(\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    setup.configure()
    broker.start()
    yield setup
    broker.stop()
