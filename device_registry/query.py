"""Which devices: a :class:`DeviceFilter` for listings, and selectors for bulk commands.

A selector names devices the way an operator does on the command line::

    LP-BY-000123         one device
    group:riverside      every device in a group
    site:Baiyun          every device at a site
    tag:pole=steel       every device with that tag
    kind:lamp_controller every device of a kind
    all                  every device (not retired)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from device_registry.device import DEVICE_ID_PATTERN, DeviceStatus
from device_registry.errors import UnknownTarget
from streetwatch.database import Params

SELECTOR_HELP = "ID, group:NAME, site:NAME, tag:KEY=VALUE, kind:KIND or all"


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Devices matching every given criterion. Retired devices only when asked for by status or ``include_retired``.

    >>> DeviceFilter(kind="lamp_controller", site="Baiyun").where()
    ("d.kind = ? AND d.site = ? AND d.status <> 'retired'", ['lamp_controller', 'Baiyun'])
    """

    kind: str | None = None
    site: str | None = None
    group: str | None = None
    status: DeviceStatus | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    profile: str | None = None
    include_retired: bool = False
    # Only devices in one of these areas ('' is the root); None: any area.
    areas: frozenset[str] | None = None

    def where(self) -> tuple[str, Params]:
        """An SQL condition on ``devices d`` and its parameters."""
        clauses: list[str] = []
        params: list[str] = []
        for column, value in (("kind", self.kind), ("site", self.site), ("profile", self.profile),
                              ("status", self.status.value if self.status else None)):
            if value is not None:
                clauses.append(f"d.{column} = ?")
                params.append(value)
        if self.group is not None:
            clauses.append("EXISTS (SELECT 1 FROM device_groups g WHERE g.device_id = d.id AND g.group_name = ?)")
            params.append(self.group)
        for key, value in self.tags.items():
            clauses.append("EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id "
                           "AND t.key = ? AND t.value = ?)")
            params += [key, value]
        if self.areas is not None:
            if not self.areas:
                clauses.append("1 = 0")
            else:
                clauses.append(f"d.area IN ({', '.join('?' * len(self.areas))})")
                params += sorted(self.areas)
        if self.status is None and not self.include_retired:
            clauses.append("d.status <> 'retired'")
        return (" AND ".join(clauses) or "1 = 1"), params


@dataclass(frozen=True, slots=True)
class Selector:
    """One parsed selector: either a device id or a filter."""

    text: str
    device_id: str | None = None
    filter: DeviceFilter | None = None


def parse_selector(text: str) -> Selector:
    """``group:riverside`` → a filter on that group; ``LP-1`` → that device."""
    text = text.strip()
    if text in ("all", "*"):
        return Selector(text, filter=DeviceFilter())
    prefix, sep, value = text.partition(":")
    if not sep:
        if not DEVICE_ID_PATTERN.fullmatch(text):
            raise UnknownTarget(f"target {text!r} is not a device id or a selector ({SELECTOR_HELP})")
        return Selector(text, device_id=text)
    if not value:
        raise UnknownTarget(f"target {text!r} names no {prefix}")
    if prefix == "group":
        return Selector(text, filter=DeviceFilter(group=value))
    if prefix == "site":
        return Selector(text, filter=DeviceFilter(site=value))
    if prefix == "kind":
        return Selector(text, filter=DeviceFilter(kind=value))
    if prefix == "tag":
        key, eq, tag_value = value.partition("=")
        if not eq or not key:
            raise UnknownTarget(f"target {text!r}: a tag selector is tag:KEY=VALUE")
        return Selector(text, filter=DeviceFilter(tags={key: tag_value}))
    raise UnknownTarget(f"target {text!r}: unknown selector {prefix!r} (use {SELECTOR_HELP})")
