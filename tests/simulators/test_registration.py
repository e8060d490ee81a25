"""The registration CSV: every row a valid registry Device, addresses filled in."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from device_registry import device_from_fields, read_csv
from device_registry.device import ModbusRtuAddress, ModbusTcpAddress, MqttAddress
from simulators.plan import plan_fleet
from simulators.registration import CSV_COLUMNS, BoundEndpoint, registered_devices, write_csv
from simulators.scenario import ProbeTransport, Scenario


def test_csv_has_the_import_columns_and_real_addresses(tmp_path: Path) -> None:
    plan = plan_fleet(Scenario(lamps=3, gauges=2, probes=2, probe_transport=ProbeTransport.rtu))
    bound = {0: BoundEndpoint(host="127.0.0.1", port=15020), 1: BoundEndpoint(serial_port="/dev/pts/7")}
    devices = registered_devices(plan, bound)
    assert isinstance(devices[0].address, ModbusTcpAddress) and devices[0].address.port == 15020
    assert isinstance(devices[3].address, MqttAddress)
    assert isinstance(devices[5].address, ModbusRtuAddress) and devices[5].address.unit == 1
    path = tmp_path / "fleet.csv"
    assert write_csv(devices, path) == 7
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    lamp, gauge, probe = rows[0], rows[3], rows[6]
    assert (lamp["transport"], lamp["host"], lamp["port"], lamp["unit"]) == ("modbus-tcp", "127.0.0.1", "15020", "1")
    assert (float(lamp["lat"]), float(lamp["lon"])) == (devices[0].location.latitude, devices[0].location.longitude)
    assert lamp["groups"].split(";")[:2] == ["street-jichang-rd", "cab-jichang-rd-01"]
    assert "rated_power_w=150" in lamp["tags"].split(";")
    assert (gauge["transport"], gauge["host"], gauge["port"]) == ("mqtt", "", "")
    assert gauge["tags"].split(";")[1] == "hazard_group=hazard-jichang-rd"
    assert (probe["serial_port"], probe["baudrate"], probe["parity"], probe["stopbits"], probe["unit"]) == \
        ("/dev/pts/7", "9600", "N", "1", "2")
    assert all(row["status"] == "active" and row["installed_on"] for row in rows)
    # The registry's own importer reads the file back into the same devices.
    back = [device_from_fields(row.fields) for row in read_csv(path.read_text())]
    assert back == devices


def test_the_energy_report_reads_the_rated_power_the_simulator_tags() -> None:
    # One name everywhere: the simulator's tag is the one the energy report reads (not its default).
    from control.energy_report import rated_power_w
    from simulators.devices import SimLamp

    plan = plan_fleet(Scenario(lamps=40))
    devices = registered_devices(plan, {0: BoundEndpoint(host="127.0.0.1", port=15020)})
    rated = {d.id: rated_power_w(d, default_w=1.0) for d in devices}
    assert set(rated.values()) <= {150.0, 90.0} and 150.0 in rated.values()  # never the default
    lamp = SimLamp(plan.devices[0], Scenario(lamps=40), datetime(2026, 7, 1, tzinfo=UTC))
    assert lamp.controller.spec.rated_power_w == rated[plan.devices[0].id]
