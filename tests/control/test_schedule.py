"""Schedule files: the time and date syntax, every problem with its place, the shipped schedules."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from control.errors import ScheduleError, UnknownSchedule
from control.library import SHIPPED_SCHEDULES_DIR, ScheduleLibrary
from control.schedule import check_schedule, load_schedule, parse_date_rule, parse_time_spec
from streetwatch.sun import SunEvent


@pytest.mark.parametrize(("text", "clock", "event", "offset"), [
    ("23:00", time(23, 0), None, timedelta()),
    ("7:05", time(7, 5), None, timedelta()),
    ("sunset", None, SunEvent.sunset, timedelta()),
    ("sunset+10m", None, SunEvent.sunset, timedelta(minutes=10)),
    ("Sunrise - 10m", None, SunEvent.sunrise, timedelta(minutes=-10)),
    ("civil_dusk+1h30m", None, SunEvent.civil_dusk, timedelta(minutes=90)),
    ("nautical_dawn-45s", None, SunEvent.nautical_dawn, timedelta(seconds=-45)),
])
def test_time_specs(text: str, clock: time | None, event: SunEvent | None, offset: timedelta) -> None:
    spec = parse_time_spec(text)
    assert (spec.clock, spec.event, spec.offset) == (clock, event, offset)
    assert parse_time_spec(str(spec)) == spec  # the printed form reads back


@pytest.mark.parametrize(("text", "message"), [
    ("24:00", "not a clock time"),
    ("12:60", "not a clock time"),
    ("moonrise", "unknown event 'moonrise'"),
    ("sunset+10", "the offset needs a unit"),
    ("sunset+7h", "limited to ±6h"),
    ("at dusk", "neither a clock time"),
    (1380, "expected a clock time"),
])
def test_bad_time_specs(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_spec(text)


@pytest.mark.parametrize(("text", "inside", "outside"), [
    ("2026-12-24", [date(2026, 12, 24)], [date(2025, 12, 24), date(2026, 12, 25)]),
    ("12-24", [date(2026, 12, 24), date(2031, 12, 24)], [date(2026, 12, 23)]),
    ("10-01..10-07", [date(2026, 10, 1), date(2026, 10, 7)], [date(2026, 9, 30), date(2026, 10, 8)]),
    ("12-30..01-02", [date(2026, 12, 30), date(2027, 1, 2)], [date(2026, 12, 29), date(2027, 1, 3)]),
    ("2027-02-05..2027-02-07", [date(2027, 2, 6)], [date(2028, 2, 6)]),
    (date(2026, 2, 16), [date(2026, 2, 16)], [date(2026, 2, 17)]),
])
def test_date_rules(text: object, inside: list[date], outside: list[date]) -> None:
    rule = parse_date_rule(text)
    assert all(rule.matches(d) for d in inside)
    assert not any(rule.matches(d) for d in outside)


@pytest.mark.parametrize(("text", "message"), [
    ("2026-02-30", "not a date"),
    ("Dec 24", "not a date"),
    ("2026-12-26..2026-12-24", "ends before it starts"),
    ("2026-12-24..12-26", "both ends with a year"),
])
def test_bad_date_rules(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date_rule(text)


def test_every_problem_is_reported_with_its_place() -> None:
    schedule, problems = check_schedule({
        "name": "Night Shift",
        "steps": [{"at": "sunset+10m", "dim": 120}, {"at": "moonrise", "dim": 50}, {"at": "1:00", "dimm": 3}],
        "exceptions": [{"dates": ["2026-13-01"], "steps": [{"at": "sunset", "dim": 100}]}],
        "colour": "blue",
    })
    assert schedule is None
    assert "steps[0].dim: Input should be less than or equal to 100" in problems
    assert any(p.startswith("steps[1].at: unknown event 'moonrise'") for p in problems)
    assert "steps[2].dim: Field required" in problems
    assert "steps[2].dimm: unknown field" in problems
    assert any(p.startswith("exceptions[0].dates[0]: '2026-13-01' is not a date") for p in problems)
    assert "colour: unknown field" in problems


def test_steps_out_of_order_and_bad_name() -> None:
    schedule, problems = check_schedule({
        "name": "Tunnel", "day_starts": "00:00",
        "steps": [{"at": "19:00", "dim": 0}, {"at": "07:00", "dim": 80}],
    })
    assert schedule is None
    assert problems[0].startswith("name: 'Tunnel' must be lower-case")
    assert problems[1].startswith("steps[1].at: 07:00 comes before 19:00 in a lighting day that starts at 00:00")


def test_yaml_times_need_no_quotes_and_toml_works(tmp_path: Path) -> None:
    (tmp_path / "late.yaml").write_text("steps:\n  - {at: sunset, dim: 80}\n  - {at: 23:30, dim: 40}\n"
                                        "  - {at: sunrise, dim: 0}\nexceptions:\n"
                                        "  - {dates: [2026-12-24, 12-31], steps: [{at: sunset, dim: 100}]}\n")
    schedule = load_schedule(tmp_path / "late.yaml")
    assert schedule.name == "late"
    assert schedule.steps[1].at.clock == time(23, 30)
    assert schedule.exceptions[0].dates[0].matches(date(2026, 12, 24))
    (tmp_path / "t.toml").write_text(
        'name = "t"\n[[steps]]\nat = "sunset"\ndim = 100\n[[steps]]\nat = "sunrise"\ndim = 0\n')
    assert load_schedule(tmp_path / "t.toml").steps[1].at.event is SunEvent.sunrise


def test_library_keeps_good_schedules_beside_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("steps: [{at: sunset, dim: 100}, {at: sunrise, dim: 0}]\n")
    (tmp_path / "broken.yaml").write_text("steps: [{at: sunset, dim: 100\n")
    (tmp_path / "twin.yaml").write_text("name: good\nsteps: [{at: sunset, dim: 50}]\n")
    (tmp_path / "notes.txt").write_text("not a schedule")
    library = ScheduleLibrary.load(tmp_path)
    assert library.names() == ["full-night", "good", "night"]  # the shipped ones as well
    assert library.problems[str(tmp_path / "broken.yaml")][0].startswith("not valid YAML")
    assert library.problems[str(tmp_path / "twin.yaml")] == [
        f"name: 'good' is already defined in {tmp_path / 'good.yaml'}"]
    with pytest.raises(UnknownSchedule, match=r"broken.yaml has problems"):
        library.get("broken")
    with pytest.raises(ScheduleError, match="does not exist"):
        ScheduleLibrary.load(tmp_path / "missing")


def test_schedules_dir_adds_to_the_shipped_schedules_and_a_same_named_file_replaces_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "market.yaml").write_text("steps: [{at: '18:00', dim: 100}, {at: '02:00', dim: 0}]\n")
    (tmp_path / "night.yaml").write_text("name: night\nsteps: [{at: sunset, dim: 80}, {at: sunrise, dim: 0}]\n")
    caplog.set_level("INFO")
    library = ScheduleLibrary.load(tmp_path)
    assert library.names() == ["full-night", "market", "night"]
    assert library.files["night"] == tmp_path / "night.yaml" and library.get("night").steps[0].dim == 80
    assert library.files["full-night"].parent == SHIPPED_SCHEDULES_DIR
    assert f"{tmp_path / 'night.yaml'} replaces the shipped {SHIPPED_SCHEDULES_DIR / 'night.yaml'}" in caplog.messages


def test_profiles_dir_and_rules_dir_add_to_the_shipped_ones_too(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from device_registry.library import ProfileLibrary
    from device_registry.profile import SHIPPED_PROFILES_DIR
    from rules.loader import SHIPPED_RULES_DIR
    from rules.runner import configured_rule_files
    from streetwatch.config import Settings

    caplog.set_level("INFO")
    shipped_lamp = SHIPPED_PROFILES_DIR / "sw-lamp-controller.toml"
    (tmp_path / "sw-lamp-controller.toml").write_text(shipped_lamp.read_text().replace(
        'description = "', 'description = "local copy: '))
    library = ProfileLibrary.shipped(tmp_path)
    assert "sw-culvert-gauge-mqtt" in library.names()
    entry = library.entry("sw-lamp-controller")
    assert entry is not None and entry.origin == str(tmp_path / "sw-lamp-controller.toml")
    assert any("replaces the shipped" in m and "sw-lamp-controller.toml" in m for m in caplog.messages)

    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "lamps.yaml").write_text("rules: []\n")
    (rules_dir / "mine.yaml").write_text("rules: []\n")
    files = configured_rule_files(Settings(rules_dir=rules_dir))
    shipped = sorted(p.name for p in SHIPPED_RULES_DIR.iterdir() if p.suffix == ".yaml")
    assert sorted(p.name for p in files) == sorted({*shipped, "mine.yaml"})
    assert rules_dir / "lamps.yaml" in files and SHIPPED_RULES_DIR / "lamps.yaml" not in files


def test_shipped_schedules_are_valid() -> None:
    library = ScheduleLibrary.load()
    assert library.problems == {}
    night = library.get("night")
    assert [(str(s.at), s.dim) for s in night.steps] == [
        ("sunset+10m", 100), ("23:00", 50), ("01:00", 30), ("sunrise-10m", 0)]
    steps, origin = night.steps_for(date(2027, 2, 5))
    assert origin == "festival night" and [s.dim for s in steps] == [100, 0]
