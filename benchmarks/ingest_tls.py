"""Benchmark: what TLS costs the ingest end to end — ``streetwatch bench ingest --tls``.

    streetwatch bench ingest --tls --seconds 30 --rate 120000 --pairs 3

One PostgreSQL and one Mosquitto with two listeners that differ only in TLS: a plaintext one and a TLS
one whose certificate comes from the installation's own CA (``broker.pki``, as ``streetwatch pki init``
makes it, in a temp directory). Each pair runs the same load twice, once per listener, each into a
fresh database: the gateway (``streetwatch run``, with ``mqtts://`` and ``[mqtt] ca_file`` for the TLS
run) and the publishers speak to the listener of that run. Pairs alternate their order (plaintext
first, then TLS first) so a machine that slows down or speeds up during the run weighs on both. It
prints each run's readings/s, each pair's TLS cost in %, and the median over the pairs.

The cost is only meaningful at the gateway's limit: offer more than it takes (``--rate``); when both
runs keep up with the offered load, the output says so.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import ingest_run
from benchmarks.ingest import register
from benchmarks.ingest_run import Fleet, Measured
from benchmarks.servers import free_port
from benchmarks.system import durable_postgres, test_servers
from broker.pki import Pki

TARGET_COST = 0.15  # the budget: TLS may cost at most 15 % of end-to-end readings/s
KEPT_UP = 0.97  # a run that reached this share of the offered rate was not at its limit


def _tls_listener(port: int, pki: Pki) -> str:
    """A second listener, as ``streetwatch broker config`` writes its own (the same CA, certificate and TLS version)."""
    return "\n".join(["", f"listener {port} 127.0.0.1", f"cafile {pki.ca_cert_path}",
                      f"certfile {pki.server_cert_path}", f"keyfile {pki.server_key_path}", "tls_version tlsv1.2", ""])


def run(*, seconds: float, rate: float, lamp_share: float, devices: int, publishers: int, pairs: int,
        inflight: int = 100) -> None:
    lamps = round(devices * lamp_share)
    fleet = Fleet(lamps, devices - lamps, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    rounds = max(1, round(rate * seconds / fleet.readings_per_round))
    offered = rounds * fleet.readings_per_round / seconds
    with ExitStack() as stack:
        pki_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="streetwatch-bench-pki-")))
        pki = Pki.init(pki_dir / "pki", server_names=["localhost", "127.0.0.1"], now=datetime.now(UTC))
        _, mosquitto_server = test_servers()
        pg = durable_postgres()
        pg.start()
        stack.callback(pg.close)
        broker = mosquitto_server()
        tls_port = free_port()
        config = broker.config.read_text().replace("max_inflight_messages 100", f"max_inflight_messages {inflight}")
        broker.config.write_text(config + _tls_listener(tls_port, pki))
        broker.start()
        stack.callback(broker.close)
        pids = {"database": [pg.pid], "broker": [broker.pid]}
        urls = {"plaintext": broker.url, "TLS": f"mqtts://127.0.0.1:{tls_port}"}
        print(f"{devices:,} devices, {rounds * fleet.readings_per_round:,} readings a run offered at {offered:,.0f}"
              f" readings/s for {seconds:g} s over {publishers} connections; {pairs} pair(s) of runs, plaintext"
              f" on :{broker.port} and TLS on :{tls_port} of one Mosquitto (certificate from the project's CA)",
              flush=True)
        results: dict[str, list[Measured]] = {"plaintext": [], "TLS": []}
        for pair in range(pairs):
            for mode in ("plaintext", "TLS") if pair % 2 == 0 else ("TLS", "plaintext"):
                database_url = pg.create_database(f"bench_ingest_{mode.lower()}_{pair}")
                asyncio.run(register(database_url, fleet))
                results[mode].append(ingest_run.measure(
                    database_url, urls[mode], fleet, rounds, publishers, seconds, pids,
                    ca_file=str(pki.ca_cert_path) if mode == "TLS" else None, label=f"{mode}, pair {pair + 1}"))
    _summary(results, offered)


def _summary(results: dict[str, list[Measured]], offered: float) -> None:
    plain, tls = results["plaintext"], results["TLS"]
    costs = [1 - t.rate / p.rate for p, t in zip(plain, tls, strict=True)]
    cost = statistics.median(costs)
    print(f"plaintext             {statistics.median(m.rate for m in plain):>10,.0f} readings/s  (median of"
          f" {len(plain)}: {', '.join(f'{m.rate:,.0f}' for m in plain)}; lost {sum(m.lost for m in plain):,})")
    print(f"TLS                   {statistics.median(m.rate for m in tls):>10,.0f} readings/s  (median of"
          f" {len(tls)}: {', '.join(f'{m.rate:,.0f}' for m in tls)}; lost {sum(m.lost for m in tls):,})")
    print(f"TLS costs {cost:.1%} of end-to-end readings/s (pairs: {', '.join(f'{c:.1%}' for c in costs)});"
          f" the target is at most {TARGET_COST:.0%}: {'met' if cost <= TARGET_COST else 'MISSED'}")
    # CPU a reading moves less than readings/s when other work shares the machine.
    for who in ("gateway", "broker", "publishers"):
        mine, theirs = (statistics.median(m.cpu_s.get(who, 0.0) / m.expected * 1e6 for m in runs)
                        for runs in (plain, tls))
        print(f"{who} CPU a reading (medians): plaintext {mine:.1f} µs, TLS {theirs:.1f} µs"
              + (f" ({theirs / mine - 1:+.0%})" if mine else ""))
    if not all(m.complete for m in (*plain, *tls)):
        print("note: a run hit its time limit before every reading was stored: offer less (--rate, --seconds)")
    if min(m.rate for m in (*plain, *tls)) >= KEPT_UP * offered:
        print(f"note: every run kept up with the offered {offered:,.0f} readings/s, so this is not the cost at the"
              " gateway's limit: raise --rate")
