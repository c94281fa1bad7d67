"""The Data page's panel for a tool's export: recognised, previewed, loaded, its mapping saved, its load logged; and
the stage rules' editor on Maps and targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from data_access import schema, sources, store
from data_access.loading import ingest
from tests.test_pages import APP, texts
from tests.test_sources import ZENDESK


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"duckdb:///{tmp_path / 'small.duckdb'}"
    ingest.seed(store.create_store_engine(url), 200, 1)
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    return url


def on_the_data_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    return at


def tickets(url: str) -> int:
    with store.connect(store.create_store_engine(url, read_only=True)) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.tickets)).scalar_one()


def test_a_zendesk_export_is_recognised_previewed_and_loaded(small: str) -> None:
    before = tickets(small)
    at = on_the_data_page()
    panel = next(u for u in at.file_uploader if u.key == "source_file")
    panel.set_value(("tickets.csv", ZENDESK.encode(), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    source = next(s for s in at.selectbox if s.label == "Source")
    assert source.value == "zendesk"  # from its headers
    assert "times carry no time zone" in texts(at) or any("no time zone" in str(d.value) for d in at.dataframe)
    zone = next(t for t in at.text_input if t.label.startswith("Time zone"))
    zone.set_value("Europe/Berlin").run()
    assert not at.exception
    shown = texts(at)
    assert "zendesk: 5 rows read from tickets.csv, 5 loaded into tickets" in shown
    assert "4 customers were new to the store" in shown  # none of the four is a sample customer
    next(b for b in at.button if b.key == "source_load").click().run()
    assert not at.exception
    assert tickets(small) == before + 5
    log = sources.log_rows(store.create_store_engine(small, read_only=True))
    assert (log["job"][0], log["source"][0], log["loaded"][0], log["status"][0]) == ("upload", "zendesk", 5, "loaded")


def test_the_stage_rules_are_edited_on_maps_and_targets(small: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/map_editor.py").run()
    assert not at.exception
    assert "a pattern (`onboarding_*`)" in texts(at)
    next(b for b in at.button if b.key == "edit_rules_save").click().run()
    assert not at.exception
    assert "Saved 10 stage rules." in texts(at)  # the sample's rules, saved back as they were


def test_a_value_no_map_knows_is_named_and_offered_for_translation(small: str) -> None:
    from tests.test_sources import BILLING

    at = on_the_data_page()
    next(u for u in at.file_uploader if u.key == "source_file").set_value(("t.csv", BILLING.encode(), "text/csv")).run()
    next(t for t in at.text_input if t.label.startswith("Time zone")).set_value("Europe/Berlin").run()
    assert not at.exception
    assert any("As mapped, this file would be refused" in e.value for e in at.error)
    values = next(e for e in at.expander if e.label.startswith("Values:"))
    shown = next(d.value for d in values.dataframe if "Billing" in d.value["in the file"].to_list())
    becomes = shown.set_index("in the file")["becomes"]
    assert becomes[["Tier 1", "Tier 2"]].to_list() == ["1", "2"]
    assert becomes.isna()["Billing"]  # no line map knows it: the cell to fill in
