"""``streetwatch bench rules-duty``, a short run: every phase measures probes from arrival to their first SMS."""

from __future__ import annotations

import re

import pytest

from gateway.cli import main

pytestmark = pytest.mark.services


def test_a_short_run_prints_each_phase_beside_the_one_without_escalation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "rules-duty", "--seconds", "3", "--baseline-seconds", "2", "--rate", "2000",
                 "--escalating", "50", "--step-wait", "2", "--probes-per-s", "4", "--lamps", "100",
                 "--gauges", "20", "--probes", "5"]) == 0
    out = capsys.readouterr().out
    phases = re.findall(r"^(.+): achieved ([\d,]+) readings/s(.*)$", out, re.MULTILINE)
    assert [label for label, _rate, _extra in phases] == [
        "no background load, no escalation", "2,000 readings/s, no other escalation",
        "2,000 readings/s, 50 open alerts escalating"]
    steps = re.search(r"; ([\d,]+) escalation steps/s, ([\d,]+) SMS/s handed", phases[2][2])
    assert steps is not None and int(steps.group(1).replace(",", "")) >= 10  # 50 alerts, a step every 2 s
    samples = re.findall(r"arrival → first SMS handed to its channel: +n= *(\d+) +p50", out)
    assert len(samples) == 3 and all(int(n) >= 3 for n in samples), out
