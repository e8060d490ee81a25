"""The hydrology component's tables: assessment sections and the samples imported for them.

A probe belongs to a section through its device tag ``section=<id>`` (the registry's own tags), so
moving a probe is an ordinary ``device update``; sections themselves live here.
"""

from __future__ import annotations

from streetwatch.migrations import Migration

COMPONENT = "hydrology"

# Sample times are fixed-width ISO-8601 UTC text in both databases, so text order is time order and
# one query serves both.
_V1 = """
CREATE TABLE water_sections (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    river        TEXT NOT NULL,
    area         TEXT NOT NULL DEFAULT '',
    water_body   TEXT NOT NULL CHECK (water_body IN ('river', 'lake')),
    target_class INTEGER CHECK (target_class BETWEEN 1 AND 5),
    created_at   TEXT NOT NULL
);
CREATE INDEX water_sections_area ON water_sections (area);
CREATE TABLE water_samples (
    section_id  TEXT NOT NULL REFERENCES water_sections (id) ON DELETE CASCADE,
    sampled_at  TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    source      TEXT NOT NULL,
    PRIMARY KEY (section_id, sampled_at, metric)
);
"""

# A hazard point: a culvert, underpass or low road, its datum, the depth at which cars must not pass,
# and its own warning levels (depth in mm above its floor); its gauges carry the tag hazard=<id>.
_V2 = """
CREATE TABLE hazard_points (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('culvert', 'underpass', 'low_road')),
    datum_m      DOUBLE PRECISION,
    no_pass_mm   DOUBLE PRECISION NOT NULL CHECK (no_pass_mm > 0),
    levels       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
"""

# Where a hazard point is, in words a duty officer knows ("Zhaojiabang Rd at Tianyaoqiao Rd"): alerts say it.
_V3 = "ALTER TABLE hazard_points ADD COLUMN landmark TEXT NOT NULL DEFAULT '';"

MIGRATIONS: list[Migration] = [
    Migration(COMPONENT, 1, "water sections and imported samples", postgresql=_V1, sqlite=_V1.replace(
        "DOUBLE PRECISION", "REAL")),
    Migration(COMPONENT, 2, "hazard points", postgresql=_V2, sqlite=_V2.replace("DOUBLE PRECISION", "REAL")),
    Migration(COMPONENT, 3, "hazard points' landmarks", postgresql=_V3, sqlite=_V3),
]
