"""``streetwatch bench ingest --tls``, briefly: the same load through a plaintext and a TLS listener of one
Mosquitto (certificate from the project's CA), both figures printed, nothing lost, the cost computed from them."""

from __future__ import annotations

import re

import pytest

from gateway.cli import main

pytestmark = pytest.mark.services


def _rate(text: str) -> float:
    return float(text.replace(",", ""))


def test_bench_ingest_tls_prints_both_rates_and_the_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--tls", "--seconds", "2", "--rate", "2000", "--devices", "40",
                 "--pairs", "1"]) == 0
    out = capsys.readouterr().out
    found = re.findall(r"^(plaintext|TLS), pair 1 +([\d,]+) readings/s ", out, re.M)
    runs = {mode: _rate(rate) for mode, rate in found}
    assert set(runs) == {"plaintext", "TLS"}, out
    assert all(rate > 0 for rate in runs.values())
    lost = re.findall(r"^(?:plaintext|TLS), pair 1 .*, lost (\d+);.*PUBACKs ([\d,]+) of ([\d,]+)\)$", out, re.M)
    assert len(lost) == 2 and all(n == "0" and acked == sent for n, acked, sent in lost), out
    cost = re.search(r"^TLS costs (-?[\d.]+)% of end-to-end readings/s \(pairs: (-?[\d.]+)%\); the target is at "
                     r"most 15%: (met|MISSED)$", out, re.M)
    assert cost is not None, out
    expected = (1 - runs["TLS"] / runs["plaintext"]) * 100
    assert float(cost.group(1)) == pytest.approx(expected, abs=0.2)  # from the printed (rounded) rates
    assert cost.group(3) == ("met" if float(cost.group(1)) <= 15 else "MISSED")
    assert re.search(r"^gateway CPU a reading \(medians\): plaintext [\d.]+ µs, TLS [\d.]+ µs \([+-]\d+%\)$", out, re.M)


def test_bench_ingest_tls_starts_its_own_servers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--tls", "--mqtt-url", "mqtt://127.0.0.1:1883"]) == 2
    assert "--tls starts its own PostgreSQL and Mosquitto" in capsys.readouterr().err
