"""A started gateway tunes the garbage collector (freeze, thresholds) and puts it back when it stops."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from gateway.composition.runtime import Gateway, RunOptions, running
from streetwatch.config import ConfigError, load_settings
from tests.gateway.conftest import gateway_settings

INTAKE_OFF = RunOptions(mqtt=False, modbus=False, maintenance=False)


async def test_a_running_gateway_has_frozen_its_objects_and_raised_the_thresholds(tmp_path: Path) -> None:
    original = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # the interpreter's defaults, whatever an earlier test in this process left
    before = gc.get_threshold()
    try:
        await _tuned_while_running(tmp_path, before)
    finally:
        gc.set_threshold(*original)


async def _tuned_while_running(tmp_path: Path, before: tuple[int, int, int]) -> None:
    settings = gateway_settings(tmp_path, f"sqlite:///{tmp_path / 'sw.db'}")
    gateway = Gateway(settings, options=INTAKE_OFF)
    async with running(gateway):
        assert gc.get_threshold() == (50_000, 20, 100)
        assert gateway.gc_thresholds == (50_000, 20, 100)
        assert gc.get_freeze_count() > 10_000  # the modules, settings, directory: everything loaded by now
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert gateway.gc_thresholds is None


async def test_thresholds_come_from_the_settings_and_tuning_can_be_turned_off(tmp_path: Path) -> None:
    before = gc.get_threshold()
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    custom = Gateway(gateway_settings(tmp_path, url, gc_thresholds=(20_000, 10, 10)), options=INTAKE_OFF)
    async with running(custom):
        assert gc.get_threshold() == (20_000, 10, 10)
    untuned = Gateway(gateway_settings(tmp_path, url, gc_tuning=False), options=INTAKE_OFF)
    async with running(untuned):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
        assert untuned.gc_thresholds is None


def test_the_setting_is_read_from_the_environment_and_checked(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings().gateway.gc_tuning is True
    monkeypatch.setenv("STREETWATCH_GATEWAY__GC_TUNING", "false")
    assert load_settings().gateway.gc_tuning is False
    monkeypatch.setenv("STREETWATCH_GATEWAY__GC_THRESHOLDS", "[0, 10, 10]")
    with pytest.raises(ConfigError, match=r"GC_THRESHOLDS \(environment\): the first threshold"):
        load_settings()
