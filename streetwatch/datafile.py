"""Reading a data file an operator writes (a device profile, a lighting schedule): TOML or YAML.

    >>> parse_mapping('name = "night"', ".toml")
    {'name': 'night'}
"""

from __future__ import annotations

import tomllib
from typing import Any

import yaml


class DataFileError(ValueError):
    """The text is not a TOML or YAML mapping; the message says why in one line."""


def parse_mapping(text: str, suffix: str, *, yaml_loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> dict[str, Any]:
    """Parse ``text`` by its file suffix (``.toml``, ``.yaml``, ``.yml``) into a mapping.

    ``yaml_loader`` must be :class:`yaml.SafeLoader` or a subclass: no arbitrary objects.
    """
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.load(text, Loader=yaml_loader)
        else:
            raise DataFileError(f"unknown file type {suffix!r}: use .toml, .yaml or .yml")
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(f"not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        raise DataFileError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError("the file must hold a table/mapping at the top")
    return data
