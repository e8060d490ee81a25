"""`streetwatch demo` tells its story end to end, as a newcomer runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.timeout(400)
def test_demo_storm_raises_lights_and_clears(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETWATCH_")}
    # A shorter storm than the default one, so the whole story fits in two minutes.
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--duration", "150", "--lamps", "60", "--gauges", "4",
         "--probes", "1", "--rain", "5s+40s@110mm/h"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=380, check=False,
    )
    out = result.stdout
    assert "summary:" in out, result.stderr[-3000:]
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in out.splitlines()
             if line.startswith("  ") and ":" in line}
    stored = int(lines["readings stored"].replace(",", ""))
    assert stored > 1000
    raised = dict(part.strip().split(" ", 1) for part in lines["flood alerts raised"].split("(")[0].split(","))
    assert all(int(raised[s]) >= 1 for s in ("yellow", "orange", "red")), out
    assert "still open 0" in lines["flood alerts raised"], out
    assert int(lines["commands"].split("from flood rules")[0].split(",")[-1].split()[0]) >= 1, out
    assert result.returncode == 0, out + result.stderr[-2000:]
    assert "the story happened" in out
    assert (tmp_path / ".streetwatch" / "demo" / "streetwatch.db").exists()
