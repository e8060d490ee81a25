"""A serial line without hardware: a pty pair made by ``socat``, one end for the simulated
devices, the other for whoever polls them (the gateway, ``mbpoll``). The ends are symlinks with
stable names in a temp directory: ``…/client`` and ``…/device``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from simulators.errors import SimulatorError

log = logging.getLogger(__name__)
READY_MARK = b"starting data transfer loop"


class SerialLineError(SimulatorError):
    """socat is missing or could not make the pty pair."""


class SerialLine:
    """``async with SerialLine() as line``: ``line.client_end`` is the path a Modbus master opens."""

    def __init__(self, name: str = "line") -> None:
        self.name = name
        self.client_end = ""
        self.device_end = ""
        self._dir: Path | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SerialLine:
        socat = shutil.which("socat")
        if socat is None:
            raise SerialLineError("socat not found: install it (apt-get install socat) to simulate serial lines")
        self._dir = Path(tempfile.mkdtemp(prefix=f"streetwatch-{self.name}-"))
        self.client_end, self.device_end = str(self._dir / "client"), str(self._dir / "device")
        self._process = await asyncio.create_subprocess_exec(
            socat, "-d", "-d", f"pty,raw,echo=0,link={self.client_end}", f"pty,raw,echo=0,link={self.device_end}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        stderr = self._process.stderr
        assert stderr is not None
        said = b""
        try:
            async with asyncio.timeout(10):
                while READY_MARK not in said:
                    line = await stderr.readline()
                    if not line:
                        raise SerialLineError(f"socat exited without a pty pair: {said.decode(errors='replace')}")
                    said += line
        except TimeoutError:
            await self._close()
            raise SerialLineError("socat did not make a pty pair within 10 s") from None
        except BaseException:
            await self._close()
            raise
        self._drain = asyncio.create_task(self._log_stderr(stderr), name=f"socat-{self.name}")
        return self

    async def _log_stderr(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            log.debug("socat %s: %s", self.name, line.decode(errors="replace").rstrip())

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        if self._drain is not None:
            self._drain.cancel()
            await asyncio.wait([self._drain])
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
