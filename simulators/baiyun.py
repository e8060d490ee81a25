"""Where simulated devices stand: streets, culverts and rivers of Baiyun district, Guangzhou.

Coordinates are approximate (WGS84, inside 23.16–23.30° N, 113.20–113.35° E): good enough to put
devices on a map and to find the lamps near a culvert, not for navigation.

Lamps stand along streets about 35 m apart; once a street is full, further lamps go on parallel
side streets 80 m away. Culvert gauges stand where a street crosses a creek or dips under a
railway; water-quality probes hang in the rivers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LAT_RANGE = (23.16, 23.30)
LON_RANGE = (113.20, 113.35)
METRES_PER_DEGREE_LAT = 110_900.0
LAMP_SPACING_M = 35.0
SIDE_STREET_OFFSET_M = 80.0


@dataclass(frozen=True, slots=True)
class Street:
    name: str
    slug: str
    site: str  # the subdistrict (街道) it runs through
    start: tuple[float, float]  # (lat, lon)
    end: tuple[float, float]
    culvert: str  # the flood hazard point on this street

    @property
    def length_m(self) -> float:
        return distance_m(self.start, self.end)


@dataclass(frozen=True, slots=True)
class River:
    name: str
    slug: str
    site: str
    at: tuple[float, float]


STREETS: tuple[Street, ...] = (
    Street("Jichang Road", "jichang-rd", "Sanyuanli", (23.160, 113.258), (23.195, 113.262),
           "Jichang Road rail underpass"),
    Street("Baiyun Avenue North", "baiyun-ave-n", "Jingxi", (23.180, 113.285), (23.235, 113.300),
           "Baiyun Avenue North culvert at Jingxi Creek"),
    Street("Tonghe Road", "tonghe-rd", "Tonghe", (23.195, 113.315), (23.215, 113.330), "Tonghe Road tunnel"),
    Street("Huangshi East Road", "huangshi-e-rd", "Huangshi", (23.205, 113.265), (23.210, 113.295),
           "Huangshi East Road underpass"),
    Street("Jiahe Road", "jiahe-rd", "Jiahe", (23.225, 113.270), (23.250, 113.280), "Jiahe Creek culvert"),
    Street("Shijing Avenue", "shijing-ave", "Shijing", (23.195, 113.215), (23.225, 113.225),
           "Shijing River culvert"),
    Street("Xinshi Road", "xinshi-rd", "Xinshi", (23.180, 113.255), (23.190, 113.275), "Xinshi Creek culvert"),
    Street("Songzhou Road", "songzhou-rd", "Songzhou", (23.165, 113.235), (23.180, 113.245),
           "Songzhou rail underpass"),
    Street("Helong Road", "helong-rd", "Helong", (23.250, 113.290), (23.275, 113.300), "Helong Road culvert"),
    Street("Junhe Avenue", "junhe-ave", "Junhe", (23.235, 113.245), (23.260, 113.255), "Junhe Avenue underpass"),
    Street("Yongping Avenue", "yongping-ave", "Yongping", (23.215, 113.315), (23.240, 113.325),
           "Yongping culvert at Tonghe Creek"),
    Street("Jingtai Road", "jingtai-rd", "Jingtai", (23.168, 113.268), (23.178, 113.280), "Jingtai Road underpass"),
)

RIVERS: tuple[River, ...] = (
    River("Shijing River at Shijing Bridge", "shijing-river", "Shijing", (23.205, 113.228)),
    River("Xinshi Creek", "xinshi-creek", "Xinshi", (23.186, 113.262)),
    River("Baiyun Lake outlet", "baiyun-lake", "Shijing", (23.236, 113.236)),
    River("Jiahe Creek", "jiahe-creek", "Jiahe", (23.238, 113.283)),
    River("Jingxi Creek", "jingxi-creek", "Jingxi", (23.205, 113.292)),
    River("Tonghe Creek", "tonghe-creek", "Tonghe", (23.212, 113.318)),
)


def metres_per_degree_lon(lat: float) -> float:
    return METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance on the ground (equirectangular: fine over a district)."""
    mid = (a[0] + b[0]) / 2
    dy = (b[0] - a[0]) * METRES_PER_DEGREE_LAT
    dx = (b[1] - a[1]) * metres_per_degree_lon(mid)
    return math.hypot(dx, dy)


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def point_along(street: Street, along_m: float, side_m: float = 0.0) -> tuple[float, float]:
    """The point ``along_m`` from the street's start, ``side_m`` to its left (rounded to ~1 m)."""
    length = street.length_m
    f = along_m / length
    lat = street.start[0] + (street.end[0] - street.start[0]) * f
    lon = street.start[1] + (street.end[1] - street.start[1]) * f
    if side_m:
        # Unit normal (to the left of the direction of travel), in metres, back to degrees.
        dy = (street.end[0] - street.start[0]) * METRES_PER_DEGREE_LAT / length
        dx = (street.end[1] - street.start[1]) * metres_per_degree_lon(lat) / length
        lat += dx * side_m / METRES_PER_DEGREE_LAT
        lon -= dy * side_m / metres_per_degree_lon(lat)
    return round(_clamp(lat, LAT_RANGE), 6), round(_clamp(lon, LON_RANGE), 6)


def lamps_per_row(street: Street) -> int:
    return max(int(street.length_m // LAMP_SPACING_M), 1)


def lamp_position(street: Street, index_on_street: int) -> tuple[tuple[float, float], int]:
    """Where the street's n-th lamp stands, and which row (0: the street, k: its k-th side street)."""
    row, slot = divmod(index_on_street, lamps_per_row(street))
    # Side streets alternate left and right of the main street: 1 → +80 m, 2 → −80 m, 3 → +160 m …
    side = (row + 1) // 2 * SIDE_STREET_OFFSET_M * (1 if row % 2 else -1)
    return point_along(street, (slot + 0.5) * LAMP_SPACING_M, side), row
