"""``streetwatch rules …`` and ``streetwatch alerts …`` as a user runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.cli import main
from rules.alert_store import AlertStore
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.rules.support import transition


def test_validate_the_shipped_rules(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREETWATCH_RULES_DIR", raising=False)
    assert main(["rules", "validate"]) == 0
    out, err = capsys.readouterr()
    assert "13 rule(s) in 3 file(s), all valid\n" in out
    assert "warning" not in err  # every metric the shipped rules read is in a shipped profile


def test_validate_warns_of_metrics_no_profile_of_the_kind_defines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREETWATCH_PROFILES_DIR", raising=False)
    rules = tmp_path / "lamps.yaml"
    rules.write_text(
        "rules:\n"
        "  - {name: lamp-failure, kind: condition, applies_to: {kinds: [lamp_controller]},\n"
        "     when: relay_on and power_watts < 5 and sun_up, severity: orange}\n"
        "  - {name: cycling, kind: condition, applies_to: {kinds: [lamp_controller]}, severity: yellow,\n"
        "     windows: {n: {metric: relay, function: transitions, window: 1h}}, when: n > 6}\n"
        "  - {name: level, kind: threshold, applies_to: {profiles: [sw-culvert-gauge-mqtt]},\n"
        "     metric: water_level_mm, levels: {red: 800}}\n"
        "  - {name: no-such-kind, kind: threshold, applies_to: {kinds: [weather_station]}, metric: wind,\n"
        "     levels: {red: 30}}\n"
        "  - {name: anything, kind: threshold, metric: whatever, levels: {red: 1}}\n")
    assert main(["rules", "validate", str(rules)]) == 0  # warnings do not fail the check
    out, err = capsys.readouterr()
    assert out == f"{rules}: 5 rule(s) in 1 file(s), all valid; 3 warning(s)\n"
    assert err.splitlines() == [
        f"warning: {rules}:2: lamp-failure: when: no lamp_controller profile defines the metric 'power_watts' "
        "(sw-lamp-controller, sw-lamp-controller-mqtt); the rule never sees it",
        f"warning: {rules}:4: cycling: windows.n.metric: no lamp_controller profile defines the metric 'relay' "
        "(sw-lamp-controller, sw-lamp-controller-mqtt); the rule never sees it",
        f"warning: {rules}:8: no-such-kind: applies_to: no weather_station profile is known, so no device can match",
    ]
    # a profile of the installer's own that defines the metric silences the warning
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "acme-lamp.toml").write_text(
        'name = "acme-lamp"\nkind = "lamp_controller"\ntransport = "mqtt"\n'
        '[[mqtt.metrics]]\nname = "power_watts"\n[[mqtt.metrics]]\nname = "relay"\n')
    monkeypatch.setenv("STREETWATCH_PROFILES_DIR", str(profiles))
    assert main(["rules", "validate", str(rules)]) == 0
    assert [line.split(": ")[2] for line in capsys.readouterr().err.splitlines()] == ["no-such-kind"]


def test_validate_reports_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "culverts.yaml"
    bad.write_text("rules:\n  - name: level\n    kind: threshold\n    metric: water_level_mm\n"
                   "    levels: {yellow: 300, red: lots}\n  - {name: gone, kind: absence, severity: red}\n")
    assert main(["rules", "validate", str(bad)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:5: rules[0].levels.red: Input should be a valid number, unable to parse string as a number",
        f"{bad}:6: rules[1].after: Field required",
        f"2 problem(s) in {bad}",
    ]


def test_list_rules_as_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREETWATCH_RULES_DIR", raising=False)
    assert main(["rules", "list", "--format", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["culvert-rapid-rise"]["condition"] == "water_level_mm rise > 50 per 10m"
    assert rows["lamp-failure"]["condition"] == "relay_on and power_w < 5"
    assert (rows["lamp-failure"]["for"], rows["lamp-failure"]["severity"]) == ("5m", "orange")


def test_a_missing_rules_path_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["rules", "validate", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"streetwatch: error: {tmp_path / 'nope'}: no such file or directory"


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Three alerts in the configured database: red CG-1 (district-3), yellow CG-2 (district-3), red LP-1."""
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("STREETWATCH_TIMEZONE", "UTC")

    async def seed() -> list[int]:
        async with open_database(DatabaseUrl.parse(database_url)) as db:
            store = AlertStore(db)
            await store.migrate()
            ids = []
            for t in (transition("raised", "red", device_id="CG-1"), transition("raised", "yellow", device_id="CG-2"),
                      transition("raised", "red", device_id="LP-1", site="district-9", kind="lamp_controller",
                                 rule="lamp-failure")):
                change = await store.apply(t)
                assert change is not None
                ids.append(change.alert.id)
            return ids

    return asyncio.run(seed())


