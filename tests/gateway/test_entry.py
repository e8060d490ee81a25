"""What the gateway keeps of a device: everything the rules read, equal parts shared, a fraction of a Device."""

from __future__ import annotations

import sys
import tracemalloc
from types import MappingProxyType

import pytest

from device_registry import Device
from gateway.intake.entry import DeviceEntry, EntryMaker

DOC = ('{{"id": "{id}", "kind": "lamp_controller", "profile": "sw-lamp-controller", "site": "Baiyun",'
       ' "address": {{"transport": "modbus-rtu-over-tcp", "host": "127.0.0.1", "port": 61000, "unit": {unit}}},'
       ' "location": {{"latitude": 23.1, "longitude": {lon}, "landmark": "gate 3"}}, "groups": ["street-1"],'
       ' "tags": {{"batch": "3"}}, "thresholds": {{"power_w": {{"red": {red}}}}}, "status": "active",'
       ' "notes": "north side"}}')


def device(n: int, red: float = 200.0) -> Device:
    return Device.model_validate_json(DOC.format(id=f"LP-{n}", unit=n % 30 + 1, lon=113.0 + n / 1000, red=red))


def test_an_entry_reads_as_the_device_does_for_the_rules() -> None:
    d = device(7)
    entry = EntryMaker().entry(d)
    for name in ("id", "kind", "profile", "site", "groups", "status", "poll_interval_s", "transport"):
        assert getattr(entry, name) == getattr(d, name), name
    assert entry.tags == d.tags and entry.thresholds == d.thresholds
    assert (entry.location.latitude, entry.location.longitude, entry.location.landmark) == (23.1, 113.007, "gate 3")
    assert entry.endpoint is not None and entry.endpoint.key == d.bus_key and entry.unit == 8
    mqtt = EntryMaker().entry(Device.model_validate_json(
        '{"id": "CG-1", "kind": "culvert_gauge", "profile": "g", "address": {"transport": "mqtt"},'
        ' "location": {"latitude": 23.1, "longitude": 113.2}}'))
    assert mqtt.endpoint is None and not mqtt.is_modbus and dict(mqtt.tags) == {} and dict(mqtt.thresholds) == {}


def test_equal_parts_are_one_object_and_different_ones_stay_apart() -> None:
    maker = EntryMaker()
    a, b, c = maker.entry(device(1)), maker.entry(device(2)), maker.entry(device(3, red=250.0))
    assert a.tags is b.tags and a.groups is b.groups and a.thresholds is b.thresholds and a.endpoint is b.endpoint
    assert a.site is b.site and a.kind is b.kind and a.landmark is b.landmark
    assert c.thresholds == {"power_w": {"red": 250.0}} and c.thresholds is not a.thresholds
    assert a.location != b.location and a.unit != b.unit


def test_shared_parts_cannot_be_changed_through_one_device() -> None:
    entry = EntryMaker().entry(device(1))
    assert isinstance(entry.tags, MappingProxyType) and isinstance(entry.thresholds["power_w"], MappingProxyType)
    with pytest.raises(TypeError):
        entry.tags["batch"] = "4"  # type: ignore[index]
    with pytest.raises(TypeError):
        entry.thresholds["power_w"]["red"] = 1.0  # type: ignore[index]


def test_equal_devices_make_equal_entries_and_a_change_the_rules_read_makes_another() -> None:
    maker = EntryMaker()
    a, again = maker.entry(device(1)), maker.entry(device(1))
    assert a == again and hash(a) == hash(again) and a is not again
    assert maker.entry(device(1, red=300.0)) != a  # the engine sees the new threshold
    assert maker.entry(device(1, red=300.0)).polled_as == a.polled_as  # the poller does not re-plan for it


def test_the_id_kept_is_the_one_given_when_it_is_the_devices() -> None:
    row_id = "".join(["LP-", "1"])  # a string of its own, as a database row gives it
    d = device(1)
    assert EntryMaker().entry(d, row_id).id is row_id
    assert EntryMaker().entry(d, "LP-2").id is d.id  # never another device's id


def test_a_thousand_entries_take_under_a_quarter_of_the_devices_memory() -> None:
    devices = [device(n) for n in range(1_000)]  # made before measuring: a page of documents, gone afterwards
    maker = EntryMaker()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        entries: list[DeviceEntry] = [maker.entry(d) for d in devices]
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / len(entries)
    finally:
        tracemalloc.stop()
    per_device = sum(sys.getsizeof(d) + sys.getsizeof(d.__dict__) + sys.getsizeof(d.location)
                     + sys.getsizeof(d.location.__dict__) + sys.getsizeof(d.address) + sys.getsizeof(d.address.__dict__)
                     for d in devices) / len(devices)  # the models alone, not yet their texts and dicts
    assert per_entry < 250, per_entry
    assert per_entry < per_device / 4, (per_entry, per_device)
