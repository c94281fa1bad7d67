"""The real thing: ``streamlit run app.py`` driven by headless Chromium (Playwright with Debian's chromium).

Screenshots of every page land in test-artifacts/ to be looked at. Skipped with the reason where there is no
Chromium; with CJM_REQUIRE_BROWSER=1 (set by .ci/run) a missing browser fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from data_access import pages as registry
from data_access import reviews, store
from data_access.loading import editing, ingest
from data_access.ops import loadtest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CJM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# every page of the registry by its address ("" is the home page) and its title
PAGES = {("" if p.key == "overview" else p.key): p.title for p in registry.PAGES}

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CJM_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    url = f"duckdb:///{tmp_path_factory.mktemp('browser') / 'sample.duckdb'}"
    ingest.seed(store.create_store_engine(url), 3_000, 42)
    return url


@contextmanager
def running_app(
    store_url: str | None,
    log_path: Path,
    *,
    port: int | None = None,
    options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``streamlit run app.py`` on ``port`` (a free one by default), with more ``options`` and environment, until the
    block ends; yields its address. With no ``store_url``, no store is configured (the first start)."""
    port = port or _free_port()
    env = {**os.environ, **(env or {})}
    env.pop("CJM_DATABASE_URL", None)
    if store_url is not None:
        env["CJM_DATABASE_URL"] = store_url
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                *options,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            loadtest.wait_healthy(base, process=proc, seconds=60)
        except (RuntimeError, TimeoutError):
            proc.kill()
            pytest.fail(f"streamlit run did not start; see {log_path}")
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(sample_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_app(sample_store, tmp_path_factory.getbasetemp() / "streamlit.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _settled(page: object) -> None:
    """Waits until the app has finished running (no status widget, charts drawn)."""
    page.wait_for_selector("h1", timeout=60_000)
    idle = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    for _ in range(2):  # idle twice, a second apart: a rerun that starts late is waited for too
        page.wait_for_function(idle, timeout=60_000)
        page.wait_for_timeout(1_000)


def pick(page: object, widget: object, option: str) -> None:
    """Opens a select box or multiselect and clicks one option. A rerun that redraws the widget closes an open
    dropdown (seen on a fresh server, where the first visit's rerun can land right after the click), so the
    dropdown is opened again until its option shows, then clicked."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(6):
        widget.click()
        try:
            choice.wait_for(state="visible", timeout=5_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            _settled(page)
            continue
        choice.click()
        return
    raise AssertionError(f"the option {option!r} never showed in its dropdown")


def test_filters_travel_in_the_link(server: str, browser: object) -> None:
    """Runs first on a fresh server: the first change of the first visitor must stick."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server)
    _settled(page)
    segment = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    pick(page, segment, "B2B")
    page.wait_for_function("() => location.search.includes('segment=B2B')", timeout=30_000)
    link = page.url
    shared = browser.new_page(viewport={"width": 1440, "height": 900})
    shared.goto(link)
    _settled(shared)
    caption = shared.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']").first.inner_text()
    assert caption.startswith("B2B, ")
    shared.get_by_role("link", name="Data").click()  # the menu keeps the filters
    shared.locator("h1", has_text="Data").wait_for(timeout=30_000)
    shared.wait_for_function("() => location.search.includes('segment=B2B')", timeout=30_000)
    assert shared.locator("h1").first.inner_text() == "Data"
    page.close()
    shared.close()


@pytest.mark.parametrize(("path", "title"), PAGES.items())
def test_every_page_loads_in_chromium(server: str, browser: object, path: str, title: str) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/{path}")
    _settled(page)
    assert page.locator("h1").first.inner_text() == title
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{path or 'overview'}.png", full_page=True)
    assert not errors, errors
    page.close()


def test_a_bad_upload_is_explained(server: str, browser: object, tmp_path: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("order_id,customer_id,ordered_at,amount\no1,C000000001,someday,-1\n")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/data")
    _settled(page)
    page.locator("input[type='file']").first.set_input_files(str(bad))  # the contract files; the second is an export
    page.get_by_role("button", name="Validate and load").click()
    page.get_by_text("Nothing was loaded: 2 problems found.").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "data_rejected.png", full_page=True)
    page.close()


def test_a_first_visit_straight_to_a_page_gets_the_whole_app(
    sample_store: str, browser: object, tmp_path: Path
) -> None:
    """A fresh server whose first visitor opens /stage_kpis: the menu and the filters are there, and a click on
    a bar opens that stage's trend and answers."""
    with running_app(sample_store, tmp_path / "streamlit.log") as base:
        page = browser.new_page(viewport={"width": 1440, "height": 1400})
        page.goto(f"{base}/stage_kpis")
        _settled(page)
        assert page.locator("h1").first.inner_text() == "Stage KPIs"
        assert page.get_by_role("link", name="Funnel").count() == 1
        assert page.locator("[data-testid='stSidebar']").get_by_text("Filters").count() == 1
        bars = page.locator(".barlayer .point path")
        box = bars.nth(2).bounding_box()  # CSAT bars: consideration, decision, onboarding, reactivation
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        # the drill-down's caption names the clicked stage (the picker starts on the first stage, Awareness)
        page.get_by_text("Onboarding: ", exact=False).first.wait_for(timeout=30_000)
        assert "answers, the unhappiest first" in page.get_by_text("Onboarding: ", exact=False).first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "stage_drilldown.png", full_page=True)
        page.close()


def test_the_overview_fits_one_screen_and_its_cards_lead_to_their_pages(server: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server)
    _settled(page)
    assert page.locator("h1").first.inner_text() == "Overview"
    page.locator("[data-testid='stMetric']").nth(8).wait_for(timeout=60_000)  # the cards draw one by one
    _settled(page)
    assert page.locator("[data-testid='stMetric']").count() == 9
    assert page.get_by_text("Unsubscribe spike in B2C").count() == 1  # the price change's story
    main = "document.querySelector('[data-testid=\"stMain\"]')"
    scroll_height, visible = page.evaluate(f"() => [{main}.scrollHeight, {main}.clientHeight]")
    assert scroll_height <= visible + 2, (scroll_height, visible)  # no scrolling at 1440x900
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "overview_1440x900.png")
    page.get_by_role("link", name="Churn rate").click()
    page.locator("h1", has_text="Churn early warning").wait_for(timeout=30_000)
    page.close()


