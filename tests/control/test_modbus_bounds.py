"""Modbus writes are bounded by the profile: a register it does not declare writable, a value outside
its range or the command's, never reaches the bus (a real Modbus TCP server counts every request)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from control.channel import DeliveryJob
from control.errors import DeliveryRejected
from control.modbus_channel import ModbusChannel
from control.model import Action, CommandTarget
from device_drivers.errors import EncodeError
from device_drivers.modbus import write_metric
from device_registry.profile import Profile, check_profile, shipped_profiles
from tests.control.conftest import LAMP_PROFILE, Rig, lamp_server, modbus_lamp
from tests.device_drivers.modbus_setup import served

pytestmark = pytest.mark.services


def _narrow_lamp() -> Profile:
    """The shipped lamp, but it cannot dim below 10 % and its flash register has lost its range."""
    data = shipped_profiles()[LAMP_PROFILE].model_dump(mode="json", exclude_none=True)
    data["commands"]["set_dim"] = {"metric": "dim_level_pct", "min": 10, "max": 100}
    data["modbus"]["metrics"] = [{k: v for k, v in m.items() if k not in ("min", "max")}
                                 if m["name"] == "flash_mode" else m for m in data["modbus"]["metrics"]]
    profile, problems = check_profile(data)
    assert profile is not None, problems
    return profile


def _job(port: int, profile: Profile, action: Action, params: dict[str, Any]) -> DeliveryJob:
    return DeliveryJob(1, modbus_lamp("LP-1", port, 1), profile, action, params, 1, 1.0,
                       datetime.now(UTC) + timedelta(minutes=5))


@pytest.mark.parametrize(("action", "params", "message"), [
    (Action.set_dim, {"level_pct": 5}, "set_dim 5 is outside the profile's 10..100; nothing was sent"),
    (Action.flash, {"on": True}, "flash_mode declares no min and max, so it is never written (add its range to "
                                 "the profile); nothing was sent"),
])
async def test_a_write_outside_the_profile_never_reaches_the_bus(modbus: ModbusChannel, action: Action,
                                                                 params: dict[str, Any], message: str) -> None:
    async with lamp_server(1) as server:
        with pytest.raises(DeliveryRejected) as refused:
            await modbus.deliver(_job(server.port, _narrow_lamp(), action, params))
        assert str(refused.value).endswith(message)
        assert server.request_count(1) == 0
        await modbus.deliver(_job(server.port, _narrow_lamp(), Action.set_dim, {"level_pct": 10}))
        assert server.request_count(1) == 2 and server.get_value(1, "dim_level_pct") == 10  # write, read back


async def test_a_refused_write_fails_the_command_with_the_reason(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.registry.add_profile(_narrow_lamp().model_dump_json(exclude_none=True).replace(
            f'"name":"{LAMP_PROFILE}"', '"name":"narrow-lamp"'), "yaml", source="test", by="test")
        await rig.add([modbus_lamp("LP-1", server.port, 1).model_copy(update={"profile": "narrow-lamp"})])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            command = await dispatcher.submit(CommandTarget("device", "LP-1"), "set_dim", {"level_pct": 3}, "bob", "")
            progress = await dispatcher.wait_for(command.id)
        (delivery,) = await rig.store.deliveries(command.id)
        assert (progress.status, delivery.attempts) == ("failed", 1)
        assert delivery.error == "set_dim 3 is outside the profile's 10..100; nothing was sent"
        assert server.request_count(1) == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e12, 100.5])
async def test_the_driver_refuses_values_outside_the_register_range(value: float) -> None:
    lamp = shipped_profiles()[LAMP_PROFILE]
    async with served("tcp", {1: lamp}) as (server, bus):
        with pytest.raises(EncodeError):
            await write_metric(bus, 1, lamp, "dim_level_pct" if value != 1e12 else "clock_epoch_s", value)
        assert server.request_count(1) == 0
