"""What the benchmarks read about processes on Linux: CPU time and memory from ``/proc``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def test_servers() -> tuple[type[Any], type[Any]]:
    """The throwaway PostgreSQL and Mosquitto of the test harness (:mod:`benchmarks.servers`)."""
    from benchmarks.servers import MosquittoServer, PostgresServer

    return PostgresServer, MosquittoServer


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process (its finished children included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / _TICKS


def children_of(pid: int) -> list[int]:
    """Live child processes (one level): a PostgreSQL server's backends."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MB."""
    now = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return now, peak


class ProcessCpu:
    """CPU seconds used by groups of processes from now on."""

    def __init__(self, groups: dict[str, list[int]], include: Callable[[int], list[int]] | None = children_of) -> None:
        self.groups = groups
        self.include = include
        self._start = {name: self._total(pids, include) for name, pids in groups.items()}

    @staticmethod
    def _total(pids: Iterable[int], include: Callable[[int], list[int]] | None) -> float:
        total = 0.0
        for pid in pids:
            total += cpu_seconds(pid)
            if include is not None:
                total += sum(cpu_seconds(child) for child in include(pid))
        return total

    def seconds(self) -> dict[str, float]:
        return {name: self._total(pids, self.include) - self._start[name] for name, pids in self.groups.items()}


@contextmanager
def throwaway_database(name: str, database_url: str | None = None) -> Iterator[str]:
    """``database_url`` when given, else a database ``name`` in a throwaway durable TimescaleDB (closed after)."""
    if database_url is not None:
        yield database_url
        return
    server = durable_postgres()
    server.start()
    try:
        yield server.create_database(name)
    finally:
        server.close()


def durable_postgres() -> Any:
    """The test harness's throwaway PostgreSQL + TimescaleDB, but durable as in production: ``fsync``,
    ``full_page_writes`` and ``synchronous_commit`` on (the harness turns them off for speed)."""
    import subprocess
    import time

    postgres_server, _ = test_servers()

    class DurablePostgres(postgres_server):  # type: ignore[misc, valid-type]
        def start(self) -> None:
            log = self.log_file.open("ab")
            self._process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.socket_dir}",
                 "-c", "shared_preload_libraries=timescaledb", "-c", "timescaledb.telemetry_level=off",
                 "-c", "max_connections=200", "-c", "shared_buffers=256MB"],
                stdout=log, stderr=subprocess.STDOUT, user=self.uid, group=self.gid)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                ready = subprocess.run([str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                       capture_output=True, check=False)
                if ready.returncode == 0:
                    return
                time.sleep(0.1)
            raise TimeoutError("postgres did not become ready")

    return DurablePostgres()
