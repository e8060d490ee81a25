"""``streetwatch bench …``: benchmark scripts that print figures beside a same-run baseline (docs/benchmarks.md)."""

from __future__ import annotations

import typer

from streetwatch.cli_support import UserError

app = typer.Typer(help="Benchmarks: MQTT ingest end to end, Modbus polling, memory with many devices.",
                  no_args_is_help=True)


@app.command("ingest")
def ingest_command(
    seconds: float = typer.Option(60.0, "--seconds", min=1, max=600, help="how long the load is offered"),
    rate: float = typer.Option(50_000.0, "--rate", min=100, help="readings/s offered"),
    devices: int = typer.Option(10_000, "--devices", min=10, help="simulated MQTT devices"),
    lamp_share: float = typer.Option(0.7, "--lamp-share", min=0, max=1,
                                     help="share of lamp controllers (10 metrics; the rest gauges, 3)"),
    publishers: int = typer.Option(2, "--publishers", min=1, max=16, help="publisher processes (connections)"),
    copy_sample: int = typer.Option(500_000, "--copy-sample", min=1_000, help="readings for the bare COPY"),
    naive_sample: int = typer.Option(2_000, "--naive-sample", min=100, help="messages for the naive bridge"),
    database_url: str | None = typer.Option(None, "--database-url", help="an empty TimescaleDB database"),
    mqtt_url: str | None = typer.Option(None, "--mqtt-url", help="a broker (default: a throwaway Mosquitto)"),
    inflight: int = typer.Option(100, "--broker-inflight", min=1, max=65_535,
                                 help="the throwaway broker's max_inflight_messages per client"),
) -> None:
    """Readings/s from simulated MQTT devices through Mosquitto and the gateway into TimescaleDB.

    Example: streetwatch bench ingest --seconds 60 --rate 50000
    """
    from gateway import bench_ingest

    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise UserError("--database-url: the benchmark needs TimescaleDB (postgresql://…)")
    bench_ingest.run(seconds=seconds, rate=rate, lamp_share=lamp_share, devices=devices, publishers=publishers,
                     copy_sample=copy_sample, naive_sample=naive_sample, database_url=database_url,
                     mqtt_url=mqtt_url, inflight=inflight)
