"""The examples in the drivers' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "device_drivers.modbus.codec", "device_drivers.modbus.plan", "device_drivers.modbus.bus",
    "device_drivers.modbus.pool", "device_drivers.mqtt.payload", "device_drivers.mqtt.messages",
    "simulators.modbus_server",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
