"""`device probe` against an independent Modbus TCP device that answers with crafted bytes."""

from __future__ import annotations

import logging

import pytest

from device_drivers import errors as driver_errors
from device_registry.device import Device
from gateway.poller.probe import failure_text
from tests.fixtures.crafted_modbus import CraftedModbusServer, Request
from tests.gateway.test_probe import add_lamp, cli, env  # noqa: F401 - the fixture, used by name


def overcounted(request: Request) -> bytes:
    """A register answer whose byte count (20) is larger than the data that follows (4 bytes)."""
    return request.reply(bytes([request.function, 20, 0, 1, 0, 2]))


def truncated(request: Request) -> bytes:
    """The MBAP header promises 7 bytes after the unit id; 3 come, then silence."""
    return request.reply(bytes([request.function, 4, 0]), declared_length=8)


async def probe_error(port: int, capsys: pytest.CaptureFixture[str]) -> str:
    await add_lamp(port)
    capsys.readouterr()
    assert await cli("device", "probe", "LP-BY-000123", "--timeout", "0.5") == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err  # one line: no traceback, no library log lines
    return lines[0]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (overcounted, "malformed reply from unit 1 at 127.0.0.1:{port} to read holding 0+12: "
                      "function 3 says 20 data bytes, but 4 follow"),
        (truncated, "malformed reply from unit 1 at 127.0.0.1:{port} to read holding 0+12: "
                    "truncated: 10 bytes of a frame arrived, the rest not within 0.5 s"),
    ],
)
@pytest.mark.usefixtures("env")
async def test_a_malformed_reply_is_named_as_such(capsys: pytest.CaptureFixture[str],
                                                  caplog: pytest.LogCaptureFixture, answer: object,
                                                  expected: str) -> None:
    async with CraftedModbusServer(answer) as server:  # type: ignore[arg-type]
        line = await probe_error(server.port, capsys)
    assert expected.format(port=server.port) in line
    for misleading in ("cannot connect", "connection lost", "no answer", "baud", "parity", "powered"):
        assert misleading not in line
    assert "Modbus TCP frame" in line  # the hint fits a TCP device
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []  # asyncio's "Fatal error" was one


@pytest.mark.usefixtures("env")
async def test_silence_on_tcp_gives_network_hints_only(capsys: pytest.CaptureFixture[str]) -> None:
    async with CraftedModbusServer(lambda request: None) as server:
        line = await probe_error(server.port, capsys)
    assert f"no answer from unit 1 at 127.0.0.1:{server.port} within 0.5 s" in line
    assert "speaks Modbus TCP on this port" in line
    assert "baud" not in line and "parity" not in line and "wiring" not in line


ADDRESSES = {
    "tcp": {"transport": "modbus-tcp", "host": "10.0.0.5", "port": 502, "unit": 3},
    "rtu-over-tcp": {"transport": "modbus-rtu-over-tcp", "host": "10.0.0.6", "port": 4001, "unit": 3},
    "rtu": {"transport": "modbus-rtu", "serial_port": "/dev/ttyUSB0", "unit": 3},
}
FAILURES = [driver_errors.ConnectionFailed("cannot connect"), driver_errors.ConnectionLost("connection lost"),
            driver_errors.DeviceTimeout("no answer"),
            driver_errors.MalformedReply("read input 0+2", "function 4 says 9 data bytes, but 4 follow"),
            driver_errors.FramingError("garbage"), driver_errors.StaleResponse("another function")]
SERIAL_WORDS = ("baud", "parity", "serial", "wiring")
NETWORK_WORDS = ("host", "network", "Modbus TCP")


@pytest.mark.parametrize("failure", FAILURES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("kind", list(ADDRESSES))
def test_hints_speak_of_the_bus_the_device_is_on(kind: str, failure: driver_errors.DriverError) -> None:
    device = Device.model_validate({"id": "LP-1", "kind": "lamp_controller", "profile": "sw-lamp-controller",
                                    "address": ADDRESSES[kind], "location": {"latitude": 23.1, "longitude": 113.2}})
    text = failure_text(failure, device, 3.0)
    assert "unit 3" in text
    if kind == "tcp":
        assert not [w for w in SERIAL_WORDS if w in text], text
    if kind == "rtu":
        assert not [w for w in NETWORK_WORDS if w in text], text
