"""The ordered severity scale: by default ``blue < yellow < orange < red``.

The four colours of the Chinese flood and weather warning scale; a rules directory may name its
own levels (``severities: [minor, major, critical]``). Inside the engine a severity is a rank:
0 is normal, 1 the lowest severity, ``len(scale)`` the highest.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SEVERITIES = ("blue", "yellow", "orange", "red")
NORMAL = 0


@dataclass(frozen=True, slots=True)
class SeverityScale:
    """Severity names, lowest first.

    >>> scale = SeverityScale()
    >>> scale.rank("orange"), scale.name(4)
    (3, 'red')
    """

    names: tuple[str, ...] = DEFAULT_SEVERITIES

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("a severity scale needs at least one level")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"severity names repeat: {', '.join(self.names)}")

    @property
    def top(self) -> int:
        return len(self.names)

    def rank(self, name: str) -> int:
        """1 for the lowest severity … ``top`` for the highest; ValueError for an unknown name."""
        try:
            return self.names.index(name) + 1
        except ValueError:
            raise ValueError(f"unknown severity {name!r}; the scale is {' < '.join(self.names)}") from None

    def name(self, rank: int) -> str:
        if not 1 <= rank <= self.top:
            raise ValueError(f"no severity of rank {rank}")
        return self.names[rank - 1]

    def knows(self, name: str) -> bool:
        return name in self.names

    def at_least(self, name: str) -> tuple[str, ...]:
        """The names of ``name`` and every severity above it."""
        return self.names[self.rank(name) - 1 :]
