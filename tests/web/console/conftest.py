"""A served city and Debian's Chromium driven by Playwright, for the console's browser tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import _database_name
from tests.fixtures.services import PostgresServer
from tests.web.console.city import City, gauge_rows, lamp_rows, seed, serve

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
LAMPS, GAUGES = 60, 12


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
                tmp_path_factory: pytest.TempPathFactory, *, more: Callable[[City], None] | None = None,
                **settings: str) -> Iterator[City]:
    """The small city of city.py (plus what ``more`` adds) on a database of its own, served with ``settings``."""
    url = postgres_server.create_database(_database_name(request) + "_console")
    made = City("", url, LAMPS, GAUGES)
    made.run(lambda db: seed(db, lamp_rows(LAMPS, "jingtai", "riverside") + gauge_rows(GAUGES, "jingxi")))
    if more is not None:
        more(made)
    with serve(url, str(tmp_path_factory.mktemp("serve") / "serve.log"), **settings) as base:
        made.url = base
        yield made


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, postgres_server: PostgresServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with served_city(request, postgres_server, tmp_path_factory) as made:
        yield made


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
