"""Device drivers: Modbus (TCP, RTU, RTU over TCP) and MQTT payloads, both driven by device profiles.

Errors are one hierarchy, :mod:`device_drivers.errors`; drivers raise, they never return None.
"""