@pytest.mark.services
def test_alerts_list_filters(seeded: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    def devices(*args: str) -> list[str]:
        assert main(["alerts", "list", "--format", "json", *args]) == 0
        return sorted(row["device"] for row in json.loads(capsys.readouterr().out))

    assert devices() == ["CG-1", "CG-2", "LP-1"]
    assert devices("--severity", "red") == ["CG-1", "LP-1"]
    assert devices("--site", "district-3", "--severity", "red") == ["CG-1"]
    assert devices("--kind", "lamp_controller") == ["LP-1"]
    assert devices("--state", "acknowledged") == []
    assert main(["alerts", "list", "--state", "sleeping"]) == 2
    assert "'--state'" in capsys.readouterr().err


@pytest.mark.services
def test_ack_show_clear_history(seeded: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    red = seeded[0]
    assert main(["alerts", "ack", str(red), "--by", "li.wei", "--note", "pump crew on the way"]) == 0
    assert capsys.readouterr().out.strip() == f"alert {red} acknowledged by li.wei"
    assert main(["alerts", "ack", str(red), "--by", "li.wei"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"streetwatch: error: alert {red} is acknowledged; only a raised or cleared alert can be acknowledged")
    assert main(["alerts", "show", str(red)]) == 0
    shown = capsys.readouterr().out
    assert "li.wei" in shown and "pump crew on the way" in shown and "Xujiahui underpass" in shown
    assert main(["alerts", "clear", str(seeded[1]), "--by", "li.wei", "--note", "gauge cleaned"]) == 0
    capsys.readouterr()
    assert main(["alerts", "history", str(seeded[1]), "--format", "json"]) == 0
    events = [(row["event"], row["by"]) for row in json.loads(capsys.readouterr().out)]
    assert events == [("raised", None), ("cleared", "li.wei"), ("closed", "li.wei")]
    assert main(["alerts", "history", "--site", "district-3", "--since", "10000d", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5
    assert main(["alerts", "show", "999999"]) == 2
    assert capsys.readouterr().err.strip() == "streetwatch: error: no alert with id 999999"
    assert main(["alerts", "history", "--since", "a while"]) == 2
    assert "--since: cannot read duration" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - {name: p, kind: condition, severity: red,\n     when: \"water_level_mm > 10**10**10\"}\n",
         ":3: rules[0].when: the exponent of ** must be a written number of at most 8"),
        ("rules:\n  - {name: n, kind: condition, severity: red, when: \"" + "not " * 3000 + "x\"}\n",
         ":2: rules[0].when: longer than 500 characters"),
        ("rules:\n  - {name: s, kind: condition, severity: red, when: \"" + "+".join(["x"] * 20000) + " > 1\"}\n",
         ":2: rules[0].when: longer than 500 characters"),
        ("rules:\n  - {name: d, kind: condition, severity: red, when: \"" + "-" * 200 + "x > 1\"}\n",
         ":2: rules[0].when: nested more than 32 levels deep"),
        ("rules: " + "[" * 3000 + "]" * 3000 + "\n", ":1: nested more than 32 levels deep"),
        ("rules:\n" + "".join("  " * i + "-\n" for i in range(1, 300)), ":33: nested more than 32 levels deep"),
    ],
)
def test_validate_names_the_line_of_a_hostile_rule_never_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    bad = tmp_path / "hostile.yaml"
    bad.write_text(text)
    assert main(["rules", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[0].startswith(f"{bad}{expected}"), err[:300]
    assert err.splitlines()[-1] == f"1 problem(s) in {bad}"
