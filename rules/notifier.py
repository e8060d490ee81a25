"""Routing alert notifications: MQTT always (when enabled), webhooks by severity and site.

>>> async with Notifier(settings.notifications, MqttTransport.from_settings(settings)) as notifier:   # doctest: +SKIP
...     await notifier.notify(alert, AlertEvent.raised)
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from rules.alerts import Alert, AlertEvent, AlertTransition
from rules.mqtt_publisher import MqttAlertPublisher
from rules.payload import alert_payload, alert_topic, encode, transition_payload
from rules.webhooks import WebhookSender
from streetwatch.clock import Clock
from streetwatch.config import NotificationSettings
from streetwatch.mqtt import MqttTransport

log = logging.getLogger(__name__)
_REMEMBERED = 10_000


class Notifier:
    def __init__(self, settings: NotificationSettings, mqtt: MqttTransport | None, *,
                 client_id: str | None = None, clock: Clock | None = None) -> None:
        self.settings = settings
        # No transport: MQTT is off in this process (``--no-mqtt``), and nothing tries to reach a broker.
        self.mqtt = MqttAlertPublisher(mqtt, client_id=client_id) \
            if settings.mqtt and mqtt is not None else None
        self.webhooks = [WebhookSender(w, clock=clock) for w in settings.webhooks]
        # Webhooks are queued once per notification even if MQTT fails and the sweep tries again.
        self._queued: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Notifier:
        async with AsyncExitStack() as stack:
            if self.mqtt is not None:
                await stack.enter_async_context(self.mqtt)
            for hook in self.webhooks:
                await stack.enter_async_context(hook)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def notify(self, alert: Alert, event: AlertEvent, *, key: Any = None) -> None:
        """Announce a stored alert. Raises :class:`~rules.errors.NotificationError` if MQTT did not take it."""
        body = encode(alert_payload(alert, event))
        self._route(alert.severity, alert.site, body, event, key or (alert.id, alert.state, alert.severity, event))
        if self.mqtt is not None:
            await self.mqtt.publish(alert_topic(alert.severity, alert.device_id), body)

    async def notify_unstored(self, t: AlertTransition) -> None:
        """Announce a transition the database could not take yet."""
        body = encode(transition_payload(t))
        self._route(t.severity, t.site, body, t.event, ("seq", t.seq))
        if self.mqtt is not None:
            await self.mqtt.publish(alert_topic(t.severity, t.device_id), body)

    def _route(self, severity: str, site: str, body: bytes, event: AlertEvent, key: Any) -> None:
        if key in self._queued:
            return
        self._queued[key] = None
        if len(self._queued) > _REMEMBERED:
            self._queued.popitem(last=False)
        for hook in self.webhooks:
            if hook.wants(severity, site):
                hook.send(body, event.value)

    async def join_webhooks(self) -> None:
        """Wait until every webhook notification queued so far is delivered or given up."""
        for hook in self.webhooks:
            await hook.join()
