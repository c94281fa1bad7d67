"""Audiences in the real app, in Chromium: the Audiences page with one audience up close, and a link that opens a
page filtered by an audience (the sidebar's choice made, the caption saying it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from data_access import audiences, store
from data_access.audiences import Audience
from tests.test_browser import ARTIFACTS, _settled, running_app
from tests.test_browser import browser as browser
from tests.test_browser import sample_store as sample_store
from tests.test_browser import server as server

pytestmark = pytest.mark.browser


def test_the_audiences_page_and_a_filtered_link(sample_store: str, browser: object, tmp_path: Path) -> None:
    copy = tmp_path / "audiences.duckdb"
    shutil.copy(sample_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    engine = store.create_store_engine(url)
    audiences.add(
        engine, Audience("risky", "Churn risk 3+", "analyst@example.com", {"risk": {"op": "gte", "value": 3}})
    )
    newest = store.freshness(engine)
    from datetime import timedelta

    for days in (60, 30, 0):  # three recomputes: people enter and leave between them
        audiences.recompute(engine, newest - timedelta(days=days))
    members = audiences.choice(engine, "risky").members
    engine.dispose()
    with running_app(url, tmp_path / "streamlit.log") as base:
        page = browser.new_page(viewport={"width": 1440, "height": 2000})
        page.goto(f"{base}/audiences?audience=risky")
        _settled(page)
        page.get_by_text("Its rule").wait_for(timeout=30_000)
        page.get_by_text(f"audience: Churn risk 3+, {members:,} customers, computed", exact=False).first.wait_for(
            timeout=30_000
        )
        page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        page.locator("[data-testid='stDataFrame'] canvas").nth(1).wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "audiences.png")

        page.goto(f"{base}/stage_kpis?audience=risky")
        _settled(page)
        page.get_by_text(f"audience: Churn risk 3+, {members:,} customers", exact=False).first.wait_for(timeout=30_000)
        assert "audience=risky" in page.url
        page.wait_for_timeout(1500)
        page.screenshot(path=ARTIFACTS / "audience_filter.png")
        page.close()
