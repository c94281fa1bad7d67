"""A tool's export in the real app, in Chromium: a Zendesk CSV dropped on the Data page is recognised, asks for its
time zone, shows its first mapped rows and its report, and is loaded; the stage rules' tab on Maps and targets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from data_access import schema, sources, store
from tests.test_browser import ARTIFACTS, _settled, running_app
from tests.test_browser import browser as browser
from tests.test_browser import sample_store as sample_store
from tests.test_browser import server as server
from tests.test_sources import ZENDESK

pytestmark = pytest.mark.browser


def test_a_zendesk_export_is_previewed_then_loaded(sample_store: str, browser: object, tmp_path: Path) -> None:
    copy = tmp_path / "sources.duckdb"
    shutil.copy(sample_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    export = tmp_path / "zendesk-tickets.csv"
    export.write_text(ZENDESK, encoding="utf-8")
    with running_app(url, tmp_path / "streamlit.log") as base:
        page = browser.new_page(viewport={"width": 1440, "height": 1400})
        page.goto(f"{base}/data")
        _settled(page)
        page.locator("input[type='file']").nth(1).set_input_files(str(export))  # the second: a tool's export
        page.get_by_text("As mapped, this file would be refused", exact=False).wait_for(timeout=30_000)  # no zone yet
        zone = page.get_by_label("Time zone of the file's times", exact=False)
        zone.fill("Europe/Berlin")
        zone.press("Enter")
        page.get_by_text("5 rows read from zendesk-tickets.csv, 5 loaded into tickets", exact=False).wait_for(
            timeout=30_000
        )
        _settled(page)
        page.mouse.move(900, 700)  # over the page, not the sidebar
        page.mouse.wheel(0, 1200)  # down to the report and the first mapped rows
        page.wait_for_timeout(800)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "data_source_preview.png")
        page.get_by_role("button", name="Load it").click()
        page.get_by_text("customers were new to the store", exact=False).first.wait_for(timeout=30_000)
        _settled(page)
        page.mouse.move(900, 700)
        page.mouse.wheel(0, 1000)
        page.wait_for_timeout(800)
        page.screenshot(path=ARTIFACTS / "data_source_loaded.png")
        page.close()
    engine = store.create_store_engine(url, read_only=True)
    with store.connect(engine) as conn:
        loaded = conn.execute(
            sa.select(sa.func.count()).select_from(schema.tickets).where(schema.tickets.c.ticket_id.like("z%"))
        ).scalar_one()
    assert loaded == 5
    assert sources.log_rows(engine)["job"].to_list() == ["upload"]


def test_the_stage_rules_tab(server: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/map_editor")
    _settled(page)
    page.get_by_role("tab", name="Stage rules").click()
    page.get_by_role("button", name="Save the stage rules").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "stage_rules.png", full_page=True)
    page.close()
