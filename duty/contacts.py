"""How to reach a person (their channels) and who answers for a device, a group or an area.

A person is a :mod:`people` user; this module adds their channels: a mobile number for SMS and voice,
an e-mail address, a WeCom / DingTalk / Feishu group robot (its webhook URL, and DingTalk's signing
secret), or the console. Responsibility is inherited upward: a device's responsible people are its own,
then its groups', then those of its area and every area above it, nearest first.

>>> check_address("email", "wang@example.org")
'wang@example.org'
>>> check_address("sms", "138 0013 8000")
'+8613800138000'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from duty.errors import InvalidContact
from streetwatch.database import Database

Channel = Literal["sms", "voice", "email", "wecom", "dingtalk", "feishu", "console"]
CHANNELS: tuple[Channel, ...] = ("sms", "voice", "email", "wecom", "dingtalk", "feishu", "console")
Position = Literal["responsible", "head"]
TargetKind = Literal["device", "group", "area"]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_MOBILE = re.compile(r"^\+?[0-9]{6,15}$")
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# The robots' documented webhook hosts; a test may point at a local receiver over plain http.
_ROBOT_HOSTS = {"wecom": "qyapi.weixin.qq.com", "dingtalk": "oapi.dingtalk.com", "feishu": "open.feishu.cn"}
_LOCAL = {"127.0.0.1", "localhost", "::1"}


def check_address(channel: str, address: str) -> str:
    """The address in its stored form, or :class:`InvalidContact` saying what is wrong with it."""
    if channel not in CHANNELS:
        raise InvalidContact(f"channel {channel!r}: use one of {', '.join(CHANNELS)}")
    text = address.strip()
    if channel == "email":
        if not _EMAIL.match(text):
            raise InvalidContact(f"email {address!r}: not an e-mail address (name@example.org)")
        return text
    if channel in ("sms", "voice"):
        digits = re.sub(r"[\s-]", "", text)
        if _CN_MOBILE.match(digits):
            return "+86" + digits
        if not _MOBILE.match(digits) or not digits.startswith("+"):
            raise InvalidContact(f"{channel} {address!r}: not a mobile number (13800138000 or +8613800138000)")
        return digits
    if channel == "console":
        return text or "console"
    parts = urlsplit(text)
    local = parts.hostname in _LOCAL
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not local):
        raise InvalidContact(f"{channel} {address!r}: the robot's webhook URL must be https://{_ROBOT_HOSTS[channel]}/…")
    if not local and parts.hostname != _ROBOT_HOSTS[channel]:
        raise InvalidContact(f"{channel} {address!r}: a {channel} robot's webhook is on {_ROBOT_HOSTS[channel]}, "
                             f"not {parts.hostname}")
    return text


@dataclass(frozen=True, slots=True)
class Contact:
    person: str
    channel: Channel
    address: str
    secret: str = ""  # DingTalk's signing secret; never shown
    language: str = "zh"

    def shown(self) -> dict[str, str]:
        """For listings: the secret redacted."""
        return {"person": self.person, "channel": self.channel, "address": self.address,
                "secret": "(set)" if self.secret else "", "language": self.language}


def _contact(row: Mapping[str, object]) -> Contact:
    channel = next((c for c in CHANNELS if c == row["channel"]), None)
    if channel is None:
        raise InvalidContact(f"stored channel {row['channel']!r} is unknown")
    return Contact(str(row["user_name"]), channel, str(row["address"]), str(row["secret"]), str(row["language"]))


class Contacts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, person: str, channel: str, address: str, *, secret: str = "", language: str = "zh") -> Contact:
        stored = check_address(channel, address)
        if language not in ("zh", "en"):
            raise InvalidContact(f"language {language!r}: zh or en")
        await self.db.execute("DELETE FROM duty_contacts WHERE user_name = ? AND channel = ? AND address = ?",
                              (person, channel, stored))
        await self.db.execute(
            "INSERT INTO duty_contacts (user_name, channel, address, secret, language) VALUES (?, ?, ?, ?, ?)",
            (person, channel, stored, secret, language))
        return _contact({"user_name": person, "channel": channel, "address": stored, "secret": secret,
                         "language": language})

    async def remove(self, person: str, channel: str) -> int:
        return await self.db.execute("DELETE FROM duty_contacts WHERE user_name = ? AND channel = ?", (person, channel))

    async def of(self, person: str) -> list[Contact]:
        rows = await self.db.fetch_all("SELECT * FROM duty_contacts WHERE user_name = ? ORDER BY channel, address",
                                       (person,))
        return [_contact(row) for row in rows]

    async def secrets(self) -> dict[tuple[str, str], str]:
        """(channel, address) → signing secret, of every robot that has one."""
        rows = await self.db.fetch_all("SELECT DISTINCT channel, address, secret FROM duty_contacts WHERE secret <> ''")
        return {(str(row["channel"]), str(row["address"])): str(row["secret"]) for row in rows}

    async def all(self) -> list[Contact]:
        rows = await self.db.fetch_all("SELECT * FROM duty_contacts ORDER BY user_name, channel, address")
        return [_contact(row) for row in rows]


class Responsibility:
    """Who answers for a device, a group (a hazard point) or an area."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def assign(self, kind: TargetKind, target: str, person: str, position: Position = "responsible") -> None:
        if kind not in ("device", "group", "area") or position not in ("responsible", "head"):
            raise InvalidContact(f"cannot make {person} {position} for a {kind}")
        await self.db.execute("DELETE FROM duty_responsible WHERE target_kind = ? AND target = ? AND user_name = ? "
                              "AND position = ?", (kind, target, person, position))
        await self.db.execute("INSERT INTO duty_responsible (target_kind, target, user_name, position) "
                              "VALUES (?, ?, ?, ?)", (kind, target, person, position))

    async def unassign(self, kind: TargetKind, target: str, person: str) -> int:
        return await self.db.execute("DELETE FROM duty_responsible WHERE target_kind = ? AND target = ? "
                                     "AND user_name = ?", (kind, target, person))

    async def of(self, kind: TargetKind, target: str, position: Position = "responsible") -> list[str]:
        rows = await self.db.fetch_all("SELECT user_name FROM duty_responsible WHERE target_kind = ? AND target = ? "
                                       "AND position = ? ORDER BY user_name", (kind, target, position))
        return [str(row["user_name"]) for row in rows]

    async def for_device(self, device_id: str, groups: Sequence[str], area_chain: Sequence[str]) -> list[str]:
        """The device's own people, then its groups', then its area's and each area above, nearest first."""
        found: list[str] = []
        found += await self.of("device", device_id)
        for group in groups:
            found += await self.of("group", group)
        for area in area_chain:
            found += await self.of("area", area)
        return list(dict.fromkeys(found))
