"""``streetwatch bench …``: benchmark scripts that print figures beside a same-run baseline (docs/benchmarks.md).

The root CLI finds this group through the ``streetwatch.cli`` entry point (pyproject.toml), so no
production module imports the benchmarks. ``ingest``, ``modbus`` and ``memory`` take Typer options;
the others keep their own argument parsers and get every argument after the command's name
(``streetwatch bench store --help`` shows theirs).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from streetwatch.cli_support import UserError

app = typer.Typer(help="Benchmarks, each beside a same-run baseline: MQTT ingest end to end, the store, "
                       "registry import, Modbus polling, payload parsing, rules, control, simulators, memory, "
                       "the operator API.",
                  no_args_is_help=True)

# command name → (module in this package, one line of help); each module has main(argv).
_SCRIPTS: dict[str, tuple[str, str]] = {
    "store": ("store", "Store writes/s against a bare COPY and naive INSERTs (e.g. --readings 500000)."),
    "import": ("registry_import", "Registering devices from CSV, against a bare INSERT (e.g. --devices 10000)."),
    "modbus-drivers": ("modbus_drivers", "The drivers' Modbus polls/s and latency (e.g. --devices 200 --seconds 10)."),
    "payload": ("payload", "MQTT telemetry parsing speed (e.g. --messages 100000)."),
    "rules": ("rules", "From a reading's arrival to its alert stored and published (e.g. --postgres)."),
    "rules-duty": ("rules_duty", "From a reading's arrival to its first SMS handed to the channel, with 1,000 open "
                                 "alerts escalating (e.g. --postgres)."),
    "control": ("control", "From `lamp dim` to the register confirmed; dimming 10,000 lamps (e.g. --postgres)."),
    "simulators": ("simulators", "What one simulator process serves: Modbus polls/s, MQTT messages/s."),
}


def _script_command(name: str, module: str, help_text: str) -> None:
    @app.command(name, help=help_text, add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def command(ctx: typer.Context) -> None:
        code = importlib.import_module(f"benchmarks.{module}").main(list(ctx.args))
        if isinstance(code, int) and code:
            raise typer.Exit(code)


for _name, (_module, _help) in _SCRIPTS.items():
    _script_command(_name, _module, _help)


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
    tls: bool = typer.Option(False, "--tls", help="plaintext against TLS (the project's CA), in pairs of runs, "
                                                  "and the TLS cost in % (instead of the COPY and naive baselines)"),
    pairs: int = typer.Option(3, "--pairs", min=1, max=10, help="with --tls: pairs of runs, alternating their order"),
) -> None:
    """Readings/s from simulated MQTT devices through Mosquitto and the gateway into TimescaleDB.

    Example: streetwatch bench ingest --seconds 60 --rate 50000; streetwatch bench ingest --tls --rate 120000
    """
    from benchmarks import ingest as bench_ingest

    if tls:
        if database_url is not None or mqtt_url is not None:
            raise UserError("--tls starts its own PostgreSQL and Mosquitto (with a TLS listener): "
                            "leave out --database-url and --mqtt-url")
        from benchmarks import ingest_tls

        ingest_tls.run(seconds=seconds, rate=rate, lamp_share=lamp_share, devices=devices, publishers=publishers,
                       pairs=pairs, inflight=inflight)
        return
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise UserError("--database-url: the benchmark needs TimescaleDB (postgresql://…)")
    bench_ingest.run(seconds=seconds, rate=rate, lamp_share=lamp_share, devices=devices, publishers=publishers,
                     copy_sample=copy_sample, naive_sample=naive_sample, database_url=database_url,
                     mqtt_url=mqtt_url, inflight=inflight)


@app.command("modbus")
def modbus_command(
    devices: int = typer.Option(1_000, "--devices", min=1, max=5_000, help="simulated Modbus TCP devices"),
    seconds: float = typer.Option(20.0, "--seconds", min=1, max=300, help="measured polling time"),
    interval: float = typer.Option(0.25, "--interval", min=0.01, help="poll interval of every device, seconds"),
    concurrency: int = typer.Option(200, "--concurrency", min=1, help="requests at once (gateway.poll_concurrency)"),
    baseline: float = typer.Option(10.0, "--baseline-seconds", min=0, help="0 skips the drivers' baseline"),
) -> None:
    """Polls/s and poll latency of the gateway's poller for many simulated Modbus TCP devices.

    Example: streetwatch bench modbus --devices 1000 --seconds 20
    """
    from benchmarks import modbus as bench_modbus

    bench_modbus.run(devices=devices, seconds=seconds, concurrency=concurrency, interval_s=interval,
                     baseline_s=baseline)


@app.command("memory")
def memory_command(
    devices: int = typer.Option(100_000, "--devices", min=100, help="registered devices"),
    seconds: float = typer.Option(90.0, "--seconds", min=10, max=1_800, help="how long to watch the memory"),
    mqtt_url: str | None = typer.Option(None, "--mqtt-url", help="a broker (default: a throwaway Mosquitto)"),
    offline_after_failures: int | None = typer.Option(
        None, "--offline-after-failures", min=1, help="the gateway's offline_after_failures (default: its own, 3)"),
    poll_interval: float | None = typer.Option(
        None, "--poll-interval", min=1, help="every Modbus device's poll interval, s (default: lamps 60, probes 300)"),
) -> None:
    """Resident memory of the running gateway with many registered devices (target: 100,000 under 300 MB).

    Example: streetwatch bench memory --devices 100000 --seconds 90

    With the defaults every Modbus device is offline (and its alert stored) after about 5 minutes
    (the probes: 15); --offline-after-failures 1 --poll-interval 60 reach that state within 2.
    """
    from benchmarks import memory as bench_memory

    bench_memory.run(devices=devices, seconds=seconds, mqtt_url=mqtt_url,
                     offline_after_failures=offline_after_failures, poll_interval_s=poll_interval)


@app.command("api")
def api_command(
    devices: int = typer.Option(100_000, "--devices", min=100, help="registered devices (about 2,000 per street)"),
    samples: int = typer.Option(300, "--samples", min=10, help="requests per measured route"),
    geojson_samples: int = typer.Option(10, "--geojson-samples", min=1, help="requests for the whole fleet's GeoJSON"),
    sse_clients: int = typer.Option(500, "--sse-clients", min=1, max=5_000, help="clients on /api/v1/events"),
    alerts: int = typer.Option(5, "--alerts", min=1, help="alerts raised while they listen"),
    poll_s: float = typer.Option(0.25, "--poll-s", min=0.05, help="api.events_poll_s of the served API"),
    database_url: str | None = typer.Option(None, "--database-url",
                                            help="an empty TimescaleDB database (default: a throwaway one)"),
    json_out: Path | None = typer.Option(None, "--json", dir_okay=False, help="also write the figures here"),
) -> None:
    """The operator API over HTTP with a city's fleet on TimescaleDB, beside the bare SQL queries.

    Example: streetwatch bench api --devices 100000
    """
    import json

    from benchmarks import api as bench_api

    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise UserError("--database-url: the benchmark needs TimescaleDB (postgresql://…)")
    report = bench_api.run(devices=devices, samples=samples, geojson_samples=geojson_samples, sse_clients=sse_clients,
                           alerts=alerts, database_url=database_url, poll_s=poll_s)
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")


@app.command("check")
def check_command(
    only: list[str] = typer.Option([], "--only", help="run only this benchmark (repeatable): "
                                                      "ingest, store, modbus, alerts, memory, import"),
    budgets: Path = typer.Option(Path(__file__).with_name("budgets.toml"), "--budgets", exists=True, dir_okay=False,
                                 help="the budgets file"),
    write_docs: bool = typer.Option(False, "--write-docs", help="rewrite the generated section of docs/benchmarks.md"),
    log_dir: Path | None = typer.Option(None, "--log-dir", help="keep each benchmark's whole output here"),
) -> None:
    """Short runs of the key benchmarks against the budgets in benchmarks/budgets.toml; exit 1 on a miss.

    Example: streetwatch bench check --only memory --only store
    """
    from benchmarks import check

    unknown = sorted(set(only) - set(check.SHORT_RUNS))
    if unknown:
        raise UserError(f"--only: no benchmark {', '.join(unknown)} (known: {', '.join(check.SHORT_RUNS)})")
    docs = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md" if write_docs else None
    try:
        code = check.run(only=only, budgets_file=budgets, write_docs=docs, log_dir=log_dir)
    except check.BudgetFileError as exc:
        raise UserError(f"{budgets}: {exc}") from None
    except ValueError as exc:  # the document has no generated section
        raise UserError(str(exc)) from None
    raise typer.Exit(code)
