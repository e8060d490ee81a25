"""Credentials at the installer's desk: shown once, stored as hashes, bad input in one line (exit 2)."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

from streetwatch.passwords import verify_password
from tests.broker.conftest import Cli, Install, add_gauge
from tests.fixtures.cli import one_error as _one_error

pytestmark = pytest.mark.services


def test_passwords_are_stored_only_as_hashes(cli: Cli, tmp_path: Path) -> None:
    add_gauge(cli, "CG-A")
    code, out, _ = cli("device", "credentials", "issue", "CG-A")
    assert code == 0
    password = out.split("password:")[1].split()[0]
    database = (tmp_path / "data" / "streetwatch.db").read_bytes()
    assert password.encode() not in database
    code, listed, _ = cli("device", "credentials", "list", "-o", "csv")
    assert password not in listed and "CG-A,device," in listed
    assert _one_error(cli("device", "credentials", "issue", "CG-A")) == \
        "'CG-A' already has a broker password; use --rotate to replace it"
    code, history, _ = cli("device", "history", "CG-A")
    assert "credentials issued" in history and password not in history


def test_only_mqtt_devices_in_service_get_passwords(cli: Cli) -> None:
    assert cli("device", "add", "LP-1", "--kind", "lamp_controller", "--profile", "sw-lamp-controller",
               "--transport", "modbus-tcp", "--address", "127.0.0.1:1502", "--lat", "23", "--lon", "113")[0] == 0
    assert "only MQTT devices get broker credentials" in _one_error(cli("device", "credentials", "issue", "LP-1"))
    assert _one_error(cli("device", "credentials", "issue", "NOPE")) == "id: no device 'NOPE' is registered"
    assert _one_error(cli("device", "credentials", "revoke", "LP-1")) == "'LP-1' has no broker password to revoke"


def test_import_issues_credentials_into_a_private_csv(install: Install, tmp_path: Path) -> None:
    devices = tmp_path / "devices.csv"
    devices.write_text("id,kind,profile,transport,host,port,lat,lon\n"
                       "CG-N1,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,23.1,113.2\n"
                       "CG-N2,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,23.1,113.2\n"
                       "CG-A,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,23.1,113.3\n"
                       "LP-N3,lamp_controller,sw-lamp-controller,modbus-tcp,127.0.0.1,1502,23.1,113.2\n")
    secrets = tmp_path / "secrets.csv"
    code, _out, err = install.cli("device", "import", str(devices), "--issue-credentials", str(secrets), "--update")
    assert code == 0, err
    assert "2 device password(s) in clear" in err and "0600" in err
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    rows = list(csv.DictReader(secrets.open()))
    assert [r["device_id"] for r in rows] == ["CG-N1", "CG-N2"]  # CG-A had one; the lamp speaks Modbus
    install.reload()
    for row in rows:
        install.passwords[row["username"]] = row["password"]
    hashes = dict(line.split(":", 1) for line in (install.broker.out / "passwords").read_text().splitlines())
    assert verify_password(rows[0]["password"], hashes["CG-N1"])
    assert _one_error(install.cli("device", "import", str(devices), "--issue-credentials", str(secrets))) == \
        f"--issue-credentials: {secrets} exists already; choose a new file for the secrets"


async def test_broker_check_says_why_in_one_line(install: Install, tmp_path: Path) -> None:
    url = f"mqtts://CG-A:{install.passwords['CG-A']}@localhost:{install.broker.port}"
    code, out, err = install.cli("broker", "check", url, "--ca", str(install.ca))
    assert code == 0, err
    assert out.strip() == f"connected to localhost:{install.broker.port} as CG-A over TLS"

    wrong = _one_error(install.cli("broker", "check", url.replace(install.passwords["CG-A"], "guess"),
                                   "--ca", str(install.ca)))
    assert wrong == f"localhost:{install.broker.port} refused CG-A: bad user name, password or certificate " \
                    "(or the account was revoked)"
    assert install.passwords["CG-A"] not in wrong
    missing = _one_error(install.cli("broker", "check", url, "--ca", str(tmp_path / "nope" / "ca.crt")))
    assert missing == f"CA certificate {tmp_path / 'nope' / 'ca.crt'}: not found"
    garbage = tmp_path / "device.key"
    garbage.write_text("not a key\n")
    cert = install.root / "data" / "pki" / "server.crt"
    bad_key = _one_error(install.cli("broker", "check", url, "--ca", str(install.ca), "--cert", str(cert),
                                     "--key", str(garbage)))
    assert bad_key == f"client key {garbage}: not an unencrypted PEM private key"
    unreadable = _one_error(install.cli("broker", "check", url, "--ca", str(install.ca), "--cert", str(cert),
                                        "--key", str(tmp_path)))
    assert unreadable.startswith(f"client key {tmp_path}: cannot be read (")
    untrusted = _one_error(install.cli("broker", "check", url, "--ca", str(cert)))
    assert untrusted.startswith(f"TLS with localhost:{install.broker.port} failed: ")
    assert "certificate verify failed" in untrusted.lower()


def test_pki_and_broker_config_without_a_ca_say_so(cli: Cli, tmp_path: Path) -> None:
    ca = tmp_path / "data" / "pki" / "ca.key"
    assert _one_error(cli("pki", "issue", "CG-A")) == f"CA key {ca}: not found (run `streetwatch pki init` first)"
    assert "not found (run `streetwatch pki init` first)" in _one_error(
        cli("broker", "config", "--out", str(tmp_path / "b")))
    assert cli("pki", "init")[0] == 0
    assert "exists already" in _one_error(cli("pki", "init"))
    assert "is not a device id" in _one_error(cli("pki", "issue", "../etc"))
    pid = tmp_path / "broker.pid"
    pid.write_text("999999999\n")
    assert _one_error(cli("broker", "config", "--out", str(tmp_path / "b"), "--reload", str(pid))) == \
        f"pid file {pid}: no process 999999999 (is the broker running?)"
