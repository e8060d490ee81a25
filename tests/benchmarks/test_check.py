"""``streetwatch bench check``: figures read from the benchmarks' own output, held to benchmarks/budgets.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import check
from gateway.cli import main

# Output in the form each benchmark prints: store, import, modbus and alerts as their short runs printed it on
# the development machine (2026-12-06, load average 5-7); ingest and memory put together from their print
# statements with example figures.
RECORDED = {
    "store": """\
medians of 1 rounds (the ratios: median of each round's own, range in brackets):
bare COPY:        65,744 readings/s  (one COPY stream, a hypertable shaped as readings)
store:            67,057 readings/s = 102% of bare COPY  [102%-102%]
""",
    "import": """\
  floor: bare INSERT of the rows (baseline)       1.136 s       8,805 devices/s
  check only: parse CSV, validate every row       2.811 s       3,557 devices/s
  import: parse, check, write, history            7.118 s       1,405 devices/s
""",
    "modbus": """\
gateway poller             798 polls/s  p50   2.75 ms  p99  92.73 ms  gateway CPU  372 µs/poll  \
(3,993 polls, 0 failed; demand 800 polls/s; 44,149 readings stored in all)
""",
    "alerts": """\
baseline, no background load: achieved 0 readings/s, deepest queue 2 batch(es)
  arrival → stored + published (PUBACK): n=  28  p50   15.5 ms  p90   34.5 ms  p99   54.1 ms  max   54.1 ms
  arrival → received by a subscriber:     n=  28  p50   15.6 ms  p90   34.4 ms  p99   54.0 ms  max   54.0 ms

20,000 background readings/s: achieved 18,689 readings/s, deepest queue 34 batch(es)
  arrival → stored + published (PUBACK): n=  49  p50  382.0 ms  p90  879.5 ms  p99 1029.5 ms  max 1029.5 ms
""",
    "memory": """\
100,000 devices registered in 19 s: 80,000 Modbus (RTU over TCP, 30 per converter, nothing listening), \
20,000 MQTT gauges; bare interpreter with the gateway imported: 84 MB
  t=   55 s  RSS    281 MB  (peak so far 290 MB)
at the end: 78,400 devices recorded offline, 100,004 alerts raised and stored
gateway RSS at the end 281 MB, peak 290 MB, steady (last minute) max 283 MB
""",
    "ingest": """\
gateway, end to end       98,944 readings/s  (1,500,000 readings published and stored in 15.2 s; stored 1,500,000, \
distinct 1,500,000, lost 0; publishers' PUBACKs 300,000 of 300,000)
  CPU seconds: gateway 8.3, database 9.1 (the machine has 2 cores x 15 s); a reading: gateway 5.5 µs, database 6.1 µs
gateway = 35% of bare COPY, 412x the naive bridge
""",
}


def recorded_figures() -> dict[str, dict[str, float]]:
    return {name: check.read_figures(name, output) for name, output in RECORDED.items()}


def test_every_budgeted_figure_is_read_from_what_its_benchmark_prints() -> None:
    figures = recorded_figures()
    assert figures["store"] == {"share_of_copy": pytest.approx(1.02)}
    assert figures["import"] == {"share_of_floor": pytest.approx(1_405 / 8_805)}
    assert figures["modbus"] == {"share_of_demand": pytest.approx(798 / 800), "failed_polls": 0}
    assert figures["alerts"] == {"p99_unloaded_ms": 54.1, "p99_loaded_ms": 1029.5,
                                 "share_of_background": pytest.approx(18_689 / 20_000)}
    assert figures["memory"] == {"steady_mb": 283, "alerted_share": pytest.approx(100_004 / 100_000)}
    assert figures["ingest"] == {"share_of_copy": pytest.approx(0.35), "lost": 0, "gateway_us_per_reading": 5.5}
    budgets = check.load_budgets(check.BUDGETS_FILE.read_text())
    assert {(b.benchmark, b.figure) for b in budgets} <= {(n, f) for n, fs in figures.items() for f in fs}


def test_the_recorded_figures_meet_the_budgets_and_a_lowered_budget_is_missed() -> None:
    text = check.BUDGETS_FILE.read_text()
    verdicts = check.judge(check.load_budgets(text), recorded_figures())
    assert [v for v in verdicts if not v.ok] == []

    lowered = text.replace('figure = "steady_mb"\nmax = 299', 'figure = "steady_mb"\nmax = 250')
    assert lowered != text
    missed = [v for v in check.judge(check.load_budgets(lowered), recorded_figures()) if not v.ok]
    assert [(v.budget.benchmark, v.budget.figure, v.value) for v in missed] == [("memory", "steady_mb", 283)]
    assert "| memory | steady_mb | 283 | ≤ 250 | MISSED |" in check.table(missed)


def test_a_memory_run_that_ends_before_the_devices_are_offline_misses_its_budget() -> None:
    # Low memory because the wave of 80,000 devices going offline and their alerts had not come yet: not a pass.
    early = RECORDED["memory"].replace("100,004 alerts raised", "32,000 alerts raised")
    budgets = [b for b in check.load_budgets(check.BUDGETS_FILE.read_text()) if b.benchmark == "memory"]
    missed = [v for v in check.judge(budgets, {"memory": check.read_figures("memory", early)}) if not v.ok]
    assert [(v.budget.figure, v.value) for v in missed] == [("alerted_share", pytest.approx(0.32))]


def test_a_figure_the_output_lacks_is_a_miss() -> None:
    budgets = check.load_budgets('[[budget]]\nbenchmark = "store"\nfigure = "share_of_copy"\nmin = 0.3\n')
    (verdict,) = check.judge(budgets, {"store": check.read_figures("store", "Traceback …\nno database")})
    assert verdict.value is None and not verdict.ok
    assert "not measured" in check.table([verdict])


@pytest.mark.parametrize(("text", "message"), [
    ('[[budget]]\nbenchmark = "store"\nfigure = "speed"\nmin = 1\n',
     "budget 1: no figure 'speed' of benchmark 'store'"),
    ('[[budget]]\nbenchmark = "store"\nfigure = "share_of_copy"\n', "budget 1 (store.share_of_copy): give one of min"),
    ('[[budget]]\nbenchmark = "store"\nfigure = "share_of_copy"\nmin = "lots"\n', "the bound must be a number"),
    ("[[budget]\n", "not TOML"),
])
def test_a_bad_budgets_file_is_refused_with_the_entry_named(text: str, message: str) -> None:
    with pytest.raises(check.BudgetFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check.load_budgets(text)


def test_the_generated_section_is_rewritten_and_the_rest_kept() -> None:
    document = f"# Benchmarks\nintro\n{check.BEGIN}\nold table\n{check.END}\nafter\n"
    rewritten = check.rewrite_section(document, "| new |")
    assert rewritten == f"# Benchmarks\nintro\n{check.BEGIN}\n| new |\n{check.END}\nafter\n"
    assert check.BEGIN in Path("docs/benchmarks.md").read_text()
    with pytest.raises(ValueError, match="no generated section"):
        check.rewrite_section("# Benchmarks\n", "| new |")


def test_a_real_short_run_fails_when_its_budget_is_missed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[[budget]]\nbenchmark = "import"\nfigure = "share_of_floor"\nmin = 0.01\n\n'
                       '[[budget]]\nbenchmark = "import"\nfigure = "share_of_floor"\nmax = 0.001\n')
    assert main(["bench", "check", "--only", "import", "--budgets", str(budgets)]) == 1
    out = capsys.readouterr().out
    assert "| import | share_of_floor |" in out
    assert "| ≥ 0.01 | ok |" in out and "| ≤ 0.001 | MISSED |" in out
    assert "1 of 2 budgets met; missed: import.share_of_floor" in out


def test_a_partial_check_rewrites_its_own_rows_and_keeps_the_others_with_their_dates() -> None:
    budgets = check.load_budgets(check.BUDGETS_FILE.read_text())
    everything = check.judge(budgets, recorded_figures())
    first = check.merged_section(everything, dict.fromkeys(RECORDED, "2026-12-01, abc1234, load 3.1"), budgets, {})
    document = check.rewrite_section(f"# Benchmarks\n{check.BEGIN}\n{check.END}\n## Hand-kept\nmine\n", first)
    assert f"{len(budgets)} of {len(budgets)} budgets met" in document

    # `--only memory` a week later, with a memory figure over its budget
    memory = check.judge([b for b in budgets if b.benchmark == "memory"],
                         {"memory": {"steady_mb": 412, "alerted_share": 1.0}})
    second = check.merged_section(memory, {"memory": "2026-12-08, def5678, load 6.0"}, budgets,
                                  check.section_rows(document))
    rewritten = check.rewrite_section(document, second)
    assert "| memory | steady_mb | 412 | ≤ 299 | MISSED | 2026-12-08, def5678, load 6.0 |" in rewritten
    assert "| store | share_of_copy | 1.02 | ≥ 0.5 | ok | 2026-12-01, abc1234, load 3.1 |" in rewritten
    assert "283" not in rewritten
    assert f"{len(budgets) - 1} of {len(budgets)} budgets met" in rewritten
    assert rewritten.endswith(f"{check.END}\n## Hand-kept\nmine\n")
    lines = [line for line in rewritten.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0][2:] for line in lines] == [b.benchmark for b in budgets]


def test_the_import_floor_is_read_from_its_best_round_line() -> None:
    # As `bench import` prints it since its floor is the best of five rounds (2026-12-06, load 5.5).
    output = """\
  floor: bare INSERT of the rows (baseline)       0.079 s     126,116 devices/s   (best of 5 rounds: 0.159, 0.079, \
0.288, 0.123, 0.123 s)
  check only: parse CSV, validate every row       0.874 s      11,447 devices/s
  import: parse, check, write, history            1.393 s       7,181 devices/s
"""
    assert check.read_figures("import", output) == {"share_of_floor": pytest.approx(7_181 / 126_116)}
