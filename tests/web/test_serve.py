"""``streetwatch serve`` as a process: loopback by default, the embedded SQLite default, SIGTERM stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.servers import free_port


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
