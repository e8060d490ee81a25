"""The ``streetwatch`` command as a user meets it: help, version, one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from streetwatch import __version__


def test_help_lists_the_command_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for group in ("config", "db"):
        assert group in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"streetwatch {__version__}"


def test_bad_database_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # As a user runs it: a real process, the installed console script.
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "db", "status"],
        env={"STREETWATCH_DATABASE_URL": "mysql://x", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "streetwatch: error: STREETWATCH_DATABASE_URL (environment): unsupported scheme 'mysql';"
        " use postgresql://… or sqlite:///path"
    ]


def test_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "frobnicate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["streetwatch: error: No such command 'frobnicate'. (see 'streetwatch db --help')"]


def test_bad_option_value_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "status", "--format", "xml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "'--format'" in err[0] and "xml" in err[0]


def test_db_migrate_and_status_on_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STREETWATCH_DATABASE_URL", raising=False)
    assert main(["db", "migrate"]) == 0
    assert "sqlite schema up to date" in capsys.readouterr().out
    assert (tmp_path / ".streetwatch" / "streetwatch.db").exists()
    assert main(["db", "migrate"]) == 0
    assert "(0 migration(s) applied now)" in capsys.readouterr().out


def test_config_show_reports_effective_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.toml"
    config.write_text('timezone = "UTC"\n')
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", "sqlite:///x.db")
    assert main(["--config", str(config), "config", "show"]) == 0
    out = capsys.readouterr().out
    assert "timezone" in out and "UTC" in out
    assert "sqlite: sqlite:///x.db" in out


def test_config_show_never_shows_a_password(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", "postgresql://sw:db-s3cret@127.0.0.1/sw")
    monkeypatch.setenv("STREETWATCH_MQTT_URL", "mqtts://~gateway:mq%2Fs3cret@broker.example:8883")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "mqtts://~gateway:***@broker.example:8883" in out and "postgresql://sw:***@127.0.0.1/sw" in out


@pytest.mark.parametrize("command", [["run"], ["ingest", "status"], ["ingest", "rejected"], ["ingest", "events"],
                                     ["device", "pending"]])
def test_gateway_commands_show_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Example:" in text and f"streetwatch {' '.join(command)}" in text.split("Example:", 1)[1]


def test_run_with_its_api_port_taken_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "run", "--no-mqtt", "--no-modbus"],
            env={"PATH": "/usr/bin:/bin", "STREETWATCH_GATEWAY__API_PORT": str(port),
                 "STREETWATCH_GATEWAY__METRICS_PORT": "0"},
            cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"streetwatch: error: gateway.api_port {port}: cannot listen on 127.0.0.1: Address already in use")


def test_run_with_a_data_dir_it_cannot_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "run", "--no-mqtt", "--no-modbus"],
        env={"PATH": "/usr/bin:/bin", "STREETWATCH_GATEWAY__API_PORT": "0", "STREETWATCH_GATEWAY__METRICS_PORT": "0",
             "STREETWATCH_DATA_DIR": str(tmp_path / "not-a-dir"),
             "STREETWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'sw.db'}"},
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"streetwatch: error: the gateway cannot start: cannot open the journal in {tmp_path}/not-a-dir/journal: "
        "Not a directory")


@pytest.mark.parametrize(("command", "code", "prefix"), [
    (["db", "status"], 2, ""), (["db", "migrate"], 2, ""),
    (["device", "list"], 1, None),  # said in one line already; its exit code is the registry's to keep
])
def test_a_database_that_is_down_is_one_line(tmp_path: Path, command: list[str], code: int,
                                             prefix: str | None) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *command],
        env={"PATH": "/usr/bin:/bin", "STREETWATCH_DATABASE_URL": f"postgresql://sw@127.0.0.1:{port}/sw"},
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.splitlines()
    reason = (f"cannot connect to PostgreSQL at 127.0.0.1:{port}/sw within 10 s: Connection refused "
              "(is the server running, and is the address right?)")
    if prefix is None:
        assert line.startswith("streetwatch: error: ") and line.endswith(reason)
    else:
        assert line == f"streetwatch: error: {prefix}{reason}"
    assert result.returncode == code
