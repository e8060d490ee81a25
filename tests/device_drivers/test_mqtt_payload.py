from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_drivers.errors import PayloadError
from device_drivers.mqtt import (
    Command,
    CommandAck,
    RejectReason,
    encode_message,
    encode_telemetry,
    parse_ack,
    parse_command,
    parse_status,
    parse_telemetry,
)
from device_registry.profile import Profile, check_profile, shipped_profiles

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def probe(profiles: dict[str, Profile]) -> Profile:
    return profiles["sw-water-quality-probe-mqtt"]


@pytest.fixture
def third_party() -> Profile:
    """A vendor's gauge that sends metres inside ``data`` and its own time field."""
    profile, problems = check_profile({
        "name": "vendor-gauge", "kind": "culvert_gauge", "transport": "mqtt",
        "mqtt": {"timestamp_path": "meta.time", "metrics": [
            {"name": "distance_mm", "path": "data.dist_m", "scale": 1000},
            {"name": "temperature_c", "path": "data.temp_f", "scale": 5 / 9, "offset": -32 * 5 / 9},
            {"name": "mounting_height_mm", "path": "cfg.height_mm"},
        ]},
        "derived": [{"name": "water_level_mm", "expression": "mounting_height_mm - distance_mm"}],
    })
    assert profile is not None, problems
    return profile


def parse(profile: Profile, document: object, received_at: datetime = NOW) -> tuple[dict[str, float], list[str]]:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    result = parse_telemetry("DEV-1", raw, profile, received_at)
    assert all(r.device_id == "DEV-1" for r in result.readings)
    return {r.metric: r.value for r in result.readings}, [str(r) for r in result.rejections]


def test_default_shape_with_and_without_timestamp(probe: Profile) -> None:
    result = parse_telemetry("WQ-1", b'{"ts": "2026-07-01T11:59:30Z", "ph": 7.2, "temperature_c": 14}', probe, NOW)
    assert [(r.metric, r.value, r.ts) for r in result.readings] == [
        ("ph", 7.2, datetime(2026, 7, 1, 11, 59, 30, tzinfo=UTC)),
        ("temperature_c", 14.0, datetime(2026, 7, 1, 11, 59, 30, tzinfo=UTC))]
    assert result.rejections == []
    epoch_ms = int(datetime(2026, 7, 1, 11, 0, tzinfo=UTC).timestamp() * 1000)
    result = parse_telemetry("WQ-1", json.dumps({"ts": epoch_ms, "ph": 7}).encode(), probe, NOW)
    assert result.readings[0].ts == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    result = parse_telemetry("WQ-1", b'{"ph": 7}', probe, NOW)
    assert result.readings[0].ts == NOW  # no ts: the time it was received
    result = parse_telemetry("WQ-1", b'{"ts": "2026-07-01T19:00:00+08:00", "ph": 7}', probe, NOW)
    assert result.readings[0].ts == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)


def test_a_partly_valid_payload_keeps_its_valid_metrics(probe: Profile) -> None:
    values, rejections = parse(probe, b'{"ph": 7.1, "turbidity_ntu": "12", "temperature_c": NaN, '
                                      b'"conductivity_us_cm": Infinity, "colour": 3, "dissolved_oxygen_mg_l": [1],'
                                      b' "ammonia_nitrogen_mg_l": 1e999}')
    assert values == {"ph": 7.1}
    assert sorted(rejections) == sorted([
        "wrong_type turbidity_ntu: a string, not a number",
        "not_finite temperature_c: nan",
        "not_finite conductivity_us_cm: inf",
        "wrong_type dissolved_oxygen_mg_l: an array, not a number",
        "not_finite ammonia_nitrogen_mg_l: inf",
        "unknown_metric colour: not in the device's profile",
    ])


