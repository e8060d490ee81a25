"""Shipped data files plus an installation's own directory: the files of both, a same-named file overriding.

Device profiles, rule files and lighting schedules all work this way (``profiles_dir``, ``rules_dir``,
``schedules_dir`` add to what is shipped); the override is logged, so nobody wonders which file is used.

>>> layered_files(Path("rules/examples"), Path("/etc/streetwatch/rules"), (".yaml",))  # doctest: +SKIP
[PosixPath('/etc/streetwatch/rules/culverts.yaml'), PosixPath('rules/examples/lamps.yaml'), ...]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def files_in(directory: Path, suffixes: Sequence[str]) -> list[Path]:
    """The files of ``directory`` with one of ``suffixes``, sorted by name (none if it is not a directory)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def layered_files(shipped: Path, extra: Path | None, suffixes: Sequence[str]) -> list[Path]:
    """The shipped files and those in ``extra``, by file name; a file in ``extra`` replaces its namesake."""
    by_name = {path.name: path for path in files_in(shipped, suffixes)}
    if extra is not None and extra.resolve() != shipped.resolve():
        for path in files_in(extra, suffixes):
            if path.name in by_name:
                log.info("%s replaces the shipped %s", path, by_name[path.name])
            by_name[path.name] = path
    return [by_name[name] for name in sorted(by_name)]
