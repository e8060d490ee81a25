"""The examples in the gateway's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["gateway.logs"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
