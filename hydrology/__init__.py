"""Water intelligence: surface-water classes by GB 3838-2002, rivers and their assessment sections.

docs/water-quality.md describes the classes, the sections and the ``streetwatch water`` commands.
"""

from hydrology.classify import Classification, ParameterResult, classify
from hydrology.errors import HydrologyError, StandardError
from hydrology.hazards import HazardPoint, HazardStore, watched_by
from hydrology.migrations import MIGRATIONS
from hydrology.report import DailyReports
from hydrology.sections import Section, SectionError, SectionStore
from hydrology.standard import Standard, WaterClass, load_standard

__all__ = [
    "MIGRATIONS",
    "Classification",
    "DailyReports",
    "HazardPoint",
    "HazardStore",
    "HydrologyError",
    "ParameterResult",
    "Section",
    "SectionError",
    "SectionStore",
    "Standard",
    "StandardError",
    "WaterClass",
    "classify",
    "load_standard",
    "watched_by",
]
