"""The console in a real browser against a real ``streetwatch serve`` on TimescaleDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.console.city import City
from tests.web.console.conftest import A_DRAWN_DEVICE, keep, log_in

pytestmark = pytest.mark.services


def test_log_in_and_the_map_shows_every_device(browser: Browser, city: City, shots: Path) -> None:
    page = log_in(browser, city, "li.wei")
    assert page.locator("body").get_attribute("data-map-count") == str(city.lamps + city.gauges)
    assert page.locator("#who").text_content() == "li.wei"
    page.screenshot(path=shots / "desk.png")
    keep(shots / "desk.png", "desk.png")


def test_the_map_draws_on_one_canvas_and_a_click_opens_the_device(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    # No Leaflet layer or DOM marker per device or cluster: they are all drawn in one pass.
    assert page.evaluate("document.querySelectorAll('#map .leaflet-marker-icon, #map path').length") == 0
    assert page.evaluate("window.streetwatch.map.points.items.length") >= 1
    device = page.evaluate(A_DRAWN_DEVICE)
    assert device["drawn"] >= 1
    page.mouse.move(device["x"], device["y"])
    expect(page.locator(".leaflet-tooltip")).to_contain_text(device["id"])
    page.mouse.click(device["x"], device["y"])
    expect(page.locator("#detail h2")).to_contain_text(device["id"])


def test_filters_ask_the_api_for_fewer_devices(browser: Browser, city: City) -> None:
    page = log_in(browser, city, "li.wei")
    page.select_option("#filter-kind", "culvert_gauge")
    expect(page.locator("body")).to_have_attribute("data-map-count", str(city.gauges))
    page.select_option("#filter-kind", "")
    page.select_option("#filter-area", "jingtai")
    expect(page.locator("body")).to_have_attribute("data-map-count", str(city.lamps))
    page.select_option("#filter-area", "tianhe")
    expect(page.locator("body")).to_have_attribute("data-map-count", str(city.gauges))


def test_wrong_password_is_refused_on_the_page(browser: Browser, city: City) -> None:
    page = browser.new_page()
    page.goto(f"{city.url}/login")
    page.fill("#user", "li.wei")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
    page.goto(f"{city.url}/")
    page.wait_for_url("**/login?next=%2F")
