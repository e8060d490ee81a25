"""Times as the two databases hand them back: PostgreSQL gives datetimes, SQLite ISO text."""

from __future__ import annotations

from datetime import UTC, datetime


def as_datetime(value: object) -> datetime:
    """A stored timestamp as an aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stamp(moment: datetime) -> str:
    """``moment`` as the text both databases store and compare (UTC, ISO 8601)."""
    return moment.astimezone(UTC).isoformat()
