"""``streetwatch serve`` as a process: loopback by default, the embedded SQLite default, SIGTERM stops it."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from benchmarks.servers import free_port
from streetwatch.clock import FakeClock
from tests.web.world import api_settings, serving


def test_serve_listens_on_loopback_and_answers_without_credentials_401(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STREETWATCH_DATA_DIR": str(tmp_path / "data")}
    env.pop("STREETWATCH_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)], cwd=tmp_path,
                               env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streetwatch serve did not come up: {process.communicate()[1]}")
                time.sleep(0.2)
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthenticated"
        assert (tmp_path / "data" / "streetwatch.db").exists()  # the embedded default, migrated on start
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    # uvicorn shuts down cleanly, then ends by the signal it got (systemd counts that as a clean stop).
    assert process.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete." in err
    assert f"serving the operator API on http://127.0.0.1:{port}/api/v1" in err
    assert "Traceback" not in err


def test_serve_refuses_half_a_tls_pair(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not really")
    done = subprocess.run([sys.executable, "-m", "gateway", "serve", "--tls-cert", str(cert)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == "streetwatch: error: --tls-cert and --tls-key go together"


def test_a_serving_api_has_frozen_its_objects_and_puts_the_collector_back(tmp_path: Path) -> None:
    original = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # the interpreter's defaults, whatever an earlier test in this process left
    clock = FakeClock(datetime.now(UTC))
    try:
        with serving(api_settings(f"sqlite:///{tmp_path / 'tuned.db'}"), clock) as url:
            assert httpx.get(f"{url}/api/v1/me", timeout=5).status_code == 401
            assert gc.get_threshold() == (50_000, 20, 100)
            assert gc.get_freeze_count() > 10_000  # the application, its routes and models
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0
        with serving(api_settings(f"sqlite:///{tmp_path / 'untuned.db'}", gc_tuning=False), clock) as url:
            assert httpx.get(f"{url}/api/v1/me", timeout=5).status_code == 401
            assert gc.get_threshold() == (700, 10, 10)
            assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*original)
