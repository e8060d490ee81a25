"""The named schedules an installation uses: the shipped ones and the files in ``schedules_dir``.

``schedules_dir`` adds to the shipped schedules; a file there with the name of a shipped file
(``night.yaml``) replaces it, and says so in the log. A bad file does not hide the good ones: its
problems are kept in :attr:`ScheduleLibrary.problems` and shown by ``streetwatch schedule validate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from control.errors import ScheduleError, UnknownSchedule
from control.schedule import Schedule, check_schedule, read_schedule_data
from streetwatch.layered import layered_files

SHIPPED_SCHEDULES_DIR = Path(__file__).parent / "schedules"
SCHEDULE_SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass
class ScheduleLibrary:
    """Schedules by name, read from the shipped directory and ``directory`` (the extra one, if any)."""

    directory: Path
    schedules: dict[str, Schedule] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> ScheduleLibrary:
        """Read the shipped schedule files and those in ``directory`` (``schedules_dir``)."""
        library = cls(directory or SHIPPED_SCHEDULES_DIR)
        if not library.directory.is_dir():
            raise ScheduleError(str(library.directory), ["the schedules directory does not exist"])
        for path in layered_files(SHIPPED_SCHEDULES_DIR, directory, SCHEDULE_SUFFIXES):
            library._add(path)
        return library

    def _add(self, path: Path) -> None:
        try:
            data = read_schedule_data(path)
        except ScheduleError as exc:
            self.problems[str(path)] = exc.problems
            return
        schedule, problems = check_schedule(data, default_name=path.stem)
        if schedule is None:
            self.problems[str(path)] = problems
            return
        if schedule.name in self.schedules:
            self.problems[str(path)] = [f"name: {schedule.name!r} is already defined in {self.files[schedule.name]}"]
            return
        self.schedules[schedule.name] = schedule
        self.files[schedule.name] = path

    def get(self, name: str) -> Schedule:
        try:
            return self.schedules[name]
        except KeyError:
            known = ", ".join(sorted(self.schedules)) or "none"
            broken = [p for p in self.problems if Path(p).stem == name]
            hint = f" ({broken[0]} has problems: run 'streetwatch schedule validate')" if broken else ""
            where = SHIPPED_SCHEDULES_DIR if self.directory == SHIPPED_SCHEDULES_DIR else \
                f"{SHIPPED_SCHEDULES_DIR} or {self.directory}"
            raise UnknownSchedule(f"no schedule named {name!r} in {where}{hint}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self.schedules)