@pytest.mark.parametrize(("payload", "reason"), [
    (b"", RejectReason.not_json),
    (b"{ph: 7}", RejectReason.not_json),
    (b"\xff\xfe", RejectReason.not_json),
    (b"[7.2]", RejectReason.not_object),
    (b'"ph"', RejectReason.not_object),
    (b"null", RejectReason.not_object),
    (b'{"ts": "yesterday", "ph": 7}', RejectReason.bad_timestamp),
    (b'{"ts": "2026-07-01T11:00:00", "ph": 7}', RejectReason.bad_timestamp),  # no offset: ambiguous
    (b'{"ts": "2026-07-03T12:00:00Z", "ph": 7}', RejectReason.future_timestamp),  # two days ahead
    (b'{"ts": "1999-12-31T23:59:59Z", "ph": 7}', RejectReason.bad_timestamp),
    (b'{"ts": 1782900000, "ph": 7}', RejectReason.bad_timestamp),  # epoch seconds, not ms
    (b'{"ts": true, "ph": 7}', RejectReason.bad_timestamp),
    (b'{"ts": 1e300, "ph": 7}', RejectReason.bad_timestamp),
])
def test_whole_payload_rejections(probe: Profile, payload: bytes, reason: RejectReason) -> None:
    result = parse_telemetry("WQ-1", payload, probe, NOW)
    assert result.readings == []
    assert [r.reason for r in result.rejections] == [reason]


def test_epoch_seconds_are_explained(probe: Profile) -> None:
    _, rejections = parse(probe, {"ts": 1782900000, "ph": 7})
    assert rejections == ["bad_timestamp: 1782900000 looks like epoch seconds; send milliseconds"]


def test_oversized_payloads_are_not_parsed(probe: Profile) -> None:
    big = json.dumps({"ph": 7, "pad": "x" * 70_000}).encode()
    result = parse_telemetry("WQ-1", big, probe, NOW)
    assert result.readings == [] and result.rejections[0].reason is RejectReason.oversized
    assert parse_telemetry("WQ-1", b'{"ph": 7}', probe, NOW, max_bytes=8).rejections[0].reason == "oversized"


def test_profile_mapping_for_third_party_shapes(third_party: Profile) -> None:
    values, rejections = parse(third_party, {
        "meta": {"time": "2026-07-01T11:58:00Z", "fw": "1.2"},
        "data": {"dist_m": 2.75, "temp_f": 50.0},
        "cfg": {"height_mm": 3200},
    })
    assert values == pytest.approx({"distance_mm": 2750.0, "temperature_c": 10.0, "mounting_height_mm": 3200.0,
                                    "water_level_mm": 450.0})
    assert rejections == ["unknown_metric meta.fw: not in the device's profile"]
    values, rejections = parse(third_party, {"data": {"dist_m": 1.5}})
    assert values == {"distance_mm": 1500.0}  # no height: no derived level, and that is no error
    assert rejections == []


def test_bools_count_as_numbers(profiles: dict[str, Profile]) -> None:
    profile, _ = check_profile({"name": "sw", "kind": "lamp_controller", "transport": "mqtt",
                                "mqtt": {"metrics": [{"name": "relay_on"}]}})
    assert profile is not None
    assert parse(profile, {"relay_on": True}) == ({"relay_on": 1.0}, [])


PROBE = shipped_profiles()["sw-water-quality-probe-mqtt"]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["ph", "temperature_c", "turbidity_ntu", "junk", "ts"]),
                       st.one_of(st.floats(allow_nan=True), st.integers(-10**30, 10**30), st.text(max_size=5),
                                 st.booleans(), st.none(), st.lists(st.integers(), max_size=2))))
def test_any_object_parses_without_raising(document: dict[str, object]) -> None:
    probe = PROBE
    text = json.dumps(document).encode()
    result = parse_telemetry("WQ-1", text, probe, NOW)
    for reading in result.readings:
        assert math.isfinite(reading.value)
        assert reading.metric in probe.metric_names()
    used = {r.metric for r in result.readings} | {r.metric for r in result.rejections}
    if not any(r.reason in (RejectReason.bad_timestamp, RejectReason.future_timestamp) for r in result.rejections):
        assert used >= set(document) - {"ts"}  # every key was either used or rejected


def test_status_messages() -> None:
    assert parse_status(b"online") == "online"
    assert parse_status(b" OFFLINE\n") == "offline"
    with pytest.raises(PayloadError, match="expected 'online' or 'offline'"):
        parse_status(b"on")


