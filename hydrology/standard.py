"""The surface-water standard as data: GB 3838-2002's basic items and their class limits.

The limits live in ``gb3838.toml`` beside this module (one table file, checked by the tests
against the standard); this module reads and validates it.

>>> standard = load_standard()
>>> standard.parameter("ammonia_nitrogen_mg_l").limits_for("river")
(0.15, 0.5, 1.0, 1.5, 2.0)
>>> standard.parameter("total_phosphorus_mg_l").limits_for("lake")
(0.01, 0.025, 0.05, 0.1, 0.2)
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hydrology.errors import StandardError

GB3838_PATH = Path(__file__).parent / "gb3838.toml"
WaterBody = Literal["river", "lake"]
WATER_BODIES: tuple[WaterBody, ...] = ("river", "lake")


class WaterClass(IntEnum):
    """A surface-water class; ``WORSE_THAN_V`` is "劣V" in Chinese reports."""

    I = 1  # noqa: E741 (the standard's own name)
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @property
    def label(self) -> str:
        """``I`` … ``V``, ``劣V``."""
        return "劣V" if self is WaterClass.WORSE_THAN_V else self.name

    @classmethod
    def parse(cls, text: str) -> WaterClass:
        """From ``III``, ``3``, ``劣V`` or ``worse-than-V``; raises ValueError."""
        cleaned = text.strip().upper().replace("Ⅰ", "I").replace("Ⅱ", "II").replace("Ⅲ", "III")
        cleaned = cleaned.replace("Ⅳ", "IV").replace("Ⅴ", "V")
        if cleaned in {"劣V", "WORSE-THAN-V", "WORSE_THAN_V", "6"}:
            return cls.WORSE_THAN_V
        by_number = {str(c.value): c for c in cls if c is not cls.WORSE_THAN_V}
        if cleaned in by_number:
            return by_number[cleaned]
        if cleaned in cls.__members__ and cleaned != "WORSE_THAN_V":
            return cls[cleaned]
        raise ValueError(f"unknown water class {text!r}; one of I, II, III, IV, V")


class _ParameterFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    unit: str
    kind: Literal["max", "min", "range"]
    limits: tuple[float, float, float, float, float] | None = None
    lake: tuple[float, float, float, float, float] | None = None
    low: float | None = None
    high: float | None = None
    saturation_class_i: float | None = Field(None, gt=0, le=1)
    water_bodies: tuple[WaterBody, ...] = WATER_BODIES
    exceedance: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> _ParameterFile:
        if self.kind == "range":
            if self.low is None or self.high is None or self.low >= self.high:
                raise ValueError("a range item needs low < high")
            return self
        for field_name, limits in (("limits", self.limits), ("lake", self.lake)):
            if limits is None:
                continue
            pairs = list(itertools.pairwise(limits))
            loosening = all(a <= b for a, b in pairs) if self.kind == "max" else all(a >= b for a, b in pairs)
            if not loosening:
                raise ValueError(f"{field_name}: limits must loosen from class I to V")
        if self.limits is None:
            raise ValueError("limits for classes I..V are required")
        return self


class _StandardFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    standard: str
    parameters: tuple[_ParameterFile, ...]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One item of the standard: how its value is judged against classes I..V."""

    metric: str
    name: str
    unit: str
    kind: Literal["max", "min", "range"]
    limits: tuple[float, ...] = ()
    lake_limits: tuple[float, ...] | None = None
    low: float = 0.0
    high: float = 0.0
    saturation_class_i: float | None = None
    water_bodies: tuple[WaterBody, ...] = WATER_BODIES
    exceedance: bool = True

    def applies_to(self, water_body: WaterBody) -> bool:
        return water_body in self.water_bodies

    def limits_for(self, water_body: WaterBody) -> tuple[float, ...]:
        """The class I..V limits in a river or a lake/reservoir (empty for a range item)."""
        if water_body == "lake" and self.lake_limits is not None:
            return self.lake_limits
        return self.limits


@dataclass(frozen=True, slots=True)
class Standard:
    name: str
    parameters: tuple[Parameter, ...]

    def parameter(self, metric: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.metric == metric:
                return parameter
        raise KeyError(metric)

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(p.metric for p in self.parameters)


def parse_standard(text: str, source: str = "<standard>") -> Standard:
    """A standard from the TOML text of a limits table; raises :class:`StandardError`."""
    try:
        raw = _StandardFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise StandardError(f"{source}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise StandardError(f"{source}: {where}: {str(first['msg']).removeprefix('Value error, ')}") from None
    metrics = [p.metric for p in raw.parameters]
    duplicated = sorted({m for m in metrics if metrics.count(m) > 1})
    if duplicated:
        raise StandardError(f"{source}: parameters: {', '.join(duplicated)} listed twice")
    return Standard(raw.standard, tuple(
        Parameter(p.metric, p.name, p.unit, p.kind, p.limits or (), p.lake, p.low or 0.0, p.high or 0.0,
                  p.saturation_class_i, p.water_bodies, p.exceedance)
        for p in raw.parameters))


@cache
def load_standard(path: Path = GB3838_PATH) -> Standard:
    """The limits table at ``path`` (by default the shipped GB 3838-2002 table)."""
    return parse_standard(path.read_text(encoding="utf-8"), str(path))
