"""The main flows pass an accessibility check of contrast and keyboard focus (tests/web/console/a11y.py says how
both are measured): log in, the desk with its map, an alert raised through the gateway and acknowledged, a group
dimmed with its confirmation, and the phone layout; and a device on the map's canvas opens from the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.console.a11y import MAX_TABS, contrast_failures, walk_focus
from tests.web.console.city import City
from tests.web.console.conftest import A_DRAWN_DEVICE, log_in, switch_language
from tests.web.console.street import publish_level

pytestmark = pytest.mark.services


class Findings:
    """What failed where, over a whole flow, so that one run names every problem."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.texts = self.controls = 0

    def contrast(self, page: Page, where: str) -> None:
        checked, failures = contrast_failures(page)
        assert checked > 0, f"{where}: no text found to check"
        self.texts += checked
        self.problems += [f"{where}: contrast {f}" for f in failures]

    def focus(self, page: Page, where: str) -> None:
        walk = walk_focus(page)
        assert walk.controls > 0, f"{where}: no control found"
        self.controls += walk.controls
        self.problems += [f"{where}: not reached by Tab: {u}" for u in walk.unreached]
        self.problems += [f"{where}: no visible focus indicator: {n}" for n in walk.no_indicator]

    def both(self, page: Page, where: str) -> None:
        self.contrast(page, where)
        self.focus(page, where)

    def report(self) -> None:
        print(f"\naccessibility: {self.texts} texts and {self.controls} controls checked, "
              f"{len(self.problems)} problem(s)")
        assert not self.problems, "\n".join(self.problems)


def test_log_in_and_the_desk_pass_contrast_and_keyboard_focus(browser: Browser, city: City) -> None:
    found = Findings()
    page = browser.new_context().new_page()
    page.goto(f"{city.url}/login")
    found.both(page, "login")
    page.fill("#user", "li.wei")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).not_to_be_empty()
    found.contrast(page, "login, refused")

    desk = log_in(browser, city, "li.wei")
    found.both(desk, "desk")
    switch_language(desk, "zh-CN")
    found.contrast(desk, "desk in Chinese")
    switch_language(desk, "en")
    found.report()


def test_an_alert_and_its_acknowledgement_pass_on_the_desk_and_the_phone(browser: Browser, city: City) -> None:
    found = Findings()
    desk = log_in(browser, city, "li.wei")
    phone = log_in(browser, city, "zhang.min", viewport={"width": 420, "height": 860}, path="/phone")
    for page in (desk, phone):
        page.wait_for_selector("body[data-live=yes]")
    publish_level(city.mqtt_url, "CG-0007", 720.0)
    for page in (desk, phone):
        expect(page.locator("li.alert[data-device='CG-0007'] .ack")).to_be_visible(timeout=10_000)
    found.both(desk, "desk with a red alert")
    found.both(phone, "phone with a red alert")
    desk.locator("li.alert[data-device='CG-0007'] .ack").click()
    expect(desk.locator("#detail form.ack")).to_be_visible()
    found.both(desk, "alert detail")
    desk.fill("#detail textarea[name=note]", "seen")
    desk.click("#detail form.ack button[type=submit]")
    expect(desk.locator("#detail .ack-form [role=status]")).to_have_text("Acknowledged.")
    expect(phone.locator("li.alert[data-device='CG-0007'].st-acknowledged")).to_be_visible()
    found.contrast(desk, "alert acknowledged")
    found.contrast(phone, "phone, alert acknowledged")
    found.report()


def test_dimming_a_group_passes_with_its_confirmation(browser: Browser, city: City) -> None:
    found = Findings()
    page = log_in(browser, city, "li.wei")
    page.wait_for_selector("body[data-live=yes]")
    page.select_option("#control-kind", "group")
    page.fill("#control-value", "riverside")
    page.fill("#control-level", "70")
    page.click("#control-form button[value=dim]")
    expect(page.locator("#confirm")).to_be_visible()
    found.both(page, "confirmation dialog")
    page.click("#confirm-yes")
    expect(page.locator("#control-status")).to_contain_text(f"{city.lamps} confirmed", timeout=30_000)
    found.both(page, "lamp control after the command")
    found.report()


def test_a_device_on_the_map_opens_from_the_keyboard(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    device = page.evaluate(A_DRAWN_DEVICE)  # the map centred on one device, close enough to draw single devices
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "map":
            break
    expect(page.locator(".leaflet-tooltip")).to_contain_text(device["id"])
    page.keyboard.press("Enter")
    expect(page.locator("#detail h2")).to_contain_text(device["id"])
