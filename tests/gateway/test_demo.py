"""`streetwatch demo` tells its story end to end, as a newcomer runs it: a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

CONSOLE_LINE = re.compile(r"operator console: (?P<url>http://127\.0\.0\.1:\d+/)\s+log in as 'demo' "
                          r"with password '(?P<password>[^']+)'")
DEVICES = 60 + 4 + 1  # the lamps, gauges and probes asked for below


def console_answers(url: str, password: str) -> None:
    """The printed login works and the map holds every device of the demo."""
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/login").status_code == 200
        assert client.post("/api/v1/session", json={"user": "demo", "password": "wrong password"}).status_code == 401
        assert client.post("/api/v1/session", json={"user": "demo", "password": password}).status_code == 200
        me = client.get("/api/v1/me").json()
        assert me["user"] == "demo"
        assert [(g["role"], g["area"]) for g in me["grants"]] == [("operator", "root")]
        page = client.get("/")
        assert page.status_code == 200 and 'id="map"' in page.text
        world = client.get("/api/v1/map").json()
        assert world["count"] == DEVICES
        assert sum(i.startswith("LP-") for i in world["ids"]) == 60


@pytest.mark.timeout(400)
def test_demo_storm_raises_lights_and_clears(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETWATCH_")}
    # A shorter storm than the default one, so the whole story fits in two minutes.
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--duration", "150", "--lamps", "60", "--gauges", "4",
         "--probes", "1", "--rain", "5s+40s@110mm/h"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            found = CONSOLE_LINE.search(line)
            if found:
                console_answers(found["url"], found["password"])  # while the demo runs
                break
        seen += process.stdout.readlines()
        _, err = process.communicate(timeout=380)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    out = "".join(seen)
    assert CONSOLE_LINE.search(out), out + err[-3000:]
    assert "summary:" in out, err[-3000:]
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in out.splitlines()
             if line.startswith("  ") and ":" in line}
    stored = int(lines["readings stored"].replace(",", ""))
    assert stored > 1000
    raised = dict(part.strip().split(" ", 1) for part in lines["flood alerts raised"].split("(")[0].split(","))
    assert all(int(raised[s]) >= 1 for s in ("yellow", "orange", "red")), out
    assert "still open 0" in lines["flood alerts raised"], out
    assert int(lines["commands"].split("from flood rules")[0].split(",")[-1].split()[0]) >= 1, out
    assert process.returncode == 0, out + err[-2000:]
    assert "the story happened" in out
    assert (tmp_path / ".streetwatch" / "demo" / "streetwatch.db").exists()
