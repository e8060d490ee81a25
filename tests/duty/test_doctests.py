"""The examples in the duty package's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["duty.rota", "duty.contacts", "duty.files", "duty.policy", "duty.templates", "duty.ack_links",
           "duty.channels.robots"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
