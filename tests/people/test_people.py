"""Areas, users, grants, tokens, logins and the audit log, on SQLite and TimescaleDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from people import Conflict, Invalid, People, Permission, Role, open_people
from people.logins import LoginPolicy
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import DatabaseError

pytestmark = pytest.mark.services

PASSWORD = "correct horse battery"


@pytest.fixture
async def people(database_url: str) -> AsyncIterator[People]:
    async with open_people(DatabaseUrl.parse(database_url), login_policy=LoginPolicy(max_failures_per_user=3)) as p:
        yield p


async def _city(people: People) -> None:
    await people.areas.add("baiyun", "Baiyun District", level="district", timezone="Asia/Shanghai")
    await people.areas.add("jing_tai", "Jingtai Street", parent="baiyun", level="street")
    await people.areas.add("san_yuan", "Sanyuanli Community", parent="jing_tai", level="community")
    await people.areas.add("tianhe", "Tianhe District", level="district")
    await people.areas.add("jingxi", "Jingxi Street", parent="tianhe", level="street")


async def test_areas_nest_to_any_depth_and_move_with_their_subtree(people: People) -> None:
    await _city(people)
    assert await people.areas.subtree_ids(["baiyun"]) == {"baiyun", "jing_tai", "san_yuan"}
    # '_' is a LIKE wildcard: "jing_tai" must not also cover a sibling "jingxtai".
    await people.areas.add("jingxtai", "Decoy", parent="tianhe", level="street")
    assert await people.areas.subtree_ids(["jing_tai"]) == {"jing_tai", "san_yuan"}
    moved = await people.areas.move("jing_tai", "tianhe")
    assert moved.path == "/root/tianhe/jing_tai/"
    assert (await people.areas.require("san_yuan")).path == "/root/tianhe/jing_tai/san_yuan/"
    assert await people.areas.subtree_ids(["baiyun"]) == {"baiyun"}
    assert await people.areas.timezone_of("san_yuan", "UTC") == "UTC"  # tianhe has none: the default
    await people.areas.move("jing_tai", "baiyun")
    assert await people.areas.timezone_of("san_yuan", "UTC") == "Asia/Shanghai"  # inherited from baiyun


async def test_area_mistakes_name_the_field(people: People) -> None:
    await _city(people)
    with pytest.raises(Conflict, match="own sub-area"):
        await people.areas.move("baiyun", "san_yuan")
    with pytest.raises(Invalid) as bad_parent:
        await people.areas.add("x", "X", parent="nowhere", level="street")
    assert bad_parent.value.field == "parent"
    with pytest.raises(Invalid) as bad_zone:
        await people.areas.add("y", "Y", level="street", timezone="Mars/Olympus")
    assert bad_zone.value.field == "timezone"
    with pytest.raises(Invalid) as bad_id:
        await people.areas.add("Bad Id", "Z", level="street")
    assert bad_id.value.field == "id"


async def test_passwords_are_hashed_and_disabled_users_cannot_log_in(people: People) -> None:
    clock = FakeClock()
    await people.users.add("li.wei", PASSWORD, now=clock.now())
    stored = await people.db.fetch_value("SELECT password_hash FROM users WHERE name = 'li.wei'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert (await people.users.verify("li.wei", PASSWORD)) is not None
    assert await people.users.verify("li.wei", "wrong password!") is None
    assert await people.users.verify("nobody", PASSWORD) is None
    await people.users.set_disabled("li.wei", True)
    assert await people.users.verify("li.wei", PASSWORD) is None
    with pytest.raises(Invalid, match="password"):
        await people.users.add("short", "abc", now=clock.now())


async def test_a_grant_covers_sub_areas_and_only_its_role_permissions(people: People) -> None:
    clock = FakeClock()
    await _city(people)
    await people.users.add("li.wei", PASSWORD, now=clock.now())
    await people.grants.grant("li.wei", "operator", "jing_tai", by="test", now=clock.now())
    await people.grants.grant("li.wei", "viewer", "tianhe", by="test", now=clock.now())
    caller = await people.caller_for_user("li.wei", address="127.0.0.1", via="session")
    assert caller is not None
    assert caller.areas_for(Permission.commands_create) == {"jing_tai", "san_yuan"}
    assert caller.areas_for(Permission.read) == {"jing_tai", "san_yuan", "tianhe", "jingxi"}
    assert not caller.may(Permission.alerts_manage)
    assert caller.grant_for(Permission.commands_create, "san_yuan") is not None
    assert caller.grant_for(Permission.commands_create, "jingxi") is None


async def test_tokens_are_hashed_expire_and_can_be_revoked(people: People) -> None:
    clock = FakeClock()
    await _city(people)
    await people.users.add("wall", PASSWORD, now=clock.now())
    await people.grants.grant("wall", "viewer", "baiyun", by="test", now=clock.now())
    with pytest.raises(Invalid, match="holds no operator"):
        await people.issue_token("wall", "operator", "baiyun", lifetime=timedelta(days=1), now=clock.now())
    issued = await people.issue_token("wall", "viewer", "jing_tai", lifetime=timedelta(days=1), now=clock.now())
    rows = await people.db.fetch_all("SELECT * FROM api_tokens")
    assert all(issued.secret not in str(value) for row in rows for value in row.values())
    caller = await people.caller_for_token(issued.secret, address="10.1.1.1", now=clock.now())
    assert caller is not None and caller.roles() == {Role.viewer}
    assert caller.areas_for(Permission.read) == {"jing_tai", "san_yuan"}  # the token's area, not the user's
    clock.advance(timedelta(days=1))
    assert await people.caller_for_token(issued.secret, address="10.1.1.1", now=clock.now()) is None
    second = await people.issue_token("wall", "viewer", "baiyun", lifetime=timedelta(days=1), now=clock.now())
    assert await people.caller_for_token(second.secret, address="x", now=clock.now()) is not None
    await people.tokens.revoke(second.token.id, now=clock.now())
    assert await people.caller_for_token(second.secret, address="x", now=clock.now()) is None
    third = await people.issue_token("wall", "viewer", "baiyun", lifetime=timedelta(days=1), now=clock.now())
    await people.grants.revoke("wall", "viewer", "baiyun")  # the grant goes: the token is disarmed
    assert await people.caller_for_token(third.secret, address="x", now=clock.now()) is None


async def test_repeated_login_failures_lock_the_user_out_for_the_window(people: People) -> None:
    clock = FakeClock()
    for _ in range(3):
        assert await people.logins.locked_out("li.wei", "10.0.0.1", now=clock.now()) is None
        await people.logins.record_failure("li.wei", "10.0.0.1", now=clock.now())
        clock.advance(seconds=10)
    until = await people.logins.locked_out("li.wei", "10.0.0.9", now=clock.now())
    assert until is not None and until > clock.now()
    clock.advance(timedelta(minutes=15))
    assert await people.logins.locked_out("li.wei", "10.0.0.9", now=clock.now()) is None


async def test_the_audit_log_is_append_only(people: People) -> None:
    clock = FakeClock()
    await people.audit.record(actor="li.wei", role="operator", area="jing_tai", address="10.0.0.1",
                              action="command.create", target="group:riverside", result="ok", now=clock.now(),
                              detail={"level": 30})
    (entry,) = await people.audit.list(actor="li.wei")
    assert (entry.role, entry.area, entry.detail, entry.result) == ("operator", "jing_tai", {"level": 30}, "ok")
    with pytest.raises(DatabaseError, match="append-only"):
        await people.db.execute("UPDATE audit_log SET result = 'forged'")
    with pytest.raises(DatabaseError, match="append-only"):
        await people.db.execute("DELETE FROM audit_log")
    assert await people.audit.list(areas=frozenset({"tianhe"})) == []
