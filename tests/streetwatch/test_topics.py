from __future__ import annotations

from streetwatch import topics


def test_contract_topics() -> None:
    assert topics.telemetry("CG-BY-01") == "streetwatch/devices/CG-BY-01/telemetry"
    assert topics.status("CG-BY-01") == "streetwatch/devices/CG-BY-01/status"
    assert topics.command("LP-1") == "streetwatch/devices/LP-1/cmd"
    assert topics.command_ack("LP-1") == "streetwatch/devices/LP-1/cmd/ack"
    assert topics.alert("red", "CG-1") == "streetwatch/alerts/red/CG-1"
    assert topics.shared(topics.TELEMETRY_SUBSCRIPTION, "gw") == "$share/gw/streetwatch/devices/+/telemetry"


def test_parse_device_topic() -> None:
    parsed = topics.parse_device_topic("streetwatch/devices/LP-1/cmd/ack")
    assert parsed == topics.DeviceTopic("LP-1", "cmd/ack")
    assert topics.parse_device_topic("streetwatch/devices/LP-1/telemetry") == topics.DeviceTopic("LP-1", "telemetry")
    assert topics.parse_device_topic("streetwatch/devices//telemetry") is None
    assert topics.parse_device_topic("other/devices/LP-1/telemetry") is None
    assert topics.parse_device_topic("streetwatch/devices/LP-1/weird") is None
