"""Devices kept by the directory share their equal parts and stay the devices they were."""

from __future__ import annotations

import sys

from device_registry import Device
from gateway.intake.compact import DeviceCompactor

DOC = ('{{"id": "{id}", "kind": "lamp_controller", "profile": "sw-lamp-controller", "site": "Baiyun",'
       ' "address": {{"transport": "modbus-rtu-over-tcp", "host": "127.0.0.1", "port": 61000, "unit": {unit}}},'
       ' "location": {{"latitude": 23.1, "longitude": {lon}}}, "groups": ["street-1"], "tags": {{"batch": "3"}},'
       ' "thresholds": {{"power_w": {{"red": {red}}}}}}}')


def device(n: int, red: float = 200.0) -> Device:
    return Device.model_validate_json(DOC.format(id=f"LP-{n}", unit=n % 30 + 1, lon=113.0 + n / 1000, red=red))


def test_a_compacted_device_is_equal_and_serializes_the_same() -> None:
    compactor = DeviceCompactor()
    for n in range(5):
        compact = compactor.compact(device(n))
        assert compact == device(n)
        assert compact.model_dump_json() == device(n).model_dump_json()
        assert compact.model_dump(exclude_unset=True) == device(n).model_dump(exclude_unset=True)


def test_equal_parts_are_one_object_and_different_ones_stay_apart() -> None:
    compactor = DeviceCompactor()
    a, b, c = compactor.compact(device(1)), compactor.compact(device(2)), compactor.compact(device(3, red=250.0))
    assert a.tags is b.tags and a.groups is b.groups and a.thresholds is b.thresholds
    assert a.model_fields_set is b.model_fields_set and a.location.model_fields_set is b.location.model_fields_set
    assert a.site is b.site and a.address.host is b.address.host
    assert a.address is not b.address  # another unit behind the converter
    assert c.thresholds == {"power_w": {"red": 250.0}} and c.thresholds is not a.thresholds
    assert a.location != b.location


def test_a_thousand_devices_take_less_than_half_the_memory() -> None:
    def size(devices: list[Device]) -> int:
        seen: set[int] = set()

        def walk(obj: object) -> int:
            if id(obj) in seen or isinstance(obj, int | float | type(None)) or type(obj).__name__ == "DeviceStatus":
                return 0
            seen.add(id(obj))
            total = sys.getsizeof(obj)
            if isinstance(obj, dict):
                total += sum(walk(k) + walk(v) for k, v in obj.items())
            elif isinstance(obj, tuple | list | set | frozenset):
                total += sum(walk(x) for x in obj)
            elif hasattr(obj, "__pydantic_fields_set__"):
                total += walk(obj.__dict__) + walk(obj.__pydantic_fields_set__)
            return total

        return sum(walk(d) for d in devices)

    compactor = DeviceCompactor()
    plain = [device(n) for n in range(1_000)]
    compact = [compactor.compact(device(n)) for n in range(1_000)]
    assert size(compact) < size(plain) / 2