def test_a_journey_map_link_opens_its_cell(server: str, browser: object) -> None:
    """The B2C onboarding leak, shared as a link: the grid with the cell's drill-down under it."""
    page = browser.new_page(viewport={"width": 1440, "height": 1600})
    page.goto(f"{server}/journey_map?segment=B2C&stage=onboarding&lane=conversion")
    _settled(page)
    assert page.locator("h1").first.inner_text() == "Journey map"
    page.get_by_text("Onboarding: Conversion to next step").wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "journey_map_cell.png", full_page=True)
    page.close()


def _cell_centre(page: object, grid: object, row: int, x_share: float) -> tuple[float, float]:
    """The middle of data row ``row`` (0-based, under the header) of an st.dataframe, ``x_share`` across it."""
    box = grid.bounding_box()
    return box["x"] + box["width"] * x_share, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2


ROW_PX = 35  # the height of a header or data row in st.dataframe and st.data_editor


def test_a_click_on_a_journey_map_cell_opens_its_numbers(server: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1800})
    page.goto(f"{server}/journey_map")
    _settled(page)
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    # under the phase row and the six default lanes of the map: customers, conversion, drop-off, CSAT, NPS, CES, FCR
    row = 1 + 6 + 7
    page.mouse.click(*_cell_centre(page, grid, row, 0.55))
    heading = page.locator("h3", has_text=": FCR, 2nd line")
    heading.wait_for(timeout=30_000)
    page.wait_for_function("() => location.search.includes('lane=fcr_line_2')", timeout=30_000)
    page.get_by_text("tickets whose last line was 2 only", exact=False).wait_for(timeout=30_000)  # the rows
    _settled(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "journey_map_clicked.png", full_page=True)
    page.close()


def test_a_cell_typed_in_the_map_editor_is_saved(sample_store: str, browser: object, tmp_path: Path) -> None:
    """On a copy of the sample (the test writes): double-click a cell, type, save; the store has it."""
    copy = tmp_path / "editable.duckdb"
    shutil.copy(sample_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    with running_app(url, tmp_path / "streamlit.log") as base:
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        page.goto(f"{base}/map_editor")
        _settled(page)
        grid = page.locator("[data-testid='stDataFrame']").first
        page.mouse.dblclick(*_cell_centre(page, grid, 0, 0.5))  # the Actions lane
        editor = page.locator("textarea.gdg-input")  # the cell's editor
        editor.fill("Typed in the browser")
        assert editor.input_value() == "Typed in the browser"
        editor.press("Enter")
        _settled(page)  # the edit has reached the app
        page.get_by_role("button", name="Save the map").click()
        page.get_by_text("Saved 110 cells", exact=False).wait_for(timeout=30_000)
        _settled(page)
        assert page.get_by_text("Saved 110 cells", exact=False).count() == 1  # still there once it has settled
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "map_editor_saved.png", full_page=True)
        page.close()
    engine = store.create_store_engine(url, read_only=True)
    saved = editing.map_rows(engine)
    assert saved.filter(pl.col("text") == "Typed in the browser")["lane"].to_list() == ["actions"]


