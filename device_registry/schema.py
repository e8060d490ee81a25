"""The registry's tables, for PostgreSQL and SQLite.

A device is stored whole as its JSON document (``doc``) so listing 100,000 devices is one query;
the columns beside it, and the ``device_groups`` and ``device_tags`` tables, exist to filter.
Every change writes a ``device_history`` row and bumps ``registry_revision`` in the same transaction.
"""

from __future__ import annotations

from streetwatch.migrations import Migration

COMPONENT = "device_registry"

_DEVICES = """
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    profile    TEXT NOT NULL,
    transport  TEXT NOT NULL,
    site       TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL,
    bus_key    TEXT NOT NULL,
    endpoint   TEXT,
    doc        TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX devices_kind ON devices (kind);
CREATE INDEX devices_site ON devices (site);
CREATE INDEX devices_status ON devices (status);
CREATE INDEX devices_endpoint ON devices (endpoint);
CREATE TABLE device_groups (
    group_name TEXT NOT NULL,
    device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, device_id)
);
CREATE INDEX device_groups_device ON device_groups (device_id);
CREATE TABLE device_tags (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX device_tags_key_value ON device_tags (key, value);
CREATE TABLE device_history (
    seq       {serial},
    device_id TEXT NOT NULL,
    at        {ts} NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    changes   TEXT NOT NULL,
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX device_history_device ON device_history (device_id, seq);
CREATE TABLE device_profiles (
    name     TEXT PRIMARY KEY,
    format   TEXT NOT NULL,
    body     TEXT NOT NULL,
    added_at {ts} NOT NULL,
    added_by TEXT NOT NULL
);
CREATE TABLE registry_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO registry_revision (id, revision) VALUES (1, 0);
"""

_AREA = """
ALTER TABLE devices ADD COLUMN area TEXT NOT NULL DEFAULT '';
CREATE INDEX devices_area ON devices (area);
"""

_POSITION = """
ALTER TABLE devices ADD COLUMN lat {real};
ALTER TABLE devices ADD COLUMN lon {real};
UPDATE devices SET lat = {lat}, lon = {lon};
"""

_LANDMARK = """
ALTER TABLE devices ADD COLUMN landmark TEXT NOT NULL DEFAULT '';
UPDATE devices SET landmark = COALESCE({landmark}, '');
"""

MIGRATIONS: list[Migration] = [
    Migration(
        COMPONENT, 1, "devices, groups, tags, history, stored profiles, revision",
        postgresql=_DEVICES.format(ts="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY"),
        sqlite=_DEVICES.format(ts="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT"),
    ),
    # The area a device belongs to (people's areas); '' is the root. Kept beside the document to filter on.
    Migration(
        COMPONENT, 2, "devices.area",
        postgresql=_AREA, sqlite=_AREA,
    ),
    # Where a device stands, beside the document: the console's map reads every device's position in
    # one query of plain columns instead of decoding 100,000 documents.
    Migration(
        COMPONENT, 3, "devices.lat, devices.lon",
        postgresql=_POSITION.format(real="DOUBLE PRECISION",
                                    lat="(doc::jsonb #>> '{location,latitude}')::double precision",
                                    lon="(doc::jsonb #>> '{location,longitude}')::double precision"),
        sqlite=_POSITION.format(real="REAL", lat="json_extract(doc, '$.location.latitude')",
                                lon="json_extract(doc, '$.location.longitude')"),
    ),
    # The landmark beside the document too: the whole fleet's GeoJSON spent half its time (400 of 900 ms
    # for 100,000 devices) parsing every document for it.
    Migration(
        COMPONENT, 4, "devices.landmark",
        postgresql=_LANDMARK.format(landmark="doc::jsonb #>> '{location,landmark}'"),
        sqlite=_LANDMARK.format(landmark="json_extract(doc, '$.location.landmark')"),
    ),
]
