"""``streetwatch bench …`` reaches every benchmark through the root CLI's entry point."""

from __future__ import annotations

import pytest

from gateway.cli import main

BENCHMARKS = ["store", "import", "modbus-drivers", "payload", "rules", "rules-duty", "control", "simulators", "ingest",
              "modbus", "memory", "api"]


def test_bench_group_lists_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--help"]) == 0
    listed = capsys.readouterr().out
    for name in BENCHMARKS:
        assert f"│ {name} " in listed, name


def test_a_script_benchmark_runs_with_its_own_arguments_and_prints_its_baseline(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "payload", "--messages", "2000"]) == 0
    out = capsys.readouterr().out
    assert "2,000 messages of 264 bytes" in out
    assert "(1.00x json)" in out  # the same-run baseline


def test_a_script_benchmark_refuses_an_unknown_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "payload", "--no-such-option"])
    assert exit_info.value.code == 2
    assert "streetwatch bench payload: error: unrecognized arguments: --no-such-option" in capsys.readouterr().err
