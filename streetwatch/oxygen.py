"""Dissolved oxygen at saturation: the simulators' river model and the water-quality classes both need it."""

from __future__ import annotations

import math


def oxygen_saturation_mg_l(temperature_c: float) -> float:
    """Dissolved oxygen at saturation in fresh water at sea level (Benson & Krause 1984, as in APHA 4500-O).

    >>> round(oxygen_saturation_mg_l(20.0), 2)
    9.09
    """
    k = temperature_c + 273.15
    return math.exp(-139.34411 + 1.575701e5 / k - 6.642308e7 / k**2 + 1.243800e10 / k**3 - 8.621949e11 / k**4)
