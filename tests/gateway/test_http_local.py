"""The gateway's HTTP servers listen on 127.0.0.1 unless told otherwise; device state and the water
report stay local (the report unless configured)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from benchmarks.servers import free_port
from gateway.composition.http import bind, create_api
from streetwatch.config import ConfigError, load_settings


class _View:
    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {"status": "ok"}

    def device_state(self, device_id: str) -> dict[str, Any] | None:
        return {"id": device_id, "online": True} if device_id == "LP-1" else None

    @property
    def water(self) -> None:
        return None  # the gateway is starting: a client let through gets 503, one kept out 403


def test_the_servers_listen_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREETWATCH_GATEWAY__LISTEN_HOST", raising=False)
    host = load_settings(None).gateway.listen_host
    assert host == "127.0.0.1"
    sock = bind(free_port(), "gateway.api_port", host)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
    sock = bind(free_port(), "gateway.api_port", "::1")
    try:
        assert sock.getsockname()[0] == "::1"
    finally:
        sock.close()


def test_a_listen_host_that_is_no_address_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREETWATCH_GATEWAY__LISTEN_HOST", "every-interface")
    with pytest.raises(ConfigError, match=r"STREETWATCH_GATEWAY__LISTEN_HOST \(environment\): 'every-interface' is "
                                          "not an IP address"):
        load_settings(None)


@pytest.mark.parametrize(("client", "expected"), [("127.0.0.1", 200), ("::1", 200), ("10.1.2.3", 403),
                                                  ("2001:db8::7", 403)])
async def test_device_state_is_served_to_this_machine_only(client: str, expected: int) -> None:
    # The client address is what the ASGI server reports; no packet leaves this process.
    transport = httpx.ASGITransport(app=create_api(_View()), client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        state = await http.get("/devices/LP-1/state")
        health = await http.get("/health")
    assert state.status_code == expected
    assert health.status_code == 200
    if expected == 403:
        assert state.json() == {"detail": "device state is served to this machine only"}


@pytest.mark.parametrize(("client", "remote", "expected"),
                         [("127.0.0.1", False, 503), ("::1", False, 503), ("10.1.2.3", False, 403),
                          ("2001:db8::7", False, 403), ("10.1.2.3", True, 503), ("127.0.0.1", True, 503)])
async def test_the_water_report_is_served_to_this_machine_unless_configured(client: str, remote: bool,
                                                                            expected: int) -> None:
    transport = httpx.ASGITransport(app=create_api(_View(), remote_water_report=remote), client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        report = await http.get("/water/report", params={"date": "2026-12-05"})
    assert report.status_code == expected
    if expected == 403:
        assert report.json() == {"detail": "the water report is served to this machine only "
                                           "(gateway.water_report_remote opens it)"}
    else:
        assert report.json() == {"detail": "the gateway is starting"}


def test_water_report_remote_is_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREETWATCH_GATEWAY__WATER_REPORT_REMOTE", raising=False)
    assert load_settings(None).gateway.water_report_remote is False
    monkeypatch.setenv("STREETWATCH_GATEWAY__WATER_REPORT_REMOTE", "true")
    assert load_settings(None).gateway.water_report_remote is True
