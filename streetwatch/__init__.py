"""Streetwatch core: what every package shares (configuration, database access, clock, CLI support).

Nothing here imports the other packages; they all import from here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streetwatch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
