"""Remote control of street lights: commands, lighting schedules with the sun, energy.

    from rules.control import Dispatcher, ModbusChannel, MqttChannel, Scheduler, CommandStore

- :class:`Dispatcher` delivers commands (``submit`` is the rules engine's CommandSink) over a
  :class:`ModbusChannel` (write, then read back) and an :class:`MqttChannel` (``cmd`` / ``cmd/ack``).
- :class:`CommandStore` keeps every command and its per-device deliveries: the audit trail.
- :class:`Scheduler` drives lamps along the schedules assigned to their groups and sites.
- :func:`timeline` and :func:`setpoint_at` turn a :class:`Schedule` into times at a place.
- :func:`daily_energy` and :func:`hours_on` make the energy report.
"""

from __future__ import annotations

from rules.control.assignments import Assignment, AssignmentStore, schedule_for
from rules.control.channel import DeliveryChannel, DeliveryJob
from rules.control.directory import DeviceDirectory, RegistryDirectory
from rules.control.dispatcher import Dispatcher
from rules.control.energy import DayEnergy, daily_energy, hours_on, saving
from rules.control.errors import (
    CommandError,
    ControlError,
    DeliveryError,
    DeliveryRejected,
    ScheduleError,
    UnknownCommand,
    UnknownSchedule,
)
from rules.control.library import ScheduleLibrary
from rules.control.migrations import MIGRATIONS
from rules.control.modbus_channel import ModbusChannel
from rules.control.model import (
    Action,
    Command,
    CommandProgress,
    CommandTarget,
    Delivery,
    DeliveryStatus,
)
from rules.control.mqtt_channel import AckRefusal, MqttChannel, RefusedAck
from rules.control.orders import Order, bulk_refusal, place_order
from rules.control.schedule import Schedule, load_schedule
from rules.control.scheduler import Scheduler
from rules.control.store import CommandStore
from rules.control.timeline import Step, next_change, setpoint_at, table, timeline

__all__ = [
    "MIGRATIONS",
    "AckRefusal",
    "Action",
    "Assignment",
    "AssignmentStore",
    "Command",
    "CommandError",
    "CommandProgress",
    "CommandStore",
    "CommandTarget",
    "ControlError",
    "DayEnergy",
    "Delivery",
    "DeliveryChannel",
    "DeliveryError",
    "DeliveryJob",
    "DeliveryRejected",
    "DeliveryStatus",
    "DeviceDirectory",
    "Dispatcher",
    "ModbusChannel",
    "MqttChannel",
    "Order",
    "RefusedAck",
    "RegistryDirectory",
    "Schedule",
    "ScheduleError",
    "ScheduleLibrary",
    "Scheduler",
    "Step",
    "UnknownCommand",
    "UnknownSchedule",
    "bulk_refusal",
    "daily_energy",
    "hours_on",
    "load_schedule",
    "next_change",
    "place_order",
    "saving",
    "schedule_for",
    "setpoint_at",
    "table",
    "timeline",
]
