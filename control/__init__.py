"""Remote control of street lights: commands, lighting schedules with the sun, energy.

    from control import Dispatcher, ModbusChannel, MqttChannel, Scheduler, CommandStore

- :class:`Dispatcher` delivers commands (``submit`` is the rules engine's CommandSink) over a
  :class:`ModbusChannel` (write, then read back) and an :class:`MqttChannel` (``cmd`` / ``cmd/ack``).
- :class:`CommandStore` keeps every command and its per-device deliveries: the audit trail.
- :class:`Scheduler` drives lamps along the schedules assigned to their groups and sites.
- :func:`timeline` and :func:`setpoint_at` turn a :class:`Schedule` into times at a place.
- :func:`daily_energy` and :func:`hours_on` make the energy report; :func:`lamp_days` and :func:`summarise` tabulate it.
- :func:`prepare` checks and resolves a command without queueing it (the operator API queues it itself).
"""

from __future__ import annotations

from control.assignments import Assignment, AssignmentStore, schedule_for
from control.channel import DeliveryChannel, DeliveryJob
from control.dispatcher import Dispatcher
from control.energy import DayEnergy, daily_energy, hours_on, saving
from control.energy_report import LampDay, lamp_days, schedules_by_assignment, summarise
from control.errors import (
    CommandError,
    ControlError,
    DeliveryError,
    DeliveryRejected,
    ScheduleError,
    UnknownCommand,
    UnknownSchedule,
)
from control.library import ScheduleLibrary
from control.lookup import DeviceLookup, RegistryLookup
from control.migrations import MIGRATIONS
from control.modbus_channel import ModbusChannel
from control.model import (
    Action,
    Command,
    CommandProgress,
    CommandTarget,
    Delivery,
    DeliveryStatus,
)
from control.mqtt_channel import AckRefusal, MqttChannel, RefusedAck
from control.orders import Order, bulk_refusal, place_order, prepare
from control.schedule import Schedule, load_schedule
from control.scheduler import Scheduler
from control.store import CommandStore, StatusUpdate
from control.timeline import Step, next_change, setpoint_at, table, timeline

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
    "DeviceLookup",
    "Dispatcher",
    "LampDay",
    "ModbusChannel",
    "MqttChannel",
    "Order",
    "RefusedAck",
    "RegistryLookup",
    "Schedule",
    "ScheduleError",
    "ScheduleLibrary",
    "Scheduler",
    "StatusUpdate",
    "Step",
    "UnknownCommand",
    "UnknownSchedule",
    "bulk_refusal",
    "daily_energy",
    "hours_on",
    "lamp_days",
    "load_schedule",
    "next_change",
    "place_order",
    "prepare",
    "saving",
    "schedule_for",
    "schedules_by_assignment",
    "setpoint_at",
    "summarise",
    "table",
    "timeline",
]
