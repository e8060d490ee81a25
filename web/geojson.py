"""Devices as a GeoJSON FeatureCollection, written by the database itself.

Fetching 100,000 rows into Python objects, building a dict per feature and encoding them took seconds;
the database writes the same text in one value (``json_build_object``/``json_agg`` on PostgreSQL,
``json_object``/``json_group_array`` on SQLite) from the registry's plain columns (position, kind,
status, area, site, landmark), never from the stored documents.
"""

from __future__ import annotations

from device_registry import DeviceFilter
from people import ROOT_AREA
from streetwatch.database import Database

_POSTGRESQL = """
SELECT json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(json_build_object(
    'type', 'Feature', 'id', d.id,
    'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array(d.lon, d.lat)),
    'properties', json_build_object('kind', d.kind, 'status', d.status, 'area', COALESCE(NULLIF(d.area, ''), ?),
                                    'site', d.site,
                                    'landmark', d.landmark)
) ORDER BY d.id), '[]'::json))::text AS body
FROM devices d WHERE {condition}
"""

_SQLITE = """
SELECT json_object('type', 'FeatureCollection', 'features', json(COALESCE(json_group_array(json(f.feature)), '[]')))
       AS body
FROM (SELECT json_object(
    'type', 'Feature', 'id', d.id,
    'geometry', json_object('type', 'Point', 'coordinates', json_array(d.lon, d.lat)),
    'properties', json_object('kind', d.kind, 'status', d.status, 'area', COALESCE(NULLIF(d.area, ''), ?),
                              'site', d.site,
                              'landmark', d.landmark)
) AS feature FROM devices d WHERE {condition} ORDER BY d.id) AS f
"""


async def feature_collection(db: Database, where: DeviceFilter) -> bytes:
    """The devices ``where`` selects, by id, as GeoJSON text (UTF-8)."""
    condition, params = where.where()
    template = _POSTGRESQL if db.backend == "postgresql" else _SQLITE
    body = await db.fetch_value(template.format(condition=condition), [ROOT_AREA, *params])
    return str(body).encode()
