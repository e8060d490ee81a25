"""The registry on both stores: each test runs on SQLite and on TimescaleDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from device_registry import (
    DeviceFilter,
    DeviceNotFound,
    DeviceStatus,
    DuplicateDevice,
    ImportRejected,
    ImportRow,
    InvalidDevice,
    ProfileRejected,
    Registry,
    RegistryError,
    StatusChangeRefused,
    UnknownTarget,
    device_from_fields,
    open_registry,
    read_csv,
)
from device_registry.history import diff
from streetwatch.clock import FakeClock
from tests.device_registry.conftest import GAUGE, LAMP

pytestmark = pytest.mark.services


def lamp(number: int, **changes: str) -> dict[str, str]:
    return {**LAMP, "id": f"LP-BY-{number:06d}", "host": f"10.20.{number // 250}.{number % 250 + 1}", **changes}


async def _add(registry: Registry, *rows: dict[str, str]) -> None:
    for row in rows:
        await registry.add(device_from_fields(row), by="alice")


async def test_add_get_and_filtered_lists(registry: Registry) -> None:
    await _add(registry, lamp(1), lamp(2, site="Liwan", groups="riverside-night;bridge", tags="pole=concrete"),
               lamp(3, tags="pole=steel;street=Jiangbin"), GAUGE)
    assert (await registry.get("LP-BY-000001")) == device_from_fields(lamp(1))
    assert await registry.get("LP-NOPE") is None

    async def ids(**criteria: object) -> list[str]:
        return [d.id for d in await registry.list(DeviceFilter(**criteria))]  # type: ignore[arg-type]

    assert await ids() == ["CG-TH-0007", "LP-BY-000001", "LP-BY-000002", "LP-BY-000003"]
    assert await ids(kind="culvert_gauge") == ["CG-TH-0007"]
    assert await ids(site="Liwan") == ["LP-BY-000002"]
    assert await ids(group="riverside-night") == ["LP-BY-000001", "LP-BY-000002", "LP-BY-000003"]
    assert await ids(group="bridge", site="Liwan") == ["LP-BY-000002"]
    assert await ids(tags={"pole": "steel"}) == ["LP-BY-000001", "LP-BY-000003"]
    assert await ids(tags={"pole": "steel", "street": "Jiangbin"}) == ["LP-BY-000003"]
    assert await ids(status=DeviceStatus.registered, kind="lamp_controller", site="Tianhe") == []
    assert await registry.groups() == [("bridge", 1), ("riverside-night", 3), ("underpass-hazard", 1)]


async def test_add_refuses_duplicates_and_what_the_profile_rules_out(registry: Registry) -> None:
    await _add(registry, LAMP)
    with pytest.raises(DuplicateDevice, match="id: device 'LP-BY-000123' is already registered"):
        await _add(registry, {**LAMP, "host": "10.9.9.9"})
    with pytest.raises(InvalidDevice) as err:
        await _add(registry, {**LAMP, "id": "LP-2", "host": "10.20.0.16", "profile": "acme-lc200"})
    assert [p.field for p in err.value.problems] == ["profile"]
    with pytest.raises(InvalidDevice, match="transport: profile sw-culvert-gauge-mqtt speaks mqtt"):
        await _add(registry, {**LAMP, "id": "CG-9", "kind": "culvert_gauge", "profile": "sw-culvert-gauge-mqtt"})
    await registry.retire(LAMP["id"], by="alice")
    with pytest.raises(DuplicateDevice, match="retired"):
        await _add(registry, LAMP)
    assert await registry.revision() == 2  # the add and the retirement; refusals change nothing


async def test_one_modbus_address_one_device_in_service(registry: Registry) -> None:
    await _add(registry, LAMP, {**LAMP, "id": "LP-2", "unit": "2"}, {**GAUGE, "id": "CG-1"}, {**GAUGE, "id": "CG-2"})
    with pytest.raises(InvalidDevice, match=r"^unit: unit 1 on 10\.20\.0\.15:502 is already used by LP-BY-000123$"):
        await _add(registry, {**LAMP, "id": "LP-3"})
    with pytest.raises(InvalidDevice, match=r"unit: unit 2 on 10\.20\.0\.15:502 is already used by LP-2"):
        await registry.update(LAMP["id"], {"unit": "2"}, by="x")
    await registry.update(LAMP["id"], {"unit": "3"}, by="x")  # moving itself is fine
    await registry.retire("LP-2", by="x")
    await _add(registry, {**LAMP, "id": "LP-3", "unit": "2"})  # a retired device frees its address
    with pytest.raises(InvalidDevice, match="already used by LP-3"):
        await registry.set_status("LP-2", DeviceStatus.registered, by="x")
    rtu = {**LAMP, "transport": "modbus-rtu", "host": "", "serial_port": "/dev/ttyUSB0", "unit": "7"}
    with pytest.raises(ImportRejected) as err:
        await registry.import_devices(_rows({**rtu, "id": "R-1"}, {**rtu, "id": "R-2", "unit": "8"},
                                            {**rtu, "id": "R-3"}, {**LAMP, "id": "R-4", "unit": "3"}), by="x")
    assert [str(p) for p in err.value.problems] == [
        "line 4: unit: unit 7 on /dev/ttyUSB0 is already used by R-1",
        "line 5: unit: unit 3 on 10.20.0.15:502 is already used by LP-BY-000123",
    ]


async def test_updates_are_recorded_with_who_and_when(registry: Registry, clock: FakeClock) -> None:
    await _add(registry, GAUGE)
    start = await registry.revision()
    clock.advance(timedelta(hours=2))
    after = await registry.update("CG-TH-0007", {"thresholds": "water_level_mm.red=750", "site": "Tianhe-N"},
                                  by="bob", note="surveyed again")
    assert after.thresholds == {"water_level_mm": {"red": 750.0}}
    assert await registry.update("CG-TH-0007", {"site": "Tianhe-N"}, by="bob") == after  # no change, no record
    assert await registry.revision() == start + 1
    added, changed = await registry.history("CG-TH-0007")
    assert (added.action, added.by) == ("added", "alice")
    assert added.changes["kind"] == ("", "culvert_gauge")
    assert changed.by == "bob"
    assert changed.at == clock.now()
    assert changed.at - added.at == timedelta(hours=2)
    assert changed.note == "surveyed again"
    assert changed.changes == {"site": ("Tianhe", "Tianhe-N"),
                               "thresholds": ("water_level_mm.orange=500;water_level_mm.red=800",
                                              "water_level_mm.red=750")}
    with pytest.raises(InvalidDevice, match="id: a device's id cannot change"):
        await registry.update("CG-TH-0007", {"id": "CG-TH-0008"}, by="bob")
    with pytest.raises(InvalidDevice, match=r"^lat: Input should be less than or equal to 90 \(got 99\)$"):
        await registry.update("CG-TH-0007", {"lat": "99"}, by="bob")
    with pytest.raises(DeviceNotFound, match="id: no device 'CG-NOPE' is registered"):
        await registry.history("CG-NOPE")


async def test_lifecycle_and_retirement_keep_the_device(registry: Registry) -> None:
    await _add(registry, LAMP)
    device_id = LAMP["id"]
    with pytest.raises(StatusChangeRefused, match="commission it first"):
        await registry.set_status(device_id, DeviceStatus.active, by="carol")
    await registry.set_status(device_id, "commissioned", by="probe", note="12 metrics read")
    await registry.set_status(device_id, DeviceStatus.active, by="carol")
    await registry.retire(device_id, by="carol", note="pole replaced")
    assert await registry.list() == []
    retired = await registry.list(DeviceFilter(status=DeviceStatus.retired))
    assert [d.id for d in retired] == [device_id]
    assert retired[0].address == device_from_fields(LAMP).address
    with pytest.raises(StatusChangeRefused, match="comes back as registered"):
        await registry.set_status(device_id, DeviceStatus.active, by="carol")
    await registry.set_status(device_id, DeviceStatus.registered, by="carol")
    history = await registry.history(device_id)
    assert [(e.action, e.changes.get("status")) for e in history] == [
        ("added", ("", "registered")), ("status", ("registered", "commissioned")),
        ("status", ("commissioned", "active")), ("retired", ("active", "retired")),
        ("status", ("retired", "registered")),
    ]
    assert history[1].note == "12 metrics read"


async def test_resolve_target_for_bulk_commands(registry: Registry) -> None:
    await _add(registry, lamp(1), lamp(2, groups="riverside-night;bridge"), lamp(3, site="Liwan", tags="pole=concrete"),
               GAUGE)
    await registry.retire("LP-BY-000001", by="x")

    async def ids(*selectors: str, kind: str | None = None) -> list[str]:
        return [d.id for d in await registry.resolve_target(selectors, kind=kind)]

    assert await ids("group:riverside-night") == ["LP-BY-000002", "LP-BY-000003"]
    assert await ids("group:bridge", "site:Liwan", "CG-TH-0007") == ["CG-TH-0007", "LP-BY-000002", "LP-BY-000003"]
    assert await ids("tag:pole=concrete") == ["LP-BY-000003"]
    assert await ids("all", kind="lamp_controller") == ["LP-BY-000002", "LP-BY-000003"]
    assert await ids("kind:culvert_gauge") == ["CG-TH-0007"]
    with pytest.raises(UnknownTarget, match="'group:riverside' matches no device"):
        await ids("group:riverside")
    with pytest.raises(UnknownTarget, match="'site:Tianhe' matches no lamp_controller device"):
        await ids("site:Tianhe", kind="lamp_controller")
    with pytest.raises(UnknownTarget, match="'LP-BY-000001' is retired"):
        await ids("LP-BY-000001")
    with pytest.raises(UnknownTarget, match="is a culvert_gauge, not a lamp_controller"):
        await ids("CG-TH-0007", kind="lamp_controller")
    with pytest.raises(UnknownTarget, match="unknown selector 'zone'"):
        await ids("zone:north")
    with pytest.raises(DeviceNotFound):
        await ids("LP-BY-999999")


async def test_groups_change_in_bulk(registry: Registry) -> None:
    await _add(registry, lamp(1), lamp(2), lamp(3))
    changed = await registry.set_group("bridge", ["LP-BY-000001", "LP-BY-000002"], member=True, by="dan")
    assert [d.id for d in changed] == ["LP-BY-000001", "LP-BY-000002"]
    assert await registry.set_group("bridge", ["LP-BY-000001"], member=True, by="dan") == []
    await registry.set_group("riverside-night", ["LP-BY-000001"], member=False, by="dan")
    assert await registry.groups() == [("bridge", 2), ("riverside-night", 2)]
    assert (await registry.history("LP-BY-000001"))[-1].changes == {
        "groups": ("riverside-night;bridge", "bridge")}
    with pytest.raises(DeviceNotFound):
        await registry.set_group("bridge", ["LP-BY-000009"], member=True, by="dan")


def _rows(*rows: dict[str, str]) -> list[ImportRow]:
    return [ImportRow(line, row) for line, row in enumerate(rows, start=2)]


async def test_import_is_all_or_nothing_and_idempotent(registry: Registry) -> None:
    good = [lamp(n) for n in range(1, 51)] + [GAUGE]
    with pytest.raises(ImportRejected) as err:
        await registry.import_devices(_rows(*good, lamp(51, lat="-91"), lamp(52, unit="999")), by="eve")
    assert [str(p) for p in err.value.problems] == [
        "line 53: lat: Input should be greater than or equal to -90 (got -91)",
        "line 54: unit: Input should be less than or equal to 247 (got 999)",
    ]
    assert await registry.list() == []
    assert await registry.revision() == 0

    report = await registry.import_devices(_rows(*good, lamp(51, lat="-91")), skip_invalid=True, by="eve")
    assert (report.added, report.updated, report.unchanged, report.skipped_rows) == (51, 0, 0, 1)
    assert len(await registry.list()) == 51
    revision = await registry.revision()

    again = await registry.import_devices(_rows(*good), by="eve")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 51)
    assert await registry.revision() == revision
    assert len(await registry.history("LP-BY-000007")) == 1

    moved = [*good[:-1], {**GAUGE, "site": "Tianhe-S"}]
    with pytest.raises(ImportRejected, match="1 bad row"):
        await registry.import_devices(_rows(*moved), by="eve")
    report = await registry.import_devices(_rows(*moved), update=True, by="eve")
    assert (report.added, report.updated, report.unchanged) == (0, 1, 50)
    gauge = await registry.get("CG-TH-0007")
    assert gauge is not None and gauge.site == "Tianhe-S"
    assert (await registry.history("CG-TH-0007"))[-1].changes == {"site": ("Tianhe", "Tianhe-S")}


async def test_a_second_gateway_sees_changes_and_stored_profiles(registry: Registry, database_url: str) -> None:
    acme = ('name = "acme-lc200"\nkind = "lamp_controller"\ntransport = "modbus"\n'
            '[[modbus.metrics]]\nname = "dim_level_pct"\naddress = 0\nwritable = true\n')
    async with open_registry(database_url) as other:
        seen = await other.revision()
        assert await registry.add_profile(acme, "toml", source="acme.toml", by="frank") == "added"
        assert await registry.add_profile(acme, "toml", source="acme.toml", by="frank") == "unchanged"
        assert await other.revision() == seen + 1
        assert (await other.reload_profiles()).get("acme-lc200").model == ""
        await other.add(device_from_fields({**LAMP, "profile": "acme-lc200"}), by="frank")
        assert await registry.revision() == seen + 2
        assert (await registry.require(LAMP["id"])).profile == "acme-lc200"

    with pytest.raises(ProfileRejected, match="already stored in the database; use --replace"):
        await registry.add_profile(acme.replace("address = 0", "address = 1"), "toml", source="acme.toml", by="f")
    with pytest.raises(ProfileRejected, match="is already a shipped profile; use --replace"):
        await registry.add_profile(acme.replace("acme-lc200", "sw-lamp-controller"), "toml", source="x", by="f")
    as_gauge = acme.replace('kind = "lamp_controller"', 'kind = "culvert_gauge"')
    with pytest.raises(ProfileRejected, match="device LP-BY-000123: kind: profile acme-lc200 is for culvert_gauge"):
        await registry.add_profile(as_gauge, "toml", source="acme.toml", by="f", replace=True)
    assert await registry.add_profile(acme.replace("address = 0", "address = 4"), "toml", source="acme.toml",
                                      by="f", replace=True) == "replaced"
    with pytest.raises(ProfileRejected) as err:
        await registry.add_profile('name = "bad"\nkind = "x"\ntransport = "modbus"\n', "toml", source="bad.toml",
                                   by="f")
    assert err.value.problems == ["modbus: a modbus profile needs a [modbus] section with metrics"]


async def test_listing_many_devices_is_ordered_and_complete(registry: Registry) -> None:
    rows = [lamp(n, groups=f"g{n % 7}") for n in range(1, 2001)]
    report = await registry.import_devices(_rows(*rows), by="bench")
    assert report.added == 2000
    devices = await registry.list()
    assert [d.id for d in devices] == sorted(r["id"] for r in rows)
    assert len(await registry.list(DeviceFilter(group="g3"))) == len([n for n in range(1, 2001) if n % 7 == 3])
    assert len(await registry.get_many([r["id"] for r in rows[::3]])) == len(rows[::3])


async def test_a_change_made_meanwhile_is_not_overwritten(registry: Registry) -> None:
    await _add(registry, LAMP)
    stale = await registry.require(LAMP["id"])
    await registry.update(LAMP["id"], {"site": "Liwan"}, by="a")
    with pytest.raises(RegistryError, match="was changed meanwhile"):
        await registry.replace(stale, stale.model_copy(update={"notes": "x"}), by="b")
    assert (await registry.require(LAMP["id"])).site == "Liwan"
    assert [d.id for d in await registry.resolve_target("site:Liwan")] == [LAMP["id"]]


async def test_devices_belong_to_an_area_from_the_csv_and_filter_by_it(registry: Registry) -> None:
    text = ("id,kind,profile,transport,host,unit,lat,lon,area\n"
            "LP-A,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.1,1,23.1,113.2,jingtai\n"
            "LP-B,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.1,2,23.1,113.2,sanyuanli\n"
            "LP-C,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.1,3,23.1,113.2,\n")
    report = await registry.import_devices(read_csv(text), by="test")
    assert report.added == 3
    assert (await registry.require("LP-A")).area == "jingtai"
    assert (await registry.require("LP-C")).area == ""  # no area: the root's
    in_street = await registry.list(DeviceFilter(areas=frozenset({"jingtai", "sanyuanli"})))
    assert [d.id for d in in_street] == ["LP-A", "LP-B"]
    assert [d.id for d in await registry.list(DeviceFilter(areas=frozenset({""})))] == ["LP-C"]
    assert await registry.list(DeviceFilter(areas=frozenset())) == []
    bad = (text.splitlines()[0] + "\n"
           "LP-D,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.1,4,23.1,113.2,Bad Area\n")
    with pytest.raises(ImportRejected) as rejected:
        await registry.import_devices(read_csv(bad), by="test")
    assert [p.field for p in rejected.value.problems] == ["area"]


@pytest.mark.parametrize("count", [1, 100, 250])  # one row; exactly one full statement; two and a remainder
async def test_an_import_stores_every_row_in_file_order_whatever_the_batching(registry: Registry, count: int) -> None:
    rows = [lamp(n, groups=f"street-{n % 7};night", tags=f"pole=steel;batch={n // 100}") for n in range(count)]
    report = await registry.import_devices(_rows(*reversed(rows)), by="eve")  # file order is not id order
    assert report.added == count
    expected = {d.id: d for d in map(device_from_fields, rows)}
    assert {d.id: d for d in await registry.list()} == expected
    assert dict(await registry.groups())["night"] == count
    in_order = await registry.db.fetch_all("SELECT device_id, action, changes FROM device_history ORDER BY seq")
    assert [r["device_id"] for r in in_order] == [r["id"] for r in reversed(rows)]
    for entry in (await registry.history(rows[0]["id"]), await registry.history(rows[-1]["id"])):
        (only,) = entry
        assert only.action == "imported" and only.changes == diff(None, expected[only.device_id])
    tagged = await registry.db.fetch_all("SELECT device_id, key, value FROM device_tags WHERE key = 'batch'")
    assert sorted((r["device_id"], r["value"]) for r in tagged) == sorted((d.id, d.tags["batch"])
                                                                         for d in expected.values())