def test_a_note_typed_in_the_review_is_saved_with_it(sample_store: str, browser: object, tmp_path: Path) -> None:
    """On a copy of the sample (the test writes): type what was done for the first KPI, save the review; the store
    has the note, and the review opens again with it."""
    copy = tmp_path / "reviewed.duckdb"
    shutil.copy(sample_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    with running_app(url, tmp_path / "streamlit.log") as base:
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        page.goto(f"{base}/review")
        _settled(page)
        grid = page.locator(".st-key-review_notes [data-testid='stDataFrame']").first
        grid.scroll_into_view_if_needed()
        page.mouse.dblclick(*_cell_centre(page, grid, 0, NOTES_DONE_AT))
        editor = page.locator("textarea.gdg-input")
        editor.fill("Shorter onboarding e-mails")
        editor.press("Enter")
        _settled(page)
        page.get_by_role("button", name="Save the review").click()
        page.get_by_text("Saved the review", exact=False).wait_for(timeout=30_000)
        _settled(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "review_saved.png", full_page=True)
        page.close()
    with store.connect(store.create_store_engine(url, read_only=True)) as conn:
        names = reviews.saved(conn)["name"].to_list()
        again = reviews.opened(conn, names[0])
    assert len(names) == 1 and again is not None
    assert again.frame["done"].drop_nulls().to_list() == ["Shorter onboarding e-mails"]


NOTES_DONE_AT = 0.42  # across the notes editor: the middle of its "Done" column (after Stage and KPI)


def test_nothing_a_file_contains_runs_in_the_app(browser: object, tmp_path: Path) -> None:
    """A script, an image with an onerror handler and a formula in every text column of the store (stage names,
    map cells, comments, customers' attributes...): every page shows them as text, and none runs."""
    from tests.test_exports import planted_frames

    copy = tmp_path / "planted.duckdb"
    url = f"duckdb:///{copy}"
    engine = store.create_store_engine(url)
    store.init_store(engine)
    ingest.write(engine, [(n, f) for n, f in planted_frames(1_500)], mode="replace")
    engine.dispose()
    with running_app(url, copy.with_suffix(".log")) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        page.on("dialog", lambda d: d.dismiss())
        for path in (*PAGES, "journey_map?stage=onboarding&lane=csat"):
            page.goto(f"{base}/{path}")
            _settled(page)
            assert page.evaluate("() => window.__xss") is None, path
        page.goto(f"{base}/journey_map")
        _settled(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "planted_journey_map.png", full_page=True)
        page.close()


def test_the_first_start_survives_a_click_away(browser: object, tmp_path: Path) -> None:
    """A new user opens the app with no store, and clicks to another page while the sample store is being made:
    the store is built whole all the same (customers, events and the derived tables), and every page shows it."""
    folder = tmp_path / "data"
    env = {"CJM_DATA_DIR": str(folder), "CJM_SAMPLE_CUSTOMERS": "3000"}
    with running_app(None, tmp_path / "first.log", env=env) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(base)
        page.locator("[data-testid='stProgress']").first.wait_for(timeout=60_000)  # the sample store is being made
        page.goto(f"{base}/funnel")  # away, while it is being made
        _settled(page)
        path = folder / "cjm.duckdb"
        assert path.exists()
        assert sorted(p.name for p in folder.iterdir() if ".building-" in p.name) == []
        engine = store.create_store_engine(f"duckdb:///{path}", read_only=True)
        counts = store.row_counts(engine)
        engine.dispose()
        assert counts["customers"] == 3000 and counts["journey_events"] > 10_000
        page.goto(base)
        _settled(page)
        page.locator("[data-testid='stMetric']").nth(8).wait_for(timeout=60_000)
        assert page.get_by_text("No journey events yet").count() == 0
        page.close()


def test_the_digests_link_opens_the_overview_with_the_same_filters(server: str, browser: object) -> None:
    from datetime import date

    from data_access import digest
    from data_access.filters import Filters

    link = digest.link(server, Filters(segment=("B2B",)), date(2026, 10, 31))  # the sample's data ends in October
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(link)
    _settled(page)
    assert page.locator("h1").first.inner_text() == "Overview"
    caption = page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']").first.inner_text()
    assert caption.startswith("B2B, ") and "whole months: Oct 2026 against Sep 2026" in caption, caption
    chosen = page.locator("[data-testid='stButtonGroup'] button[aria-checked='true'], [kind='segmented_controlActive']")
    assert chosen.first.inner_text().strip() == "month"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "overview_from_digest.png")
    page.close()
