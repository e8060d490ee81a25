"""Alert notifications POSTed to webhooks, signed, retried with backoff, one worker per webhook.

Each request carries ``X-Streetwatch-Timestamp`` (Unix seconds, when this attempt was signed),
``X-Streetwatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`` and an
``X-Streetwatch-Delivery`` id that stays the same across retries. The timestamp is inside the
signed material, so a receiver that refuses requests older than a few minutes and remembers the
delivery ids of that window cannot be fooled by a captured request played again. 2xx is
delivered; 408, 429, 5xx and network errors are retried (each attempt signed anew); other 4xx
answers are final.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from types import TracebackType

import httpx

from streetwatch import __version__
from streetwatch.backoff import Backoff
from streetwatch.clock import Clock, SystemClock
from streetwatch.config import WebhookSettings
from streetwatch.figures import show
from streetwatch.redact import redact_url

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Streetwatch-Signature"
TIMESTAMP_HEADER = "X-Streetwatch-Timestamp"
DELIVERY_HEADER = "X-Streetwatch-Delivery"
EVENT_HEADER = "X-Streetwatch-Event"
_RETRY_STATUS = frozenset({408, 425, 429})


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256, under ``secret``, of the
    timestamp in decimal, a dot, and the exact body.

    >>> signature("s3cret", 1796554649, b'{"a":1}')
    'sha256=4e632210d66bdd8e9ecb04c4ec5542f7f4b8e19cf9280cac22d4335a394bd2ed'
    """
    return "sha256=" + hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class _Delivery:
    body: bytes
    event: str
    delivery_id: str


class WebhookSender:
    """``async with WebhookSender(settings) as hook: hook.send(body, event)``; delivered in the background."""

    def __init__(self, settings: WebhookSettings, *, queue_size: int = 10_000, drain_timeout_s: float = 5.0,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._queue: asyncio.Queue[_Delivery | None] = asyncio.Queue(queue_size)
        self._drain_timeout_s = drain_timeout_s
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0
        self.retries = 0
        self.dropped = 0

    def wants(self, severity: str, site: str) -> bool:
        """Whether this webhook's route takes an alert of ``severity`` at ``site``."""
        if self.settings.severities and severity not in self.settings.severities:
            return False
        return not self.settings.sites or any(fnmatch.fnmatchcase(site, p) for p in self.settings.sites)

    def send(self, body: bytes, event: str) -> None:
        """Queue one notification (dropped, and counted, if the queue is full)."""
        try:
            self._queue.put_nowait(_Delivery(body, event, uuid.uuid4().hex))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("webhook %s: queue full, notification dropped", redact_url(self.settings.url))

    async def __aenter__(self) -> WebhookSender:
        self._client = httpx.AsyncClient(timeout=self.settings.timeout_s,
                                         headers={"User-Agent": f"streetwatch/{__version__}"})
        self._task = asyncio.create_task(self._run(), name=f"webhook {self.settings.url}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._queue.put_nowait(None)
            done, _ = await asyncio.wait([task], timeout=self._drain_timeout_s)
            if not done:  # a receiver that is down must not hold up shutdown for its whole backoff
                task.cancel()
                await asyncio.wait([task])
                log.warning("webhook %s: %d notification(s) not delivered at shutdown", redact_url(self.settings.url),
                            self._queue.qsize())
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.get()
            try:
                if delivery is None:
                    return
                await self._deliver(delivery)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        """Wait until everything queued so far is delivered or given up."""
        await self._queue.join()

    async def _deliver(self, delivery: _Delivery) -> None:
        assert self._client is not None
        settings = self.settings
        headers = {"Content-Type": "application/json", EVENT_HEADER: delivery.event,
                   DELIVERY_HEADER: delivery.delivery_id}
        secret = settings.secret.get_secret_value()
        backoff = Backoff(initial_s=settings.backoff_initial_s,
                          max_s=max(settings.backoff_max_s, settings.backoff_initial_s))
        loop = asyncio.get_running_loop()
        for attempt in range(1, settings.max_attempts + 1):
            timestamp = int(self.clock.now().timestamp())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            if secret:
                headers[SIGNATURE_HEADER] = signature(secret, timestamp, delivery.body)
            try:
                response = await self._client.post(settings.url, content=delivery.body, headers=headers)
                problem = None if response.is_success else f"HTTP {response.status_code}"
                final = response.is_success or (response.status_code < 500
                                                and response.status_code not in _RETRY_STATUS)
            except httpx.HTTPError as exc:
                problem, final = _problem(exc, settings.timeout_s), False
            if problem is None:
                self.delivered += 1
                return
            if final or attempt == settings.max_attempts:
                self.failed += 1
                log.error("webhook %s: %s notification not delivered after %d attempt(s): %s", redact_url(settings.url),
                          delivery.event, attempt, problem)
                return
            self.retries += 1
            delay = backoff.failed(loop.time()) - loop.time()
            log.warning("webhook %s: %s; retry %d in %.1f s", redact_url(settings.url), problem, attempt, delay)
            await asyncio.sleep(delay)


def _problem(exc: httpx.HTTPError, timeout_s: float) -> str:
    """What went wrong, in words for the operator (not the HTTP library's class name)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {show(timeout_s)} s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    return str(exc) or "the request failed"
