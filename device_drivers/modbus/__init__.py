"""Modbus driver: profile-driven reads with coalesced requests, verified writes, one lock per bus."""

from device_drivers.modbus.bus import ModbusBus
from device_drivers.modbus.codec import decode_metric, decode_text, encode_metric, encode_text, set_bits
from device_drivers.modbus.driver import (
    DeviceSample,
    read_device,
    read_schedule,
    write_metric,
    write_schedule,
)
from device_drivers.modbus.endpoint import BusKind, BusSettings, Endpoint, ModbusAddress
from device_drivers.modbus.plan import ReadBlock, plan_reads
from device_drivers.modbus.pool import BusPool

__all__ = [
    "BusKind", "BusPool", "BusSettings", "DeviceSample", "Endpoint", "ModbusAddress", "ModbusBus", "ReadBlock",
    "decode_metric", "decode_text", "encode_metric", "encode_text", "plan_reads", "read_device", "read_schedule",
    "set_bits", "write_metric", "write_schedule",
]
