"""A served city and Debian's Chromium driven by Playwright, for the console's browser tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks.servers import MosquittoServer, PostgresServer
from tests.conftest import _database_name
from tests.web.console.city import City, gauge_rows, lamp_rows, seed, serve
from tests.web.console.street import gateway, lamps

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
LAMPS, GAUGES = 60, 12

# Zooms until the map shows single devices, then returns where one of them is drawn (page pixels).
A_DRAWN_DEVICE = """() => new Promise((resolve) => {
  const m = window.streetwatch.map;
  const [lon, lat] = [m.data.lon[0], m.data.lat[0]];
  m.map.once('moveend', () => setTimeout(() => {  // after the canvas has redrawn for the new view
    const item = m.points.items.find((it) => !it.properties.cluster);
    const at = m.map.latLngToContainerPoint([item.geometry.coordinates[1], item.geometry.coordinates[0]]);
    const box = m.map.getContainer().getBoundingClientRect();
    resolve({ id: m.data.ids[item.properties.i], x: box.left + at.x, y: box.top + at.y, drawn: m.points.items.length });
  }, 50));
  m.map.setView([lat, lon], 19, { animate: false });
})"""


# One browser a module, not a session: Playwright's synchronous API keeps an event loop running in the main
# thread while it is open, which would break every later test that runs asyncio there (tests/web/world.py).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run deploy/install-services.sh (make test does)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@contextmanager
def served_city(request: pytest.FixtureRequest, postgres_server: PostgresServer,
                tmp_path_factory: pytest.TempPathFactory, *, mosquitto: MosquittoServer | None = None,
                more: Callable[[City], None] | None = None, **settings: str) -> Iterator[City]:
    """The small city of city.py (plus what ``more`` adds) on a database of its own, served with ``settings``.

    With ``mosquitto``, the street runs behind it: a real gateway on that broker and the lamps simulated on MQTT;
    without, the page works from what the tests store.
    """
    url = postgres_server.create_database(_database_name(request) + "_console")
    mqtt = mosquitto is not None
    made = City("", url, LAMPS, GAUGES, mosquitto.url if mosquitto is not None else "")
    made.run(lambda db: seed(db, lamp_rows(LAMPS, "jingtai", "riverside", mqtt=mqtt) + gauge_rows(GAUGES, "jingxi")))
    if more is not None:
        more(made)
    folder = tmp_path_factory.mktemp("street")
    if mosquitto is None:
        with serve(url, str(folder / "serve.log"), **settings) as base:
            made.url = base
            yield made
        return
    # The lamps first: their retained "online" replaces what an earlier module's lamps of the same ids left with the
    # broker, before the gateway subscribes.
    with lamps(mosquitto.url, [f"LP-{i:06d}" for i in range(LAMPS)]) as street, \
            gateway(url, mosquitto.url, folder), serve(url, str(folder / "serve.log"), **settings) as base:
        made.url = base
        made.street = street
        yield made


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, postgres_server: PostgresServer, mosquitto_server: MosquittoServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """The served city with its street: a real gateway on the test broker, and the lamps simulated on MQTT."""
    with served_city(request, postgres_server, tmp_path_factory, mosquitto=mosquitto_server) as made:
        yield made


# Draws Chinese characters on a canvas in the page's font: without a CJK font each is the same empty box.
_DISTINCT_CJK_GLYPHS = """() => {
  const canvas = document.createElement('canvas');
  canvas.width = 48; canvas.height = 48;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.font = `32px ${getComputedStyle(document.body).fontFamily}`;
  const drawn = ['路', '灯', '控', '制', '告', '警'].map((c) => {
    g.clearRect(0, 0, 48, 48); g.fillText(c, 4, 38);
    return g.getImageData(0, 0, 48, 48).data.join(',');
  });
  return new Set(drawn).size;
}"""


def distinct_cjk_glyphs(page: Page) -> int:
    """How many of six Chinese characters the page draws differently (6 with a CJK font, 1 with boxes)."""
    return int(page.evaluate(_DISTINCT_CJK_GLYPHS))


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps its screenshots (test artefacts under tests/artifacts/console)."""
    folder = Path(request.config.rootpath) / "tests" / "artifacts" / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep(shot: Path, name: str) -> None:
    """Copy a screenshot to docs/console/ for docs/console.md."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, DOCS_SHOTS / name)


def log_in(browser: Browser, city: City, user: str, path: str = "/", **context: object) -> Page:
    page = browser.new_context(**context).new_page()  # type: ignore[arg-type]
    page.goto(f"{city.url}/login?next={path}")
    page.fill("#user", user)
    page.fill("#password", "a long enough password")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready=yes]", timeout=15_000)
    return page


def switch_language(page: Page, language: str) -> None:
    """The header's button: the page reloads in the other language (ready once its scripts have run again)."""
    page.click("#language")
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.wait_for_selector("body[data-ready=yes]")
