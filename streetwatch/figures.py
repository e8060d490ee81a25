"""Numbers as a person should see them: no binary artefacts, no exponents, whole numbers whole.

``412 * 0.001`` is ``0.41200000000000003`` in binary floating point; a register with scale 0.001
holds thousandths, so its value is rounded to three decimals where it is decoded
(:func:`decimals_of`, :func:`to_resolution`). What is printed or exported goes through
:func:`tidy`: an ``int`` when the value is whole (a clock, an energy counter), else the shortest
float that prints the same, never ``%g``'s ``1.76723e+09``.

>>> decimals_of(0.001), decimals_of(0.1, offset=-40), decimals_of(1.0), decimals_of(0.25)
(3, 1, 0, 2)
>>> to_resolution(412 * 0.001, 3)
0.412
>>> tidy(1767225600.0), tidy(1234567.0), tidy(0.1 + 0.2), tidy(-3.5)
(1767225600, 1234567, 0.3, -3.5)
>>> show(1767225600.0), show(1234567.8), show(None)
('1767225600', '1234567.8', '')
"""

from __future__ import annotations

import math
from decimal import Decimal

MAX_DECIMALS = 12
_SIGNIFICANT = 15  # what a double holds reliably
_WHOLE_LIMIT = 2**53  # beyond it a float is not an exact integer any more


def _places(number: float) -> int:
    if not math.isfinite(number) or number == int(number):
        return 0
    exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    return min(MAX_DECIMALS, -exponent) if isinstance(exponent, int) and exponent < 0 else 0


def decimals_of(scale: float, offset: float = 0.0) -> int:
    """Decimal places of ``raw * scale + offset`` for an integer ``raw``: the resolution a register has."""
    return max(_places(scale), _places(offset))


def to_resolution(value: float, decimals: int) -> float:
    """``value`` rounded to ``decimals`` places (a float's artefacts beyond its resolution removed)."""
    return round(value, decimals) if math.isfinite(value) else value


def tidy(value: float | int) -> float | int:
    """The number to output: whole values as ``int``, others without digits beyond a double's precision."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("tidy() takes a number")
    if not math.isfinite(value):
        return value
    if value == int(value) and abs(value) < _WHOLE_LIMIT:
        return int(value)
    return float(f"{value:.{_SIGNIFICANT}g}")


def show(value: float | int | None) -> str:
    """A number as text for a table or a message: full precision, no exponent for everyday magnitudes."""
    if value is None:
        return ""
    return str(tidy(value))
