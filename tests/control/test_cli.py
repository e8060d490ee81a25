"""The lamp, command, schedule and energy commands as a user meets them, on the embedded store."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from astral import Observer
from astral import sun as astral_sun

from control.modbus_channel import ModbusChannel
from control.model import DeliveryStatus
from device_registry import Device
from device_registry.device import Location, MqttAddress
from gateway.cli import main
from streetwatch.config import DatabaseUrl
from streetwatch.readings import Reading
from telemetry_store import open_store
from tests.control.conftest import SHANGHAI, Rig, lamp_server, modbus_lamp, open_rig


@pytest.fixture
async def cli_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    """The database the CLI uses (STREETWATCH_DATABASE_URL), with lamps registered on port 1."""
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", url)
    monkeypatch.setenv("STREETWATCH_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("STREETWATCH_CONTROL__MAX_BULK_WITHOUT_YES", "2")
    monkeypatch.setenv("STREETWATCH_CONTROL__ATTEMPT_TIMEOUT_S", "0.4")
    monkeypatch.setenv("STREETWATCH_CONTROL__PICKUP_INTERVAL_S", "0.1")
    async with open_rig(url) as rig:
        gauge = Device(id="CG-1", kind="culvert_gauge", profile="sw-culvert-gauge-mqtt", address=MqttAddress(),
                       location=Location(latitude=23.1, longitude=113.3), site="harbour", groups=("pier",))
        await rig.add([modbus_lamp("LP-1", 1, 1, tags={"pole": "steel"}), modbus_lamp("LP-2", 1, 2),
                       modbus_lamp("LP-3", 1, 3), gauge])
        yield rig


async def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """As a user runs it (in a thread: the CLI runs its own event loop)."""
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_dim_queues_a_command_with_its_audit_trail(cli_rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run_cli(capsys, "lamp", "dim", "LP-1", "40", "--reason", "market night", "--by", "alice")
    assert code == 0
    assert re.match(r"command 1: dim to 40 % for 1 device\(s\) of LP-1, queued; it expires at 20\d\d-", out)
    progress = await cli_rig.store.progress(1)
    assert (progress.command.requester, progress.command.reason) == ("alice", "market night")
    assert progress.counts == {DeliveryStatus.queued: 1}
    assert (progress.command.expires_at - progress.command.created_at) == timedelta(seconds=900)
    code, out, _ = await run_cli(capsys, "lamp", "dim", "--tag", "pole=steel", "30%", "--ttl", "60")
    assert code == 0 and "of tag:pole=steel" in out


@pytest.mark.parametrize(("args", "message"), [
    (("lamp", "dim", "LP-1", "140"), "LEVEL: '140' is not a dim level from 0 to 100 (%)"),
    (("lamp", "dim", "LP-1"), "lamp dim: expected TARGET LEVEL, got 'LP-1'"),
    (("lamp", "on", "group:nowhere"), "target 'group:nowhere' matches no device"),
    (("lamp", "on"), "give a TARGET (a device id, group:NAME, site:NAME) or --tag KEY=VALUE, one of them"),
    (("lamp", "on", "all"), "target: 'all' is not a command target: name a site, a group or a tag"),
    (("lamp", "off", "site:harbour"), "this switches off every lamp at site harbour (3 devices); add --yes"),
    (("lamp", "dim", "site:harbour", "0"), "dimming to 0 % switches off every lamp at site harbour (3 devices); "
                                           "add --yes"),
    (("lamp", "dim", "site:harbour", "0%"), "dimming to 0 % switches off every lamp at site harbour"),
    (("lamp", "dim", "group:pier", "50"), "this command is for 3 devices, more than [control] "
                                          "max_bulk_without_yes (2); add --yes to confirm"),
    (("lamp", "set-schedule", "LP-1", "nightly"), "no schedule named 'nightly'"),
    (("command", "show", "7"), "no command with id 7"),
])
async def test_mistakes_are_one_line_and_nothing_is_queued(cli_rig: Rig, capsys: pytest.CaptureFixture[str],
                                                           args: tuple[str, ...], message: str) -> None:
    code, out, err = await run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert await cli_rig.store.recent() == []


async def test_bulk_with_yes_skips_what_cannot_do_it(cli_rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run_cli(capsys, "lamp", "off", "site:harbour", "--yes")
    assert code == 0 and "switch off for 3 device(s) of site:harbour" in out
    assert "skipped 1 device(s) that cannot switch: CG-1 (its profile sw-culvert-gauge-mqtt has no switch" in err
    code, out, _ = await run_cli(capsys, "command", "list", "--format", "csv")
    assert out.splitlines()[1].startswith("1,") and ",switch off,site:harbour,3,queued,3 queued," in out
    code, out, _ = await run_cli(capsys, "command", "cancel", "1")
    assert (code, out.strip()) == (0, "command 1: cancelled 3 open deliveries")
    code, out, _ = await run_cli(capsys, "command", "show", "1")
    assert "status: cancelled" in out and "summary: 3 cancelled" in out
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("LP-")] == [
        ["LP-1", "cancelled"], ["LP-2", "cancelled"], ["LP-3", "cancelled"]]


@pytest.mark.services
async def test_wait_follows_the_gateway_delivering_it(cli_rig: Rig, modbus: ModbusChannel,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    async with lamp_server(3) as server:
        for unit in (1, 2, 3):
            await cli_rig.registry.update(f"LP-{unit}", {"port": str(server.port)}, by="test")
        async with cli_rig.dispatcher({"modbus": modbus}):
            code = await asyncio.to_thread(main, ["lamp", "dim", "group:pier", "65", "--yes", "--wait"])
            captured = capsys.readouterr()
        assert code == 0
        assert captured.out.strip().splitlines()[-1] == "command 1: confirmed (3 confirmed)"
        assert [server.get_value(u, "dim_level_pct") for u in (1, 2, 3)] == [65, 65, 65]


async def test_wait_without_a_gateway_says_so(cli_rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(main, ["lamp", "on", "LP-1", "--wait", "--ttl", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "command 1 is still open after 2.5 s: 1 queued (nothing was sent: is the gateway" in err
    assert "command 1: 0/1 done (1 queued)" in err  # the progress line


async def test_schedule_commands(cli_rig: Rig, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = await run_cli(capsys, "schedule", "assign", "night", "--group", "pier", "--by", "alice")
    assert code == 0 and out.startswith("group:pier follows schedule night; 4 device(s)")
    code, out, _ = await run_cli(capsys, "schedule", "list")
    night = next(line for line in out.splitlines() if line.startswith("night"))
    assert "sunset+10m 100% → 23:00 50% → 01:00 30% → sunrise-10m 0%" in night and "group:pier" in night
    code, out, _ = await run_cli(capsys, "schedule", "show", "night")
    assert "  followed by: group:pier (since " in out and "by alice)" in out
    assert "  on 2026-02-16, 2026-03-03" in out
    code, out, _ = await run_cli(capsys, "schedule", "preview", "night", "--date", "2026-12-21", "--at", "45.80,126.53")
    on_at = astral_sun.sunset(Observer(45.80, 126.53), date(2026, 12, 21), tzinfo=SHANGHAI) + timedelta(minutes=10)
    assert f"2026-12-21 {on_at:%H:%M:%S} CST  100      sunset+10m" in out
    assert "2026-12-22 01:00:00 CST  30       01:00" in out
    code, out, _ = await run_cli(capsys, "schedule", "preview", "night", "--date", "2026-06-21", "--at", "69.65,18.96",
                           "--zone", "Europe/Oslo", "--format", "json")
    assert code == 0 and "polar day or white night" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [{at: moonrise, dim: 50}]\n")
    code, _, err = await run_cli(capsys, "schedule", "validate", str(bad))
    assert code == 1 and f"{bad}: steps[0].at: unknown event 'moonrise'" in err
    code, out, _ = await run_cli(capsys, "schedule", "validate")
    assert code == 0 and "night.yaml: ok (night)" in out
    assert (await run_cli(capsys, "schedule", "unassign", "--group", "pier"))[0] == 0
    code, _, err = await run_cli(capsys, "schedule", "unassign", "--group", "pier")
    assert code == 2 and "group:pier follows no schedule" in err
    code, _, err = await run_cli(capsys, "schedule", "preview", "night", "--at", "91,0")
    assert code == 2 and "--at: '91,0' is outside" in err


async def test_energy_report(cli_rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    assert (await run_cli(capsys, "schedule", "assign", "night", "--group", "pier"))[0] == 0
    start = datetime(2026, 12, 20, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    readings = []
    for minutes in range(0, 2 * 24 * 60 + 1, 10):  # two days, a 60 W draw while the night schedule has it on
        ts = start + timedelta(minutes=minutes)
        for device, offset in (("LP-1", 100.0), ("LP-2", 5.0)):
            readings.append(Reading(device, "energy_kwh", ts, offset + 0.06 * minutes / 60))
    async with open_store(DatabaseUrl.parse(os.environ["STREETWATCH_DATABASE_URL"])) as store:
        await store.write(readings)
    code, out, _ = await run_cli(capsys, "energy", "report", "--site", "harbour", "--from", "2026-12-21",
                           "--to", "2026-12-22", "--by", "lamp", "--format", "csv")
    assert code == 0
    rows = [line.split(",") for line in out.strip().splitlines()]
    assert rows[0] == ["lamp", "day", "lamps", "kwh", "full_power_kwh", "saved_kwh", "saved_pct", "resets",
                       "rejected"]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("LP-1", "2026-12-21")][3] == "1.44"  # 60 W for 24 h
    assert by_key[("LP-1", "total")][3] == "2.88"
    full = float(by_key[("LP-1", "2026-12-21")][4])
    assert 1.2 < full < 1.5  # 100 W for the ~13 h the night schedule has the lamp on in December
    assert "LP-3" not in {r[0] for r in rows}  # no readings, no row


def test_every_control_command_has_an_example() -> None:
    from control.cli import command_app, energy_app, lamp_app, schedule_app

    commands = [c for app in (lamp_app, command_app, schedule_app, energy_app) for c in app.registered_commands]
    assert len(commands) == 17
    assert [c.name for c in commands if "Example: streetwatch " not in (c.callback.__doc__ or "")] == []
