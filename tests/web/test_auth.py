"""Sessions with CSRF, lockout, token expiry and revocation, disabled users, rate limits: on the live server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from people import People
from streetwatch.database import Database
from tests.web.world import PASSWORD, World, world_on

pytestmark = pytest.mark.services
DIM_INSIDE = {"target": {"kind": "device", "value": "LP-IN-2"}, "action": "dim", "level_pct": 55}


def test_a_browser_session_needs_its_csrf_token_for_changes(world: World) -> None:
    with world.client() as browser:
        login = browser.post("/api/v1/session", json={"user": "operator-user", "password": PASSWORD})
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "sw_session=" in cookie
        csrf = login.json()["csrf_token"]
        assert browser.get("/api/v1/me").json()["user"] == "operator-user"
        refused = browser.post("/api/v1/commands", json=DIM_INSIDE)
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["message"]
        forged = browser.post("/api/v1/commands", json=DIM_INSIDE, headers={"X-CSRF-Token": "guess"})
        assert forged.status_code == 403
        accepted = browser.post("/api/v1/commands", json=DIM_INSIDE, headers={"X-CSRF-Token": csrf})
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["command"]["requester"] == "operator-user"
        assert browser.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 200
        browser.cookies.set("sw_session", cookie.split("sw_session=")[1].split(";")[0])
        assert browser.get("/api/v1/me").status_code == 401  # the session ended in the database


def test_repeated_failures_lock_the_user_out_even_with_the_right_password(world: World) -> None:
    with world.client() as browser:
        for _ in range(5):
            wrong = browser.post("/api/v1/session", json={"user": "installer-user", "password": "not the password"})
            assert wrong.status_code == 401
        locked = browser.post("/api/v1/session", json={"user": "installer-user", "password": PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        world.clock.advance(timedelta(minutes=15, seconds=1))
        assert browser.post("/api/v1/session", json={"user": "installer-user", "password": PASSWORD}).status_code == 200
    with world.client("root-admin") as admin:  # logins are recorded in the root area
        results = [(e["actor"], e["result"]) for e in admin.get("/api/v1/audit?user=installer-user").json()["entries"]]
    assert results[:2] == [("installer-user", "ok"), ("installer-user", "refused: locked out")]


def test_tokens_expire_and_revoked_or_disabled_ones_stop_at_once(world: World) -> None:
    async def issue(db: Database) -> tuple[str, str, str]:
        people = People(db)
        now = world.clock.now()
        await people.users.add("bridge", PASSWORD, now=now)
        await people.grants.grant("bridge", "viewer", "baiyun", by="test", now=now)
        short = await people.issue_token("bridge", "viewer", "baiyun", lifetime=timedelta(hours=1), now=now)
        revoked = await people.issue_token("bridge", "viewer", "baiyun", lifetime=timedelta(days=1), now=now)
        return short.secret, revoked.secret, revoked.token.id

    short, revoked, revoked_id = world.run(issue)
    world.tokens["short"], world.tokens["revoked"] = short, revoked
    with world.client("short") as client:
        assert client.get("/api/v1/me").status_code == 200
    with world.client("revoked") as client:
        assert client.get("/api/v1/me").status_code == 200
        world.run(lambda db: People(db).tokens.revoke(revoked_id, now=world.clock.now()))
        gone = client.get("/api/v1/me")
        assert gone.status_code == 401 and "revoked" in gone.json()["message"]
    world.clock.advance(timedelta(hours=1))
    with world.client("short") as client:
        assert client.get("/api/v1/me").status_code == 401
    with world.client("viewer") as client:
        assert client.get("/api/v1/me").status_code == 200
        world.run(lambda db: People(db).users.set_disabled("viewer-user", True))
        try:
            assert client.get("/api/v1/me").status_code == 401
        finally:
            world.run(lambda db: People(db).users.set_disabled("viewer-user", False))


def test_a_caller_over_its_rate_is_told_when_to_retry(tmp_path: Path) -> None:
    with world_on(f"sqlite:///{tmp_path / 'rate.db'}", requests_per_minute=5) as small, small.client("viewer") as c:
        answers = [c.get("/api/v1/me") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[-1].headers["Retry-After"] == "12"  # one request per 12 s at 5 a minute
        small.clock.advance(timedelta(seconds=12))
        assert c.get("/api/v1/me").status_code == 200
