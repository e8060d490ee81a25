"""``streetwatch config show`` names every setting but prints no secret: passwords, tokens, URL credentials."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SECRETS = ("dbpa55", "mqttpa55", "hookpa55", "hmacs3cret", "qtok3n")


def test_config_show_redacts_every_secret(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        'mqtt_url = "mqtts://gateway:mqttpa55@broker.example:8883"\n'
        "[[notifications.webhooks]]\n"
        'url = "https://ops:hookpa55@hooks.example/alert?token=qtok3n&site=3"\n'
        'secret = "hmacs3cret"\n'
    )
    # As an operator runs it, in a real process.
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(config), "config", "show"],
        env={"PATH": "/usr/bin:/bin",
             "STREETWATCH_DATABASE_URL": "postgresql://streetwatch:dbpa55@db.example:5432/sw?sslmode=require"},
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for secret in SECRETS:
        assert secret not in out, f"{secret} printed by config show"
    # What is not secret is still shown, so the operator can check where things go.
    assert "postgresql://streetwatch:***@db.example:5432/sw?sslmode=require" in out
    assert "mqtts://gateway:***@broker.example:8883" in out
    assert "https://ops:***@hooks.example/alert?token=***&site=3" in out
    assert "notifications.webhooks[0].secret" in out
    assert "notifications.webhooks[0].timeout_s" in out
    assert "postgresql: postgresql://streetwatch:***@db.example" in out
