"""``streetwatch duty …`` as an administrator types it: rotas in the area's zone, contacts, responsibility."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from duty.outbox import Outbox, OutboxItem
from gateway.cli import main
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.test_files import GOOD

pytestmark = pytest.mark.services

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    (tmp_path / "duty").mkdir()
    (tmp_path / "duty" / "jingtai.yaml").write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("STREETWATCH_DUTY__DUTY_DIR", str(tmp_path / "duty"))

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _setup(cli: Cli) -> None:
    assert cli("area", "add", "baiyun", "--name", "Baiyun", "--level", "district")[0] == 0
    assert cli("area", "add", "jingtai", "--name", "Jingtai", "--level", "street", "--parent", "baiyun")[0] == 0
    for name in ("wang", "li", "zhao", "chen"):
        code, _, err = cli("user", "add", name, "--role", "duty_officer", "--area", "baiyun", "--password-stdin",
                           stdin="a long enough password\n")
        assert code == 0, err


def test_duty_show_answers_who_is_on_duty_in_the_areas_zone(cli: Cli) -> None:
    _setup(cli)
    assert cli("duty", "responsible", "add", "zhao", "--area", "baiyun", "--head")[0] == 0
    code, out, err = cli("duty", "show", "--area", "jingtai", "--at", "2026-12-07T20:00:01", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["area"], r["on_duty"], r["head"]) for r in rows] == [
        ("jingtai", "li", ""), ("baiyun", "(no rota)", "zhao"), ("root", "(no rota)", "")]
    assert rows[0]["local_time"] == "2026-12-07 20:00:01 CST"
    # the same instant written in UTC
    code, out, _ = cli("duty", "show", "--area", "jingtai", "--at", "2026-12-07T11:59:59+00:00", "--format", "json")
    assert json.loads(out)[0]["on_duty"] == "wang"
    assert cli("duty", "validate") == (0, "duty files are valid\n", "")


def test_bad_input_gets_one_line_and_exit_2(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(cli)
    code, _, err = cli("duty", "contact", "add", "wang", "dingtalk", "https://evil.example.org/robot/send")
    assert code == 2 and err.strip().endswith("is on oapi.dingtalk.com, not evil.example.org")
    assert "Traceback" not in err
    code, _, err = cli("duty", "contact", "add", "wang", "email", "not-an-address")
    assert code == 2 and "not an e-mail address" in err
    code, _, err = cli("duty", "contact", "add", "nobody", "sms", "13800138000")
    assert code == 2 and "no user 'nobody'" in err
    code, _, err = cli("duty", "show", "--area", "nowhere")
    assert code == 2 and "no area 'nowhere'" in err
    (tmp_path / "duty" / "more.yaml").write_text(
        "rotas:\n  - area: baiyun\n    shifts:\n      - {days: [mon], start: '08:00', end: '09:00', person: ghost}\n",
        encoding="utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "tasks.yaml").write_text(
        "rules:\n  - name: level\n    kind: threshold\n    metric: water_level_mm\n    levels: {red: 800}\n"
        "    actions: [{at: red, action: dispatch_task, params: {type: send_pump, to: pump-crew-9}}]\n",
        encoding="utf-8")
    monkeypatch.setenv("STREETWATCH_RULES_DIR", str(tmp_path / "rules"))
    code, _, err = cli("duty", "validate")
    assert code == 2 and "more.yaml:4: person 'ghost' does not exist" in err
    assert "tasks.yaml:2: rule level: actions[0].params.to: person 'pump-crew-9' does not exist" in err
    (tmp_path / "duty" / "more.yaml").write_text(
        "rotas:\n  - area: baiyun\n    shifts:\n      - {days: [mon], start: '08:00', end: '10:00', person: li}\n"
        "      - {days: [mon], start: '09:00', end: '11:00', person: wang}\n", encoding="utf-8")
    code, _, err = cli("duty", "show", "--area", "jingtai")
    assert code == 2 and "more.yaml:5: shift of wang (mon 09:00–mon 11:00) overlaps the shift of li" in err
    assert cli("duty", "contact", "add", "li", "email", "li@example.org")[0] == 0  # the rest keeps working


def test_contacts_are_stored_normalised_and_secrets_redacted(cli: Cli) -> None:
    _setup(cli)
    assert cli("duty", "contact", "add", "wang", "sms", "138 0013 8000")[0] == 0
    assert cli("duty", "contact", "add", "wang", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t",
               "--secret", "SECabc")[0] == 0
    _, out, _ = cli("duty", "contact", "list", "wang", "--format", "json")
    assert json.loads(out) == [
        {"person": "wang", "channel": "dingtalk", "address": "https://oapi.dingtalk.com/robot/send?access_token=t",
         "secret": "(set)", "language": "zh"},
        {"person": "wang", "channel": "sms", "address": "+8613800138000", "secret": "", "language": "zh"}]
    assert "SECabc" not in out


def test_silences_are_set_listed_ended_and_audited(cli: Cli) -> None:
    _setup(cli)
    code, out, err = cli("duty", "silence", "add", "--area", "jingtai", "--for", "2h", "--reason", "pump works",
                         "--by", "ops")
    assert code == 0, err
    assert out.startswith("silence 1 on area jingtai until ")
    code, out, _ = cli("duty", "silence", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert (listed["target"], listed["reason"], listed["by"]) == ("area:jingtai", "pump works", "ops")
    assert cli("duty", "silence", "end", "1") == (0, "silence 1 ended\n", "")
    code, _, err = cli("duty", "silence", "end", "1")
    assert code == 2 and "silence 1 has ended already" in err
    assert json.loads(cli("duty", "silence", "list", "--format", "json")[1]) == []
    code, _, err = cli("duty", "silence", "add", "--area", "jingtai", "--for", "soon", "--reason", "x")
    assert code == 2 and "--for 'soon'" in err
    code, out, _ = cli("audit", "list", "--format", "json")
    actions = [(e["action"], e["result"]) for e in json.loads(out) if e["action"].startswith("duty.")]
    assert actions == [("duty.silence.end", "refused: silence 1 has ended already"), ("duty.silence.end", "ok"),
                       ("duty.silence.add", "ok")]


def test_outbox_shows_who_was_told_what(cli: Cli, database_url: str) -> None:
    _setup(cli)
    assert cli("duty", "contact", "list")[0] == 0  # any duty command migrates the duty tables

    async def seed() -> None:
        async with open_database(DatabaseUrl.parse(database_url)) as db:
            outbox = Outbox(db)
            now = datetime(2026, 7, 1, tzinfo=UTC)
            await outbox.enqueue([OutboxItem(f"7:1:0:wang:{c}", 7, "wang", c, "a", "s", "b") for c in ("sms", "email")]
                                 + [OutboxItem("8:1:0:li:sms", 8, "li", "sms", "+86138", "s", "b")], now)
            first = (await outbox.of_alert(7))[0]
            await outbox.mark_sent(first.id, now)
            await outbox.mark_failed(first.id + 1, now, "SMTP refused", retry_at=None)

    asyncio.run(seed())
    code, out, err = cli("duty", "outbox", "--alert", "7", "--format", "json")
    assert code == 0, err
    assert [(r["to"], r["channel"], r["status"], r["error"]) for r in json.loads(out)] == [
        ("wang", "email", "given up", "SMTP refused"), ("wang", "sms", "sent", "")]
    code, out, _ = cli("duty", "outbox", "--unsent", "--format", "json")
    assert [(r["alert"], r["status"]) for r in json.loads(out)] == [(8, "waiting"), (7, "given up")]
