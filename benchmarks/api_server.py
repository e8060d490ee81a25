"""``streetwatch serve`` as its own process for the API benchmark, on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.servers import free_port


@contextmanager
def serving(database_url: str, *, log_path: str | None = None, **settings: str) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of a ``streetwatch serve`` on the database while the block runs; its log goes to ``log_path``.

    ``settings`` are more environment variables (``STREETWATCH_API__EVENTS_POLL_S="0.2"``); rate limits are
    lifted and cookies allowed over plain HTTP, as a measurement over loopback needs.
    """
    port = free_port()
    env = {**os.environ, "STREETWATCH_DATABASE_URL": database_url, "STREETWATCH_API__COOKIE_SECURE": "false",
           "STREETWATCH_API__REQUESTS_PER_MINUTE": "1000000", "STREETWATCH_LOG_LEVEL": "WARNING", **settings}
    log_file = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="bench-api-serve-", suffix=".log")[1])
    with log_file.open("w") as log:
        process = subprocess.Popen([str(Path(sys.executable).with_name("streetwatch")), "serve", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streetwatch serve did not start:\n{log_file.read_text()}")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
