"""The console's lasso, schedules, water quality, task orders, hazard points and device audit, in a real browser
against a real ``streetwatch serve`` on TimescaleDB (the city of city.py plus extras.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from benchmarks.servers import PostgresServer
from duty.tasks import Move, Tasks
from people import People
from streetwatch.database import Database
from tests.web.console.city import City
from tests.web.console.conftest import LAMPS, keep, log_in, served_city
from tests.web.console.extras import HAZARD_LAMPS, hazard_lamp_position, raise_red, seed_extras
from web.routes_hazards import convex_hull

pytestmark = pytest.mark.services
APPROVAL_THRESHOLD = 40
PHONE = {"viewport": {"width": 420, "height": 860}, "has_touch": True, "is_mobile": True}


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, postgres_server: PostgresServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    def more(made: City) -> None:
        made.run(lambda db: seed_extras(db, made.database_url, datetime.now(UTC)))
    with served_city(request, postgres_server, tmp_path_factory, more=more,
                     STREETWATCH_API__APPROVAL_THRESHOLD=str(APPROVAL_THRESHOLD)) as made:
        yield made


def riverside(i: int) -> tuple[float, float]:
    """(lat, lon) of the i-th riverside lamp, as lamp_rows places it."""
    side = int(LAMPS ** 0.5)
    return 23.16 + 0.05 * (i // side) / side, 113.26 + 0.05 * (i % side) / side


# The page point of a (lat, lon), once the map shows the riverside lamps.
_TO_PAGE = """([lat, lon]) => {
  const m = window.streetwatch.map.map;
  const at = m.latLngToContainerPoint([lat, lon]);
  const box = m.getContainer().getBoundingClientRect();
  return [box.left + at.x, box.top + at.y];
}"""
_SHOW_RIVERSIDE = "() => window.streetwatch.map.map.fitBounds([[23.155, 113.255], [23.21, 113.31]], {animate: false})"
# A quadrilateral round rows 0-2 and columns 0-3 of the riverside grid (rows 0.0071° apart): lat, lon.
SOUTH, NORTH, WEST, EAST = 23.157, 23.178, 113.257, 113.285


def _inside(lat: float, lon: float) -> bool:
    return SOUTH < lat < NORTH and WEST < lon < EAST


def _ring(page: Page) -> list[list[float]]:
    corners = [(SOUTH, WEST), (SOUTH, EAST), (NORTH, EAST), (NORTH, WEST)]
    steps = [(a[0] + (b[0] - a[0]) * k / 5, a[1] + (b[1] - a[1]) * k / 5)
             for a, b in zip(corners, corners[1:] + corners[:1], strict=True) for k in range(5)]
    return [page.evaluate(_TO_PAGE, list(p)) for p in steps]


def _draw_with_mouse(page: Page, *, shift: bool) -> None:
    points = _ring(page)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()
    if shift:
        page.keyboard.up("Shift")


def _draw_with_finger(page: Page) -> None:
    page.locator("#map").scroll_into_view_if_needed()  # the phone shows the alerts first, the map below
    # The lasso's region fills the phone's small map, clear of the legend along its bottom.
    page.evaluate(f"""() => window.streetwatch.map.map.fitBounds([[{SOUTH}, {WEST}], [{NORTH}, {EAST}]],
                   {{paddingTopLeft: [50, 30], paddingBottomRight: [30, 110], animate: false}})""")
    points = _ring(page)
    touch = page.context.new_cdp_session(page)
    start = {"x": points[0][0], "y": points[0][1]}
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [start]})
    for x, y in points[1:]:
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _command_devices(city: City, command_id: int) -> tuple[str, list[str]]:
    async def work(db: Database) -> tuple[str, list[str]]:
        row = await db.fetch_one("SELECT target_kind FROM control_commands WHERE id = ?", (command_id,))
        rows = await db.fetch_all("SELECT device_id FROM control_deliveries WHERE command_id = ? ORDER BY device_id",
                                  (command_id,))
        assert row is not None
        return str(row["target_kind"]), [str(r["device_id"]) for r in rows]
    return city.run(work)


EXPECTED = sorted(f"LP-{i:06d}" for i in range(LAMPS) if _inside(*riverside(i)))


@pytest.mark.parametrize("how", ["shift-drag", "button", "finger"])
def test_a_lasso_selects_the_lamps_inside_and_dims_exactly_them(browser: Browser, city: City, shots: Path,
                                                                 how: str) -> None:
    page = log_in(browser, city, "li.wei", **({"path": "/phone", **PHONE} if how == "finger" else {}))
    page.evaluate(_SHOW_RIVERSIDE)
    if how == "shift-drag":
        _draw_with_mouse(page, shift=True)
    else:
        page.click("#lasso")
        expect(page.locator("#lasso")).to_have_attribute("aria-pressed", "true")
        _draw_with_mouse(page, shift=False) if how == "button" else _draw_with_finger(page)
    assert len(EXPECTED) == 12
    status = page.locator("#control-status")
    expect(status).to_have_text(f"{len(EXPECTED)} lamps selected.")
    page.fill("#control-level", "30")
    page.click("#control-form button[value=dim]")
    expect(page.locator("#confirm-text")).to_have_text("Dim 12 lamps (12 lamps in the lasso) to 30 %?")
    if how == "finger":
        page.screenshot(path=shots / "phone-lasso.png")
        keep(shots / "phone-lasso.png", "phone-lasso.png")
    page.click("#confirm-yes")
    expect(status).to_contain_text("0 confirmed, 0 failed, 12 pending of 12")
    kind, devices = _command_devices(city, int(status.get_attribute("data-command") or 0))
    assert (kind, devices) == ("selection", EXPECTED)
    assert float(page.locator("body").get_attribute("data-lasso-ms") or "nan") < 50


def test_a_large_lasso_selection_waits_for_a_second_person(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    page.evaluate(_SHOW_RIVERSIDE)
    ids = page.evaluate("""() => window.streetwatch.lasso.select(
        [[23.15, 113.25], [23.15, 113.32], [23.22, 113.32], [23.22, 113.25]].map(([a, o]) => L.latLng(a, o)))""")
    assert sorted(ids) == [f"LP-{i:06d}" for i in range(LAMPS)]
    page.click("#control-form button[value=off]")
    expect(page.locator("#confirm-text")).to_have_text(f"Switch off {LAMPS} lamps ({LAMPS} lamps in the lasso)?")
    page.click("#confirm-yes")
    expect(page.locator("#control-status")).to_contain_text(
        f"Waiting for a second person to approve ({LAMPS} devices, more than api.approval_threshold "
        f"({APPROVAL_THRESHOLD}))")
    approval = page.locator("#control-status").get_attribute("data-approval")
    second = log_in(browser, city, "zhang.min")
    row = second.locator("#approval-list li", has_text=f"#{approval} ")
    expect(row).to_contain_text(f"selection:{LAMPS} devices")
    row.locator("button").click()
    expect(second.locator("#control-status")).to_contain_text(f"pending of {LAMPS}")


def test_a_schedule_is_assigned_to_a_group_in_chinese_and_english(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "zhao.lei")
    page.click("#language")
    page.wait_for_selector("html[lang=zh-CN]")
    page.wait_for_selector("body[data-ready=yes]")
    page.select_option("#control-kind", "group")
    page.fill("#control-value", "hazard-xijing")  # six lamps and a gauge, which cannot take a schedule
    page.select_option("#control-schedule", "night")
    expect(page.locator("#control-form button[value=schedule]")).to_have_text("指定时间表")
    page.click("#control-form button[value=schedule]")
    expect(page.locator("#confirm-text")).to_have_text("为 6 盏灯（group:hazard-xijing）指定时间表 night？")
    page.click("#confirm-yes")
    status = page.locator("#control-status")
    expect(status).to_contain_text("6 盏中 0 已确认")
    command_id = int(status.get_attribute("data-command") or 0)
    row = city.run(lambda db: db.fetch_one("SELECT action, params FROM control_commands WHERE id = ?", (command_id,)))
    assert row is not None and (row["action"], row["params"]) == ("set_schedule", '{"schedule": "night"}')
    page.click("#language")
    page.wait_for_selector("html[lang=en]")
    page.wait_for_selector("body[data-ready=yes]")
    page.select_option("#control-kind", "device")
    page.fill("#control-value", "LP-000001")
    page.select_option("#control-schedule", "full-night")
    page.click("#control-form button[value=schedule]")
    expect(page.locator("#confirm-text")).to_have_text("Assign schedule full-night to 1 lamps (LP-000001)?")


@pytest.mark.parametrize("layout", ["desk", "phone"])
def test_the_water_panel_shows_each_section_s_class_deciding_parameter_and_trend(
        browser: Browser, city: City, shots: Path, layout: str) -> None:
    page = log_in(browser, city, "li.wei", **({"path": "/phone", **PHONE} if layout == "phone" else {}))
    a, b = page.locator("#water-table tr[data-section=SEC-A]"), page.locator("#water-table tr[data-section=SEC-B]")
    expect(page.locator("#water-table tr.river th")).to_have_text("Shijing River")
    expect(a.locator(".wq")).to_have_text("Class IV")
    expect(a.locator(".deciding")).to_contain_text("ammonia_nitrogen_mg_l 1.2")
    expect(a.locator(".trend")).to_have_attribute("data-change", "worse")
    expect(a.locator(".trend")).to_contain_text("(yesterday III)")
    expect(b.locator(".wq")).to_have_text("Class II")
    expect(b.locator(".trend")).to_have_attribute("data-change", "better")
    # The probes on the map take their section's class.
    assert page.evaluate("['WQ-A1', 'WQ-B1'].map((id) => window.streetwatch.map.stateOf(id))") == ["wq_IV", "wq_II"]
    expect(page.locator("#legend")).to_contain_text("class IV")
    a.locator("button").click()
    expect(page.locator("#detail h2")).to_have_text("Shijing bridge · Class IV")
    chart = page.locator("#detail figure[data-probe=WQ-A1]")
    expect(chart.locator("figcaption")).to_have_text("WQ-A1 · ammonia_nitrogen_mg_l")
    expect(chart.locator("canvas")).to_have_count(1)
    page.screenshot(path=shots / f"water-{layout}.png")
    if layout == "desk":
        keep(shots / "water-desk.png", "water.png")


def test_the_water_panel_in_chinese(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "zhao.lei")
    if page.locator("html").get_attribute("lang") != "zh-CN":
        page.click("#language")
        page.wait_for_selector("html[lang=zh-CN]")
        page.wait_for_selector("body[data-ready=yes]")
    expect(page.locator("#water-title")).to_have_text("水质")
    expect(page.locator("#water-table tr[data-section=SEC-A] .wq")).to_have_text("IV 类")
    expect(page.locator("#water-table tr[data-section=SEC-A] .trend")).to_contain_text("（昨日 III 类）")
    expect(page.locator("#hazard-list li[data-hazard=XJ-UP]")).to_contain_text("Xijing underpass · 橙色 · 6 盏灯")


def test_a_viewer_of_one_street_sees_only_its_section(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "chen.jie")
    expect(page.locator("#water-table tr[data-section]")).to_have_count(1)
    expect(page.locator("#water-table tr[data-section=SEC-B]")).to_be_visible()
    expect(page.locator("#hazard-list li.empty")).to_be_visible()  # the hazard point lies in jingxi


def test_hazard_points_and_the_hull_of_their_lamp_group_are_drawn(browser: Browser, city: City, shots: Path) -> None:
    page = log_in(browser, city, "li.wei")
    item = page.locator("#hazard-list li[data-hazard=XJ-UP]")
    expect(item).to_contain_text("Xijing underpass · orange · 6 lamps")
    drawn = page.evaluate("""() => window.streetwatch.hazards.drawn.get('XJ-UP').map((shape) =>
        shape.getLatLngs ? shape.getLatLngs()[0].map((p) => [p.lng, p.lat]) : ['ring', shape.getLatLng().lat])""")
    hull, ring = drawn
    expected = convex_hull([(lon, lat) for lat, lon in map(hazard_lamp_position, range(len(HAZARD_LAMPS)))])
    assert len(hull) == len(expected) == len(HAZARD_LAMPS)
    rounded = [sorted((round(x, 5), round(y, 5)) for x, y in points) for points in (hull, expected)]
    assert rounded[0] == rounded[1]
    assert ring[0] == "ring"
    item.locator("button", has_text="Show").click()
    page.screenshot(path=shots / "hazard.png")
    keep(shots / "hazard.png", "hazard.png")
    item.locator("button", has_text="Control its lamps").click()
    expect(page.locator("#control-kind")).to_have_value("group")
    expect(page.locator("#control-value")).to_have_value("hazard-xijing")


@pytest.mark.parametrize("layout", ["desk", "phone"])
def test_a_task_order_is_dispatched_from_an_alert_and_its_state_is_shown(browser: Browser, city: City,
                                                                         layout: str) -> None:
    page = log_in(browser, city, "li.wei", **({"path": "/phone", **PHONE} if layout == "phone" else {}))
    page.wait_for_selector("body[data-live=yes]")
    alert_id = raise_red(city, "CG-0004")
    page.locator(f"li[data-alert-id='{alert_id}'] .alert-open").click()
    form = page.locator("#detail form.dispatch")
    expect(form.locator("select[name=assignee] option")).to_have_count(4)  # the city's people, not chen.jie's street
    form.locator("select[name=type]").select_option("send_pump")
    form.locator("select[name=assignee]").select_option("zhang.min")
    form.locator("button[type=submit]").click()
    status = form.locator("[role=status]")
    expect(status).to_contain_text("dispatched to zhang.min.")
    task_id = int(status.get_attribute("data-task") or 0)
    expect(page.locator(f"#detail li[data-task='{task_id}']")).to_contain_text("Send a pump")
    expect(page.locator(f"#detail li[data-task='{task_id}']")).to_have_attribute("data-state", "dispatched")

    async def accept(db: Database) -> tuple[int | None, str, str]:
        tasks = Tasks(db)
        task = await tasks.get(task_id)
        await tasks.move(task_id, Move.accept, by="zhang.min", now=datetime.now(UTC))
        entries = await People(db).audit.list(targets=frozenset({str(task_id)}))
        return task.alert_id, task.area, entries[0].action
    assert city.run(accept) == (alert_id, "jingxi", "task.create")
    # The assignee accepted elsewhere: the open detail shows it from the event stream, without reloading.
    expect(page.locator(f"#detail li[data-task='{task_id}']")).to_have_attribute("data-state", "accepted")
    expect(page.locator(f"#detail li[data-task='{task_id}']")).to_contain_text("accepted")


def test_a_viewer_sees_the_tasks_but_no_dispatch_form(browser: Browser, city: City) -> None:
    alert_id = raise_red(city, "CG-0006")
    page = log_in(browser, city, "wang.fang")
    page.locator(f"li[data-alert-id='{alert_id}'] .alert-open").click()
    expect(page.locator("#detail .tasks li.empty")).to_be_visible()
    expect(page.locator("#detail form.dispatch")).to_have_count(0)


def test_the_device_card_shows_the_audit_entries_of_the_caller_s_areas(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    page.evaluate("window.streetwatch.map.onDevice('LP-000003')")
    page.locator("#detail button", has_text="Control this lamp").click()
    page.click("#control-form button[value=on]")
    page.click("#confirm-yes")
    expect(page.locator("#control-status")).to_contain_text("pending of 1")
    page.evaluate("window.streetwatch.map.onDevice('LP-000003')")
    audit = page.locator("#detail ul.audit li")
    expect(audit.filter(has_text="li.wei (").filter(has_text="command.create LP-000003 · queued")).to_have_count(1)
    expect(audit.filter(has_text="seed.elsewhere")).to_have_count(1)
    street = log_in(browser, city, "chen.jie")
    street.evaluate("window.streetwatch.map.onDevice('LP-000003')")
    others = street.locator("#detail ul.audit li")
    expect(others.filter(has_text="command.create LP-000003")).to_have_count(1)
    expect(others.filter(has_text="seed.elsewhere")).to_have_count(0)  # recorded in jingxi, not chen.jie's street
