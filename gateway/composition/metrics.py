"""Prometheus metrics of the running gateway, in a registry of their own.

The intake keeps plain counters (an integer increment per batch costs nothing at 50,000 readings/s);
:class:`GatewayCollector` reads them when Prometheus scrapes. The two latency histograms are
observed where the time is measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.intake.device_state import DeviceStates
from gateway.intake.directory import DeviceDirectory
from gateway.intake.fanout import Fanout
from gateway.intake.journal import Journal
from gateway.intake.mqtt_ingest import MqttIngest
from gateway.intake.pipeline import StorePipeline
from gateway.intake.recorder import Recorder
from gateway.poller.poller import ModbusPoller
from streetwatch.mqtt import MqttTransport

POLL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WRITE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MeteredParts(Protocol):
    """The parts of the running gateway whose counters are read at scrape time (``None``: not running).

    The runtime's ``Gateway`` is one; naming only these keeps the metrics from importing the runtime.
    """

    @property
    def ingest(self) -> MqttIngest | None: ...
    @property
    def poller(self) -> ModbusPoller | None: ...
    @property
    def pipeline(self) -> StorePipeline | None: ...
    @property
    def journal(self) -> Journal | None: ...
    @property
    def fanout(self) -> Fanout | None: ...
    @property
    def states(self) -> DeviceStates | None: ...
    @property
    def directory(self) -> DeviceDirectory | None: ...
    @property
    def recorder(self) -> Recorder | None: ...
    @property
    def opened_services(self) -> list[Any]:
        """Composed services; one with ``collect_metrics()`` adds its own metrics."""
        ...
    @property
    def mqtt(self) -> MqttTransport | None: ...
    def service_problems(self) -> dict[str, list[str]]: ...


class GatewayMetrics:
    """The registry to serve, and the histograms the poller and the store path observe."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.poll_latency = Histogram("streetwatch_poll_latency_seconds", "Time to poll one Modbus device",
                                      buckets=POLL_BUCKETS_S, registry=self.registry)
        self.write_batch = Histogram("streetwatch_store_write_batch_seconds", "Time to write one batch to the store",
                                     buckets=WRITE_BUCKETS_S, registry=self.registry)

    def attach(self, gateway: MeteredParts) -> None:
        self.registry.register(GatewayCollector(gateway))


