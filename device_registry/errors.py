"""The registry's one exception hierarchy; the CLI turns each into one line naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RegistryError(Exception):
    """Something the registry refused; the message is one line a user can act on."""


class DeviceNotFound(RegistryError):
    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        super().__init__(f"id: no device {device_id!r} is registered")


class DuplicateDevice(RegistryError):
    def __init__(self, device_id: str, status: str) -> None:
        self.device_id = device_id
        note = " (retired; its id stays taken so its data stays its own)" if status == "retired" else ""
        super().__init__(f"id: device {device_id!r} is already registered{note}")


class UnknownProfile(RegistryError):
    def __init__(self, name: str, known: Sequence[str], problems: Sequence[str] = ()) -> None:
        self.name = name
        if problems:
            message = f"profile: {name!r} is invalid: " + "; ".join(problems)
        else:
            message = f"profile: unknown profile {name!r} (known: {', '.join(sorted(known)) or 'none'})"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """What is wrong with one field: ``lat: Input should be less than or equal to 90``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidDevice(RegistryError):
    """A device's fields are wrong; ``problems`` names every field at fault."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, field: str, message: str) -> InvalidDevice:
        return cls([FieldProblem(field, message)])


class StatusChangeRefused(InvalidDevice):
    def __init__(self, current: str, wanted: str, hint: str = "") -> None:
        super().__init__([FieldProblem("status", f"{current} → {wanted} is not allowed{hint}")])


class UnknownTarget(RegistryError):
    """A selector (``group:riverside``) matched no device, or is not a selector at all."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad row of an import: ``line 7: lat: Input should be less than or equal to 90``."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class ImportRejected(RegistryError):
    """Some rows are bad and ``skip_invalid`` was not given: nothing was imported."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        lines = {p.line for p in self.problems}
        super().__init__(f"{len(lines)} bad row(s), nothing imported (use --skip-invalid to import the good rows)")


class ProfileRejected(RegistryError):
    """A profile file to add has problems; ``problems`` lists each with its location."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))
