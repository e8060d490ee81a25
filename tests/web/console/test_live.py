"""Live behaviour in the browser: alerts over the event stream, acknowledgement, lamp commands, roles, layouts."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from control import CommandStore, DeliveryStatus, StatusUpdate
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from streetwatch.database import Database
from tests.web.console.city import City
from tests.web.console.conftest import keep, log_in

pytestmark = pytest.mark.services
_sequence = itertools.count(1)
ALERT_BUDGET_S = 2.0


def raise_red(city: City, device: str) -> int:
    """A red water-level alert, stored as the gateway's rules engine stores it."""
    async def work(db: Database) -> int:
        change = await AlertStore(db).apply(AlertTransition(
            next(_sequence), AlertEvent.raised, f"culvert-level-{next(_sequence)}", device, "red", None,
            datetime.now(UTC), device_kind="culvert_gauge", metric="water_level_mm", value=712.0, threshold=650.0,
            message="water level 712 mm above red 650 mm"))
        assert change is not None
        return change.alert.id
    return city.run(work)


def test_a_new_alert_appears_without_reloading_and_an_ack_reaches_the_database_and_other_pages(
        browser: Browser, city: City, shots: Path) -> None:
    desk = log_in(browser, city, "li.wei")
    other = log_in(browser, city, "zhang.min", viewport={"width": 420, "height": 860}, path="/phone")
    for page in (desk, other):
        page.wait_for_selector("body[data-live=yes]")
    started = time.monotonic()
    alert_id = raise_red(city, "CG-0003")
    item = desk.locator(f"li[data-alert-id='{alert_id}']")
    expect(item).to_be_visible(timeout=ALERT_BUDGET_S * 1000)
    seen_after = time.monotonic() - started
    assert seen_after < ALERT_BUDGET_S, seen_after
    assert "sev-red" in (item.get_attribute("class") or "")
    expect(other.locator(f"li[data-alert-id='{alert_id}'] .ack")).to_be_visible(timeout=ALERT_BUDGET_S * 1000)
    other.screenshot(path=shots / "phone.png")
    keep(shots / "phone.png", "phone.png")

    item.locator(".ack").click()
    expect(desk.locator("#detail .chart")).to_be_attached()
    desk.fill("#detail textarea[name=note]", "crew on the way")
    desk.screenshot(path=shots / "alert-detail.png")
    keep(shots / "alert-detail.png", "alert-detail.png")
    desk.click("#detail form.ack button[type=submit]")
    expect(desk.locator("#detail form.ack [role=status]")).to_have_text("Acknowledged.")

    stored = city.run(lambda db: AlertStore(db).get(alert_id))
    assert stored.state.value == "acknowledged"
    assert (stored.acknowledged_by, stored.ack_note) == ("li.wei", "crew on the way")
    expect(other.locator(f"li[data-alert-id='{alert_id}']")).to_have_class("alert sev-red st-acknowledged")
    expect(other.locator(f"li[data-alert-id='{alert_id}'] .ack")).to_have_count(0)


def test_dimming_a_group_confirms_the_count_and_shows_the_deliveries_progress(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    page.wait_for_selector("body[data-live=yes]")
    page.select_option("#control-kind", "group")
    page.fill("#control-value", "riverside")
    page.fill("#control-level", "30")
    page.click("#control-form button[value=dim]")
    expect(page.locator("#confirm-text")).to_have_text(f"Dim {city.lamps} lamps (group:riverside) to 30 %?")
    page.click("#confirm-yes")
    status = page.locator("#control-status")
    expect(status).to_contain_text(f"0 confirmed, 0 failed, {city.lamps} pending of {city.lamps}")
    command_id = int(status.get_attribute("data-command") or 0)

    async def confirm_some(db: Database) -> int:
        store = await CommandStore.open(db)
        deliveries = await store.deliveries(command_id)
        # What the gateway's dispatcher records as the lamps answer: 40 confirmed, 2 failed.
        await store.record([StatusUpdate(d.id, DeliveryStatus.confirmed, 1, datetime.now(UTC))
                            for d in deliveries[:40]]
                           + [StatusUpdate(d.id, DeliveryStatus.failed, 3, datetime.now(UTC), "no answer")
                              for d in deliveries[40:42]])
        return len(deliveries)

    assert city.run(confirm_some) == city.lamps
    expect(status).to_contain_text(f"40 confirmed, 2 failed, {city.lamps - 42} pending of {city.lamps}")


def test_a_district_wide_command_waits_for_a_second_person_who_sees_it(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    page.select_option("#control-kind", "area")
    page.fill("#control-value", "baiyun")
    page.click("#control-form button[value=off]")
    expect(page.locator("#confirm-text")).to_have_text(f"Switch off {city.lamps} lamps (area:baiyun)?")
    page.click("#confirm-yes")
    expect(page.locator("#control-status")).to_contain_text("Waiting for a second person to approve (a whole district")
    assert page.locator("#approval-list button").count() == 0  # not one's own
    second = log_in(browser, city, "zhang.min")
    approval = page.locator("#control-status").get_attribute("data-approval")
    row = second.locator("#approval-list li", has_text=f"#{approval} ")
    expect(row).to_contain_text("li.wei")
    row.locator("button").click()
    # Approved: queued with exactly the devices the requester was shown, progress follows.
    expect(second.locator("#control-status")).to_contain_text(f"pending of {city.lamps}")
    expect(second.locator("#approval-list li")).to_have_count(0)


def test_a_viewer_sees_no_control_and_the_api_refuses_a_forged_command(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "wang.fang")
    raise_red(city, "CG-0005")
    expect(page.locator("#alert-list li.alert").first).to_be_visible(timeout=ALERT_BUDGET_S * 1000)
    assert page.locator("#control").is_hidden()
    assert page.locator(".ack").count() == 0
    assert "viewer" in (page.locator("body").get_attribute("class") or "")
    forged = page.evaluate("""async () => {
        const r = await fetch('/api/v1/commands', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': localStorage.getItem('streetwatch.csrf')},
            body: JSON.stringify({target: {kind: 'group', value: 'riverside'}, action: 'off'})});
        return [r.status, (await r.json()).message];
    }""")
    assert forged[0] == 403, forged
    assert "commands.create" in forged[1]


def test_the_wall_shows_the_map_and_counters_without_controls(browser: Browser, city: City, shots: Path) -> None:
    page = log_in(browser, city, "li.wei", path="/wall", viewport={"width": 1920, "height": 1080})
    assert page.locator("body").get_attribute("data-map-count") == str(city.lamps + city.gauges)
    assert page.locator(".panels").is_hidden()
    assert page.locator("#filters").is_hidden()
    counters = page.locator("#counters .counter")
    assert counters.count() >= 2
    assert sum(int((c.locator("b").text_content() or "0").replace(",", "")) for c in counters.all()) \
        == city.lamps + city.gauges
    assert float(page.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px")) >= 22
    page.screenshot(path=shots / "wall.png")
    keep(shots / "wall.png", "wall.png")


def test_chinese_is_kept_per_user(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "zhang.min")
    page.click("#language")
    page.wait_for_selector("body[data-ready=yes]")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#control-title")).to_have_text("路灯控制")
    again = log_in(browser, city, "zhang.min")
    expect(again.locator("html")).to_have_attribute("lang", "zh-CN")
    again.click("#language")
    expect(again.locator("html")).to_have_attribute("lang", "en")


def test_keyboard_reaches_the_alerts_and_focus_is_visible(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", outline
