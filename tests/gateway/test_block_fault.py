"""A register block a device refuses at every poll raises a device fault alert after the fault window, and
the alert clears when the block answers again (issue #15, item 10).

The device is an independent Modbus TCP server (crafted bytes) whose holding registers are locked until
the test unlocks them; the gateway polls it with the rules service composed in, as ``streetwatch run``
does, and the alert is read back with ``streetwatch alerts list``.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import default_services
from rules.alert_store import AlertStore
from rules.alerts import Alert
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.fixtures.crafted_modbus import CraftedModbusServer, Request
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, register

ILLEGAL_DATA_ADDRESS = 2
WINDOW_S = 2.0
RULE = "modbus-block-refused"


class LockableLamp:
    """A lamp controller whose holding registers are refused while ``locked``; the rest always answer."""

    def __init__(self) -> None:
        self.locked = True

    def __call__(self, request: Request) -> bytes:
        _, count = struct.unpack(">HH", request.pdu[1:5])
        if request.function == 3 and self.locked:
            return request.reply(bytes([0x83, ILLEGAL_DATA_ADDRESS]))
        if request.function in (1, 2):
            return request.reply(bytes([request.function, (count + 7) // 8]) + bytes((count + 7) // 8))
        return request.registers([1] * count)


async def fault_alerts(url: str) -> list[Alert]:
    async with open_database(DatabaseUrl.parse(url)) as db:
        return [a for a in await AlertStore(db).active_alerts() if a.rule == RULE]


async def cli(url: str, tmp_path: Path, *args: str) -> Any:
    """``streetwatch alerts ... --format json`` as an operator runs it; the first JSON document it prints."""
    env = {**os.environ, "STREETWATCH_DATABASE_URL": url, "STREETWATCH_DATA_DIR": str(tmp_path / "data")}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway", "alerts", *args, "--format", "json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60)
    return json.JSONDecoder().raw_decode(result.stdout)[0]


async def test_a_refused_block_raises_a_device_fault_alert_that_clears_when_it_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    lamp = LockableLamp()
    async with CraftedModbusServer(lamp) as server:
        await register(url, [modbus_device("LP-1", server.port, interval_s=0.2)])
        settings = gateway_settings(tmp_path, url, modbus_block_fault_after_s=WINDOW_S)
        gateway = Gateway(settings, services=default_services(schedules=False), options=RunOptions(mqtt=False))
        async with running(gateway):
            def refused_since() -> bool:
                state = gateway.states.get("LP-1") if gateway.states is not None else None
                return state is not None and bool(state.refused_blocks)

            await eventually(refused_since, what="the block refused")
            assert gateway.states is not None
            state = gateway.states.get("LP-1")
            assert state is not None
            (block, refused), = state.refused_blocks.items()
            await asyncio.sleep(WINDOW_S / 2)
            assert await fault_alerts(url) == []  # not within the window
            await eventually(lambda: _count(fault_alerts(url), 1), timeout_s=15, what="the fault alert raised")
            (alert,) = await fault_alerts(url)
            assert (alert.raised_at - refused.since).total_seconds() >= WINDOW_S
            rows = await cli(url, tmp_path, "list", "--rule", RULE)
            assert [(r["device"], r["severity"], r["state"]) for r in rows] == [("LP-1", "blue", "raised")]
            (shown,) = await cli(url, tmp_path, "show", str(rows[0]["id"]))
            assert shown["message"].startswith(f"{block} refused: Modbus exception 2 (illegal data address) to "
                                               "function 3 (no dim_level_pct, ")

            lamp.locked = False  # the block answers again
            await eventually(lambda: _count(fault_alerts(url), 0), timeout_s=15, what="the fault alert cleared")
            rows = await cli(url, tmp_path, "list", "--rule", RULE)
            assert [(r["device"], r["state"]) for r in rows] == [("LP-1", "cleared")]
            (shown,) = await cli(url, tmp_path, "show", str(rows[0]["id"]))
            assert shown["message"] == f"{block} answers again"


async def _count(alerts: Any, expected: int) -> bool:
    return len(await alerts) == expected