def test_command_and_ack_messages() -> None:
    command = parse_command(b'{"id": "c-1", "action": "set_dim", "params": {"level_pct": 40}}')
    assert command == Command(id="c-1", action="set_dim", params={"level_pct": 40})
    assert parse_command(encode_message(command)) == command
    ack = CommandAck(id="c-1", ok=True)
    assert encode_message(ack) == b'{"id":"c-1","ok":true}'
    assert parse_ack(b'{"id": "c-1", "ok": false, "error": "relay stuck"}').error == "relay stuck"
    for bad, match in [(b'{"id": "c-1"}', "action: Field required"),
                       (b'{"id": "c 1", "action": "x"}', "id: String should match pattern"),
                       (b'{"id": "c-1", "action": "set_dim", "extra": 1}', "extra: Extra inputs"),
                       (b"[]", "Command: \\(message\\): Input should be"),
                       (b"nope", "Command: not JSON")]:
        with pytest.raises(PayloadError, match=match):
            parse_command(bad)
    with pytest.raises(PayloadError, match="ok: Input should be a valid boolean"):
        parse_ack(b'{"id": "c-1", "ok": "yes"}')


def test_a_command_carries_its_expiry() -> None:
    expiring = parse_command(b'{"id": "7", "action": "switch", "params": {"on": false},'
                             b' "expires_at": "2026-12-21T10:15:00Z"}')
    assert expiring.expires_at == datetime(2026, 12, 21, 10, 15, tzinfo=UTC)
    assert b'"expires_at":"2026-12-21T10:15:00Z"' in encode_message(expiring)
    assert parse_command(encode_message(expiring)) == expiring
    for bad, match in [(b'{"id": "7", "action": "x", "expires_at": "soon"}', "not an ISO 8601 time"),
                       (b'{"id": "7", "action": "x", "expires_at": "2026-12-21T10:15:00"}', "timezone"),
                       (b'{"id": "7", "action": "x", "expires_at": 5}', "expires_at")]:
        with pytest.raises(PayloadError, match=match):
            parse_command(bad)


def test_encode_telemetry_round_trips(probe: Profile) -> None:
    ts = NOW - timedelta(seconds=5)
    text = encode_telemetry({"ph": 7.5, "temperature_c": 12.25}, ts)
    assert text.startswith(b'{"ts":"2026-07-01T11:59:55Z"')
    result = parse_telemetry("WQ-1", text, probe, NOW)
    assert [(r.metric, r.value, r.ts) for r in result.readings] == [("ph", 7.5, ts), ("temperature_c", 12.25, ts)]


@pytest.mark.parametrize("profile_name", ["probe", "third_party"])
def test_a_payload_may_name_its_own_device_only(profile_name: str, request: pytest.FixtureRequest) -> None:
    profile: Profile = request.getfixturevalue(profile_name)
    own = parse(profile, {"device_id": "DEV-1", "ph": 7.1} if profile_name == "probe"
                else {"device_id": "DEV-1", "data": {"dist_m": 1.5}})
    assert own[1] == [] and len(own[0]) == 1
    for named in ("WQ-2", 7, None, ["WQ-1"]):
        parsed = parse_telemetry("WQ-1", json.dumps({"device_id": named, "ph": 7.1}).encode(), profile, NOW)
        assert parsed.readings == []
        assert [(r.reason, r.metric) for r in parsed.rejections] == [(RejectReason.device_mismatch, None)]
        assert "on the topic of WQ-1" in parsed.rejections[0].detail


@pytest.mark.parametrize(("ahead", "accepted"), [
    (timedelta(hours=23), False), (timedelta(minutes=5, seconds=1), False), (timedelta(minutes=5), True),
    (timedelta(minutes=4), True), (timedelta(hours=-23), True)])
def test_a_reading_from_the_future_is_refused_beyond_the_allowed_clock_skew(
        probe: Profile, ahead: timedelta, accepted: bool) -> None:
    # A clock 23 h ahead would make its reading the device's "latest" for a day, hiding the real ones.
    ts = (NOW + ahead).isoformat()
    result = parse_telemetry("WQ-1", json.dumps({"ts": ts, "ph": 7}).encode(), probe, NOW)
    assert len(result.readings) == (1 if accepted else 0)
    if not accepted:
        assert [(r.reason.value, r.metric) for r in result.rejections] == [("future_timestamp", None)]
        assert "ahead of the gateway's clock (at most 300 s)" in result.rejections[0].detail


def test_the_allowed_clock_skew_is_a_parameter(probe: Profile) -> None:
    payload = json.dumps({"ts": (NOW + timedelta(minutes=30)).isoformat(), "ph": 7}).encode()
    assert parse_telemetry("WQ-1", payload, probe, NOW, max_ahead=timedelta(hours=1)).readings
    assert not parse_telemetry("WQ-1", payload, probe, NOW, max_ahead=timedelta(0)).readings
