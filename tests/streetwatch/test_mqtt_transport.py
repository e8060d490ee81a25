"""The one door to the broker: the URL parsed once, TLS files checked before anything connects, the
library internals checked at start. Connections over TLS are in tests/gateway/test_tls.py."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as paho_mqtt
import pytest

from benchmarks.tls import TlsMaterial
from gateway.cli import main
from streetwatch.mqtt import BrokerUrl, MqttInternalsError, MqttSetupError, MqttTransport, TlsFiles, internals


@pytest.mark.parametrize(("url", "expected"), [
    ("mqtt://127.0.0.1", BrokerUrl("127.0.0.1", 1883, False)),
    ("tcp://broker:1884", BrokerUrl("broker", 1884, False)),
    ("mqtts://broker", BrokerUrl("broker", 8883, True)),
    ("MQTTS://broker:8884", BrokerUrl("broker", 8884, True)),
    ("mqtts://gw:s%40cret@10.0.0.5:9000", BrokerUrl("10.0.0.5", 9000, True, "gw", "s@cret")),
    ("mqtt://u%40x:p@h:1884", BrokerUrl("h", 1884, False, "u@x", "p")),
])
def test_url_parsed_once_into_a_typed_value(url: str, expected: BrokerUrl) -> None:
    assert BrokerUrl.parse(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("http://broker", "unsupported scheme 'http'"),
    ("broker:1883", "unsupported scheme 'broker'"),
    ("mqtt://", "no host"),
    ("mqtt://broker:99999", "bad port"),
])
def test_bad_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BrokerUrl.parse(url)


def test_credentials_never_shown() -> None:
    url = BrokerUrl.parse("mqtts://gw:hunter2@broker")
    assert "hunter2" not in repr(url) and "hunter2" not in url.where
    assert "hunter2" not in MqttTransport(url).where


def test_good_tls_files_load(tls_material: TlsMaterial) -> None:
    transport = MqttTransport.from_url("mqtts://127.0.0.1:8883", TlsFiles(
        tls_material.ca_file, tls_material.client_cert, tls_material.client_key))
    assert transport.where == "mqtts://127.0.0.1:8883"


def _bad_tls_cases(tmp: Path, tls: TlsMaterial) -> list[tuple[str, TlsFiles, str]]:
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate\n")
    return [
        ("mqtts://h", TlsFiles(ca_file=tmp / "missing-ca.pem"), r"\[mqtt\] ca_file .*missing-ca.pem: No such file"),
        ("mqtts://h", TlsFiles(ca_file=garbage), r"\[mqtt\] ca_file .*garbage.pem: not a PEM CA certificate"),
        ("mqtts://h", TlsFiles(tls.ca_file, tls.client_cert, tmp / "missing.key"),
         r"\[mqtt\] key_file .*missing.key: No such file"),
        ("mqtts://h", TlsFiles(tls.ca_file, tls.client_cert, garbage), r"cannot load the client certificate and"),
        ("mqtts://h", TlsFiles(tls.ca_file, tls.client_cert, tls.server_key), r"cannot load the client certificate"),
        ("mqtts://h", TlsFiles(tls.ca_file, None, tls.client_key), r"key_file is set without cert_file"),
        ("mqtt://h", TlsFiles(ca_file=tls.ca_file), r"mqtt_url is mqtt://h:1883 \(plaintext\): use mqtts://"),
    ]


def test_bad_tls_inputs_are_one_line_each(tmp_path: Path, tls_material: TlsMaterial) -> None:
    for url, files, message in _bad_tls_cases(tmp_path, tls_material):
        with pytest.raises(MqttSetupError, match=message) as caught:
            MqttTransport.from_url(url, files)
        assert "\n" not in str(caught.value)


def test_run_with_a_missing_ca_file_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STREETWATCH_CONFIG", raising=False)
    monkeypatch.setenv("STREETWATCH_MQTT_URL", "mqtts://127.0.0.1:8883")
    monkeypatch.setenv("STREETWATCH_MQTT__CA_FILE", str(tmp_path / "nowhere" / "ca.pem"))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "[mqtt] ca_file" in err and "nowhere/ca.pem: No such file or directory" in err


def test_run_with_an_unreadable_key_exits_2(tmp_path: Path, tls_material: TlsMaterial, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STREETWATCH_CONFIG", raising=False)
    key = tmp_path / "client.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    config = tmp_path / "streetwatch.toml"
    config.write_text(f'mqtt_url = "mqtts://127.0.0.1:8883"\n[mqtt]\nca_file = "{tls_material.ca_file}"\n'
                      f'cert_file = "{tls_material.client_cert}"\nkey_file = "{key}"\n')
    assert main(["--config", str(config), "run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot load the client certificate and its key" in err


def test_the_pinned_internals_are_there() -> None:
    internals.check()  # the versions installed from pyproject.toml


@pytest.mark.parametrize("missing", ["_handle_publish", "_in_packet", "_manual_ack"])
def test_refuses_to_start_when_a_paho_internal_is_gone(missing: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    original_init = paho_mqtt.Client.__init__

    def init_without(self: paho_mqtt.Client, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        if missing in vars(self):
            delattr(self, missing)

    if hasattr(paho_mqtt.Client, missing):
        monkeypatch.delattr(paho_mqtt.Client, missing)
    monkeypatch.setattr(internals, "_checked", False)  # as in a new process
    monkeypatch.setattr(paho_mqtt.Client, "__init__", init_without)
    with pytest.raises(MqttInternalsError, match=rf"paho Client\(\)\.{missing}\b.*pinned in pyproject.toml"):
        MqttTransport.from_url("mqtt://127.0.0.1")
    monkeypatch.delenv("STREETWATCH_CONFIG", raising=False)
    assert main(["run", "--no-modbus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and missing in err and "Traceback" not in err


def test_refuses_to_start_when_an_aiomqtt_internal_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiomqtt

    monkeypatch.delattr(aiomqtt.Client, "_misc_loop")
    with pytest.raises(MqttInternalsError, match=r"aiomqtt.Client._misc_loop"):
        internals.check()
