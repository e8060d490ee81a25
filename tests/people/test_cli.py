"""``streetwatch area | user | token | audit`` as an administrator types them, on both stores."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.cli import main

pytestmark = pytest.mark.services

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("USER", "ops-admin")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_areas_users_tokens_and_the_audit_of_it_all(cli: Cli) -> None:
    assert cli("area", "add", "baiyun", "--name", "Baiyun District", "--level", "district")[0] == 0
    assert cli("area", "add", "jingtai", "--name", "Jingtai Street", "--level", "street", "--parent", "baiyun")[0] == 0
    assert cli("area", "add", "tianhe", "--name", "Tianhe District", "--level", "district")[0] == 0
    code, out, _ = cli("area", "move", "jingtai", "--parent", "tianhe")
    assert code == 0 and "/root/tianhe/jingtai/" in out
    code, out, _ = cli("area", "list", "--format", "json")
    assert [a["id"] for a in json.loads(out)] == ["root", "baiyun", "tianhe", "jingtai"]
    code, out, _ = cli("area", "show", "tianhe")
    assert "sub-areas: jingtai" in out

    code, _, err = cli("user", "add", "li.wei", "--role", "operator", "--area", "jingtai", "--password-stdin",
                       stdin="a long enough password\n")
    assert code == 0, err
    code, out, _ = cli("user", "list", "--format", "json")
    assert json.loads(out) == [{"user": "li.wei", "display_name": "", "disabled": False,
                                "grants": "operator@jingtai"}]

    code, out, err = cli("token", "create", "--user", "li.wei", "--role", "operator", "--area", "jingtai",
                         "--expires", "30d")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("sw_") and "shown only now" in err
    token_id = secret.split("_")[1]
    code, out, _ = cli("token", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["id"] == token_id and listed["state"] == "active" and secret not in out
    assert cli("token", "revoke", token_id)[0] == 0
    assert json.loads(cli("token", "list", "--format", "json")[1])[0]["state"] == "revoked"

    assert cli("user", "disable", "li.wei")[0] == 0
    code, out, _ = cli("audit", "list", "--user", "ops-admin", "--format", "json")
    actions = [e["action"] for e in json.loads(out)]
    assert actions == ["user.disable", "token.revoke", "token.create", "user.add", "area.move", "area.add",
                       "area.add", "area.add"]
    assert {e["address"] for e in json.loads(out)} == {"cli"}


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("area", "add", "x", "--name", "X", "--level", "street", "--parent", "nowhere"), "", "parent: no area 'nowhere'"),
    (("area", "move", "root", "--parent", "root"), "", "id: the root area cannot move"),
    (("user", "add", "bob", "--password-stdin"), "short\n", "password: at least 10 characters"),
    (("token", "create", "--user", "nobody", "--role", "viewer", "--area", "root"), "", "no user 'nobody'"),
    (("token", "create", "--user", "x", "--role", "viewer", "--area", "root", "--expires", "soon"), "",
     "--expires: 'soon' is not a lifetime"),
    (("audit", "list", "--since", "yesterday"), "", "--since: 'yesterday' is not a date"),
])
def test_mistakes_are_one_line_naming_the_field(cli: Cli, args: tuple[str, ...], stdin: str, message: str) -> None:
    code, _, err = cli(*args, stdin=stdin)
    assert code == 2
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert message in line


def test_a_refused_change_is_audited_as_refused(cli: Cli) -> None:
    cli("area", "add", "x", "--name", "X", "--level", "street", "--parent", "nowhere")
    _, out, _ = cli("audit", "list", "--format", "json")
    (entry,) = json.loads(out)
    assert entry["action"] == "area.add" and entry["result"].startswith("refused: parent: no area")