def _counter(name: str, documentation: str, value: float, labels: dict[str, str] | None = None) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=list(labels) if labels else None)
    if labels:
        family.add_metric(list(labels.values()), value)
    else:
        family.add_metric([], value)
    return family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class GatewayCollector(Collector):
    """Reads the gateway's counters at scrape time."""

    def __init__(self, gateway: MeteredParts) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        g = self.gateway
        received = CounterMetricFamily("streetwatch_readings_received", "Readings accepted by the gateway",
                                       labels=["transport"])
        rejected = CounterMetricFamily("streetwatch_rejected",
                                       "Payloads or parts of payloads not used, by transport and reason",
                                       labels=["transport", "reason"])
        queues = GaugeMetricFamily("streetwatch_queue_depth", "Items waiting in a queue", labels=["queue"])
        if g.ingest is not None:
            stats = g.ingest.stats
            received.add_metric(["mqtt"], stats.readings)
            for reason, count in sorted(stats.rejected.items()):
                rejected.add_metric(["mqtt", reason], count)
            queues.add_metric(["mqtt_incoming"], g.ingest.incoming_depth)
            queues.add_metric(["mqtt_held_unknown"], len(g.ingest.held))
            yield _counter("streetwatch_mqtt_messages_received", "MQTT messages received", stats.messages)
            yield _counter("streetwatch_unknown_device_messages",
                           "Messages from devices that are not registered (see `streetwatch device pending`)",
                           stats.unknown_device_messages)
            yield _counter("streetwatch_mqtt_reading_pauses",
                           "Times the intake stopped reading the broker's socket: 5 x receive_maximum messages waited",
                           g.ingest.reading_pauses)
            yield _counter("streetwatch_mqtt_store_waits",
                           "Times the intake waited for the store to take readings (half the store queue in use)",
                           stats.store_waits)
            yield _gauge("streetwatch_mqtt_connected", "1 while the gateway's MQTT session is up",
                         1.0 if g.ingest.connected else 0.0)
        if g.mqtt is not None:  # every MQTT client the gateway holds: intake, alert publisher, control channel
            connected = GaugeMetricFamily("streetwatch_mqtt_client_connected",
                                          "1 while this MQTT client of the gateway is connected", labels=["client"])
            connects = CounterMetricFamily("streetwatch_mqtt_client_connects",
                                           "Connections this MQTT client of the gateway made", labels=["client"])
            for client in g.mqtt.clients:
                connected.add_metric([client.name], 1.0 if client.connected else 0.0)
                connects.add_metric([client.name], client.connects)
            yield connected
            yield connects
        if g.poller is not None:
            stats_p = g.poller.stats
            received.add_metric(["modbus"], stats_p.readings)
            yield _counter("streetwatch_polls", "Modbus polls made", stats_p.polls)
            failures = CounterMetricFamily("streetwatch_poll_failures", "Modbus polls that gave nothing, by error",
                                           labels=["error"])
            for error, count in sorted(stats_p.failures.items()):
                failures.add_metric([error], count)
            yield failures
            queues.add_metric(["modbus_in_flight"], g.poller.in_flight)
            yield _gauge("streetwatch_modbus_devices", "Modbus devices polled", g.poller.devices)
        yield received
        yield rejected
        if g.pipeline is not None:
            p = g.pipeline
            queues.add_metric(["store"], p.queue_depth)
            yield _counter("streetwatch_readings_stored", "Readings written to the store", p.stored_readings)
            yield _counter("streetwatch_readings_refused", "Readings the store refused as bad data", p.refused_readings)
            yield _counter("streetwatch_store_write_failures", "Batch writes that failed (store unreachable)",
                           p.write_failures)
            yield _gauge("streetwatch_store_available", "0 while the store is unreachable", 0.0 if p.outage else 1.0)
            yield _gauge("streetwatch_store_catching_up", "1 while the store path reads from the journal",
                         1.0 if p.catching_up else 0.0)
        if g.journal is not None:
            yield _gauge("streetwatch_spool_bytes", "Size of the journal: what the store has not confirmed",
                         g.journal.size_bytes())
            yield _gauge("streetwatch_spool_records", "Journal records not yet confirmed by the store",
                         g.journal.backlog)
            yield _gauge("streetwatch_journal_room_bytes", "What the journal can still take (its cap, its disk)",
                         g.journal.room_bytes())
            yield _gauge("streetwatch_journal_space_alarm", "1 while the journal nears its cap or its disk is low",
                         int(g.journal.alarm.raised))
        if g.fanout is not None:
            dropped = CounterMetricFamily("streetwatch_subscriber_dropped_readings",
                                          "Readings a stalled subscriber could not take", labels=["subscriber"])
            for sub in g.fanout.subscriptions:
                queues.add_metric([f"subscriber_{sub.name}"], sub.queued_readings)
                dropped.add_metric([sub.name], sub.dropped_readings)
            yield dropped
        yield queues
        if g.states is not None:
            devices = GaugeMetricFamily("streetwatch_devices", "Devices by state", labels=["state"])
            devices.add_metric(["online"], g.states.online)
            devices.add_metric(["offline"], g.states.offline)
            yield devices
        if g.directory is not None:
            yield _gauge("streetwatch_devices_served", "Registered devices the gateway serves", len(g.directory))
        for service in g.opened_services:
            collect = getattr(service, "collect_metrics", None)
            if callable(collect):
                yield from collect()
        problems = GaugeMetricFamily("streetwatch_service_problems",
                                     "Problems a service reports (rule files left out, rules disabled)",
                                     labels=["service"])
        for name, found in sorted(g.service_problems().items()):
            problems.add_metric([name], len(found))
        yield problems
        if g.recorder is not None:
            yield _counter("streetwatch_recorder_dropped", "Dead letters or events dropped while the database was away",
                           g.recorder.dropped)
            yield _counter("streetwatch_recorder_refused_rows", "Dead letters or events the database refused, dropped",
                           g.recorder.refused_rows)
            yield _gauge("streetwatch_recorder_failing", "1 while dead letters and events cannot be written",
                         1.0 if g.recorder.failing else 0.0)
