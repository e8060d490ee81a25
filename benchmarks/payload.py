"""Benchmark: MQTT telemetry parsing (``parse_telemetry``) in readings per second.

    streetwatch bench payload --messages 100000

Each message is a lamp's ten metrics with an ISO-8601 timestamp (about 260 bytes). The parser
runs with the standard json module, as shipped (msgspec first), and with orjson swapped in when
orjson is installed (``pip install orjson``), in alternation, three rounds each, timed in the
process's CPU time; the best round counts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from device_drivers.mqtt import payload
from device_registry.profile import Profile, check_profile

METRICS = {"supply_voltage_v": 231.4, "lamp_current_a": 0.412, "power_w": 94.75, "energy_kwh": 1234.56,
           "power_factor": 0.953, "lamp_running_hours": 70000, "controller_temp_c": -12.5, "dim_level_pct": 80,
           "relay_on": 1, "fault_bits": 17}


def lamp_mqtt_profile() -> Profile:
    profile, problems = check_profile({"name": "bench-lamp-mqtt", "kind": "lamp_controller", "transport": "mqtt",
                                       "mqtt": {"metrics": [{"name": name} for name in METRICS]}})
    assert profile is not None, problems
    return profile


def messages(count: int, now: datetime) -> list[bytes]:
    out = []
    for i in range(count):
        ts = (now - timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z")
        out.append(json.dumps({"ts": ts, **{k: v + i % 7 for k, v in METRICS.items()}}).encode())
    return out


def run(batch: list[bytes], profile: Profile, now: datetime) -> tuple[float, int]:
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    readings = 0
    for message in batch:
        readings += len(payload.parse_telemetry("LP-1", message, profile, now).readings)
    return time.process_time() - started, readings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streetwatch bench payload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="messages per round (default 100000)")
    args = parser.parse_args(argv)
    if not 0 < args.messages <= 2_000_000:
        parser.error("--messages must be 1..2000000")
    now = datetime.now(UTC)
    profile = lamp_mqtt_profile()
    batch = messages(args.messages, now)
    shipped = payload.loads
    parsers: list[tuple[str, Callable[[bytes], Any]]] = [("json (stdlib)", json.loads), ("shipped", shipped)]
    try:
        import orjson

        parsers.append(("orjson", orjson.loads))
    except ImportError:
        print("(orjson is not installed: measuring the standard parser and the shipped one)")
    best: dict[str, tuple[float, int]] = {}
    for _ in range(3):
        for name, loads in parsers:
            payload.loads = loads
            seconds, readings = run(batch, profile, now)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, readings)
    payload.loads = shipped
    json_seconds = best["json (stdlib)"][0]
    print(f"{args.messages:,} messages of {len(batch[0])} bytes, {len(METRICS)} metrics each; best of 3 rounds")
    for name, (seconds, readings) in best.items():
        print(f"{name:<14} {args.messages / seconds:>9,.0f} msg/s  {readings / seconds:>10,.0f} readings/s  "
              f"{seconds / args.messages * 1e6:5.1f} µs/msg  ({json_seconds / seconds:.2f}x json)")


if __name__ == "__main__":
    main()
