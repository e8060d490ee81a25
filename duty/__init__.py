"""Duty: the warning reaches the responsible person.

Rotas and escalation policies are files (:mod:`duty.files`); people's channels and who is responsible
for what are rows (:mod:`duty.contacts`); :class:`Roster` answers "who is on duty in this area now".
"""

from __future__ import annotations

from duty.contacts import CHANNELS, Contact, Contacts, Responsibility, check_address
from duty.errors import AckLinkError, DeliveryError, DutyError, DutyFileError, InvalidContact
from duty.files import DutyPlan, load_duty, parse_duty_text, reference_problems
from duty.policy import EscalationPolicy, Step
from duty.roster import Roster, open_roster
from duty.rota import Holiday, Override, Rota, Shift
from duty.schema import MIGRATIONS

__all__ = [
    "CHANNELS",
    "MIGRATIONS",
    "AckLinkError",
    "Contact",
    "Contacts",
    "DeliveryError",
    "DutyError",
    "DutyFileError",
    "DutyPlan",
    "EscalationPolicy",
    "Holiday",
    "InvalidContact",
    "Override",
    "Responsibility",
    "Roster",
    "Rota",
    "Shift",
    "Step",
    "check_address",
    "load_duty",
    "open_roster",
    "parse_duty_text",
    "reference_problems",
]
