"""The poller against an independent Modbus TCP device (crafted bytes): partial refusals and malformed replies."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.intake.records import GatewayRecords
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.fixtures.crafted_modbus import CraftedModbusServer, Request
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, register
from tests.gateway.test_probe import add_lamp, cli

ILLEGAL_DATA_ADDRESS = 2


def refuses_holding(request: Request) -> bytes:
    """A lamp controller whose holding registers are locked: every read of them is refused; the rest answer."""
    _, count = struct.unpack(">HH", request.pdu[1:5])
    if request.function == 3:
        return request.reply(bytes([0x83, ILLEGAL_DATA_ADDRESS]))
    if request.function in (1, 2):
        return request.reply(bytes([request.function, (count + 7) // 8]) + bytes((count + 7) // 8))
    return request.registers([2300] * count)


def overcounted(request: Request) -> bytes:
    return request.reply(bytes([request.function, 20, 0, 1, 0, 2]))


async def test_a_refused_block_is_counted_shown_and_dead_lettered(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    caplog.set_level(logging.INFO)
    async with CraftedModbusServer(refuses_holding) as server:
        await register(url, [modbus_device("LP-1", server.port, interval_s=0.1)])
        async with running(Gateway(gateway_settings(tmp_path, url), options=RunOptions(mqtt=False))) as gateway:
            await eventually(lambda: (gateway.states is not None and getattr(gateway.states.get("LP-1"),
                                                                             "partial_polls", 0) >= 5),
                             what="five partial polls")
            state = gateway.device_state("LP-1")
            assert gateway.recorder is not None
            await gateway.recorder.flush()
    assert state is not None
    assert state["online"] is True and state["failed_polls"] == 0
    assert state["partial_polls"] >= 5
    (block, refused), = state["refused_blocks"].items()
    assert block.startswith("holding 0+")
    assert refused["reason"] == "Modbus exception 2 (illegal data address) to function 3"
    assert "dim_level_pct" in refused["metrics"] and "clock_epoch_s" in refused["metrics"]
    async with open_database(DatabaseUrl.parse(url)) as db:
        letters = await GatewayRecords(db).dead_letters(device_id="LP-1", reason="modbus_exception", limit=1000)
    assert {letter.metric for letter in letters} == set(refused["metrics"])
    assert all(letter.detail.startswith(block) for letter in letters)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"device LP-1 refuses {block} (no {', '.join(refused['metrics'])}): "
                        "Modbus exception 2 (illegal data address) to function 3"]  # once, not per poll


async def test_a_malformed_reply_is_logged_once_without_traceback(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    async with CraftedModbusServer(overcounted) as server:
        await register(url, [modbus_device("LP-1", server.port, interval_s=0.1)])
        settings = gateway_settings(tmp_path, url, offline_after_failures=2)
        async with running(Gateway(settings, options=RunOptions(mqtt=False, max_backoff_s=0.2))):
            await eventually(lambda: len(server.requests) >= 8, what="eight polls")
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(": ", 1)[0] for r in problems] == ["device LP-1 is offline (modbus)"]
    assert "malformed reply to read holding 0+12: function 3 says 20 data bytes, but 4 follow" in \
        problems[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records)


async def test_probe_names_the_refused_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'sw.db'}")
    monkeypatch.chdir(tmp_path)
    async with CraftedModbusServer(refuses_holding) as server:
        await add_lamp(server.port)
        capsys.readouterr()
        assert await cli("device", "probe", "LP-BY-000123") == 1
    captured = capsys.readouterr()
    assert "refused holding 0+12: Modbus exception 2 (illegal data address) to function 3; no dim_level_pct" \
        in captured.out
    assert captured.err.strip().endswith("1 register block(s) refused by the device")
