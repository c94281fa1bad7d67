"""Every page through Streamlit's AppTest, and what a user does on it: filters, links, uploads, empty and
broken stores."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components import session
from data_access import pages as registry
from data_access import schema, store
from data_access.filters import Filters
from data_access.loading import ingest
from data_access.queries import overview

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = tuple(p.path for p in registry.PAGES)  # every page of the registry, the home page first
TITLES = {p.path: p.title for p in registry.PAGES}


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('pages') / 'sample.duckdb'}"
    ingest.seed(store.create_store_engine(url), 3_000, 42)
    return url


@pytest.fixture
def app(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    return AppTest.from_file(APP, default_timeout=60)


def upload(at: AppTest, name: str, data: bytes) -> None:
    """Puts a file in the Data page's form and submits it."""
    at.file_uploader[0].set_value((name, data, "text/csv"))
    at.form_submit_button[0].click().run()
    assert not at.exception


def table_with(at: AppTest, column: str):
    """The first table on the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def texts(at: AppTest) -> str:
    return "\n".join(
        str(e.value)
        for kind in ("markdown", "caption", "info", "error", "warning", "success")
        for e in getattr(at, kind)
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app: AppTest, page: str) -> None:
    app.run()
    if page != PAGES[0]:
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error
    assert app.title[0].value == TITLES[page]


def test_funnel_finds_the_b2c_onboarding_leak(app: AppTest) -> None:
    app.query_params["segment"] = ["B2C"]
    app.run().switch_page("pages/funnel.py").run()
    assert app.title[0].value == "Funnel"
    leak = next(m.value for m in app.markdown if m.value.startswith("#### Biggest leak"))
    assert "of B2C customers who reach Onboarding never reach Regular use" in leak
    steps = table_with(app, "Step")
    assert list(steps["Step"])[:2] == ["Awareness", "Consideration"]
    groups = table_with(app, "verdict")  # by segment: the segment filter is lifted so B2C meets B2B
    b2c = groups[groups["value"] == "B2C"].iloc[0]
    assert b2c["verdict"] == "lower"
    assert bool(b2c["significant"])
    assert app.download_button(key="funnel_dropped_csv") is not None


def test_funnel_breakdown_dropouts_and_bad_input(app: AppTest) -> None:
    app.run().switch_page("pages/funnel.py").run()
    app.selectbox(key="funnel_by").set_value("new_vs_returning").run()
    assert set(table_with(app, "verdict")["value"]) <= {"new", "returning"}
    app.selectbox(key="funnel_drop_step").set_value(3).run()
    assert not app.exception
    dropped = table_with(app, "customer_id")
    assert len(dropped) > 0
    assert {"customer_id", "segment", "channel"} <= set(dropped.columns)
    app.segmented_control(key="funnel_grain").set_value("week").run()
    assert not app.exception
    app.text_input(key="funnel_window").input("soon").run()
    assert any("Not a window" in e.value for e in app.error)
    app.text_input(key="funnel_window").input("30d").run()
    app.multiselect(key="funnel_steps").set_value(["awareness"]).run()
    assert any("at least 2 steps" in e.value for e in app.error)


def test_stage_kpis_shows_every_stage_with_n(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/stage_kpis.py").run()
    table = app.dataframe[0].value
    assert list(table["Stage"])[:2] == ["Awareness", "Consideration"]
    assert len(table) == 10
    onboarding = table[table["Stage"] == "Onboarding"].iloc[0]
    assert "(n=" in onboarding["CSAT"]
    assert "all segments" in app.caption[0].value


def test_a_segment_filter_changes_the_figures_and_the_link(app: AppTest) -> None:
    app.run().switch_page("pages/funnel.py").run()
    everyone = table_with(app, "Customers")
    app.sidebar.multiselect(key="f_segment").select("B2B").run()
    assert not app.exception
    b2b = table_with(app, "Customers")
    assert app.caption[0].value.startswith("B2B, ")
    assert app.query_params["segment"] == "B2B"
    assert int(b2b["Customers"].iloc[0]) < int(everyone["Customers"].iloc[0])


def test_a_shared_link_restores_the_filters(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["segment"] = ["B2C"]
    at.query_params["from"] = "2026-01-01"
    at.query_params["to"] = "2026-06-30"
    at.run()
    assert not at.exception
    assert at.caption[0].value.startswith("B2C, 2026-01-01 to 2026-06-30")
    assert at.sidebar.multiselect(key="f_segment").value == ["B2C"]


def test_choosing_another_metric(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/stage_kpis.py").run()
    app.segmented_control(key="kpi_metric").set_value("nps").run()
    assert not app.exception
    assert "**NPS**" in texts(app)


def test_data_page_counts_contract_and_upload(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/data.py").run()
    counts = app.dataframe[0].value
    assert int(counts[counts["table"] == "customers"]["rows"].iloc[0]) == 3_000
    contract = [e for e in app.expander if e.label.startswith("`")]
    assert [e.label for e in contract] == [f"`{t.name}`" for t in schema.TABLES]  # one per table of the contract
    bad = b"order_id,customer_id,ordered_at,amount\no1,C000000001,someday,5\n"
    upload(app, "orders.csv", bad)
    assert any("Nothing was loaded: 1 problem" in e.value for e in app.error)
    report = app.dataframe[1].value
    assert report.iloc[0]["problem"] == "'someday' is not a valid timestamp"


def test_upload_loads_and_the_figures_follow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'small.duckdb'}"
    ingest.seed(store.create_store_engine(url), 200, 1)
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    before = at.dataframe[0].value
    orders_before = int(before[before["table"] == "orders"]["rows"].iloc[0])
    good = b"order_id,customer_id,ordered_at,amount\nnew1,C000000001,2026-01-01T10:00:00+01:00,5\n"
    upload(at, "orders.csv", good)
    assert any("orders 1 row" in s.value for s in at.success)
    after = at.dataframe[0].value
    assert int(after[after["table"] == "orders"]["rows"].iloc[0]) == orders_before + 1  # counts follow at once


@pytest.fixture
def editable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The editor page on a small store of its own (the tests write to it)."""
    url = f"duckdb:///{tmp_path / 'editable.duckdb'}"
    ingest.seed(store.create_store_engine(url), 200, 1)
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page("pages/map_editor.py").run()


def test_map_editor_copies_renames_and_deletes_maps(editable: AppTest) -> None:
    at = editable
    assert not at.exception, [e.value for e in at.exception]
    current = "Busy parent (B2C) - current state"
    assert current in at.selectbox(key="edit_map").options
    at.selectbox(key="edit_map").set_value(current).run()
    grid = at.dataframe[0].value
    assert "Pains" in grid.index and "Onboarding" in grid.columns and grid.loc["Pains", "Onboarding"]
    assert at.text_input(key=f"edit_copy_to_{current}").value == "Busy parent (B2C) - ideal state"
    at.button(key="edit_copy").click().run()
    assert any("Copied" in s.value and "110 cells" in s.value for s in at.success)
    assert "Busy parent (B2C) - ideal state" in at.selectbox(key="edit_map").options
    at.selectbox(key="edit_map").set_value("Busy parent (B2C) - ideal state").run()
    at.text_input(key="edit_rename_to").set_value("B2C ideal").run()
    at.button(key="edit_rename").click().run()
    assert "B2C ideal" in at.selectbox(key="edit_map").options
    at.selectbox(key="edit_map").set_value("B2C ideal").run()
    at.text_input(key="edit_rename_to").set_value(current).run()
    at.button(key="edit_rename").click().run()  # onto an existing map: refused, nothing changes
    assert any("Nothing was saved" in e.value for e in at.error)
    assert "B2C ideal" in at.selectbox(key="edit_map").options
    at.checkbox(key="edit_delete_sure").check().run()
    at.button(key="edit_delete").click().run()
    assert "B2C ideal" not in at.selectbox(key="edit_map").options
    at.switch_page("pages/journey_map.py").run()  # the journey map sees the change at once
    assert "B2C ideal" not in at.selectbox(key="journey_map").options


def test_map_editor_imports_checked_files(editable: AppTest) -> None:
    at = editable
    bad = b"stage_id,metric,target,warn\n*,csat,80,90\n"
    at.file_uploader(key="edit_import").set_value(("kpi_targets.csv", bad, "text/csv")).run()
    at.button(key="edit_import_go").click().run()
    assert any("Nothing was saved" in e.value for e in at.error)
    problems = table_with(at, "problem")
    assert "warn 90 is better than the target 80" in problems["problem"].iloc[0]
    good = b"stage_id,metric,target,warn\n*,csat,80,70\nonboarding,conversion,60,45\n"
    at.file_uploader(key="edit_import").set_value(("kpi_targets.csv", good, "text/csv")).run()
    at.button(key="edit_import_go").click().run()
    assert any("2 targets" in s.value for s in at.success)
    targets = table_with(at, "metric")
    assert sorted(targets["metric"]) == ["conversion", "csat"]
    at.button(key="edit_targets_save").click().run()  # saved back as shown: the same two
    assert any("Saved 2 targets" in s.value for s in at.success)
    assert sorted(table_with(at, "metric")["metric"]) == ["conversion", "csat"]


def test_empty_store_shows_a_message_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    store.init_store(store.create_store_engine(url))
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("No journey events yet" in i.value for i in at.info)  # the overview
    at.switch_page("pages/funnel.py").run()
    assert not at.exception
    assert any("no stages yet" in i.value for i in at.info)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    at.switch_page("pages/map_editor.py").run()
    assert not at.exception
    assert any("no stages yet" in i.value for i in at.info)


def test_a_database_without_tables_says_how_to_fill_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bare.sqlite'}"
    store.create_store_engine(url).connect().close()  # an existing database with none of our tables
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert not at.error
    assert any("Load your files on the Data page" in i.value for i in at.info)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert not at.error
    good = b"stage_id,name,position,in_funnel\na,A,1,true\n"
    upload(at, "stages.csv", good)
    assert any("stages 1 row" in s.value for s in at.success)


def test_unreachable_store_shows_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/nowhere")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Cannot reach the store" in e.value for e in at.error)


def test_first_run_creates_the_sample_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CJM_DATABASE_URL", raising=False)
    monkeypatch.setenv("CJM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(session, "SETTINGS", dataclasses.replace(session.SETTINGS, first_run_customers=300))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert (tmp_path / "cjm.duckdb").exists()
    assert at.title[0].value == "Overview" and len(at.metric) == 9
    at.switch_page("pages/funnel.py").run()
    assert len(table_with(at, "Step")) == 6  # the funnel's six steps


def test_funnel_sets_the_previous_half_year_beside_this_one(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["from"] = "2026-01-01"
    at.query_params["to"] = "2026-06-30"
    at.run().switch_page("pages/funnel.py").run()
    assert not at.exception
    steps = table_with(at, "Step")
    assert int(steps["Customers, previous"].iloc[0]) > 0
    assert "Change, points" in steps.columns
    # 181 days (1 January to 30 June) before 1 January
    assert any("Previous period of equal length: 2025-07-04 to 2025-12-31" in c.value for c in at.caption)


def test_support_shows_the_weak_second_line_on_financial_tickets(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/support.py").run()
    assert not app.exception
    lines = table_with(app, "Line")
    assert list(lines["Line"]) == [
        "Line 1 (bot and operators)",
        "  of which entered via the bot",
        "Line 2 (managers)",
        "Line 3 (experts)",
        "All tickets",
    ]
    assert "%" in lines.iloc[1]["Bot containment"]
    agents = table_with(app, "Agent")
    assert len(agents) > 0
    app.number_input(key="support_verify_days").set_value(1).run()
    assert not app.exception
    app.segmented_control(key="support_metric").set_value("reopen_rate").run()
    app.segmented_control(key="support_grain").set_value("week").run()
    assert not app.exception
    assert any("churned" in m.value for m in app.markdown)


def test_support_figures_are_the_library_figures(sample_url: str) -> None:
    """The page's heat map reads the same clusters as the query: line 2 financial has the lowest FCR."""
    from data_access import store
    from data_access.filters import Filters
    from data_access.queries import support

    with store.connect(store.create_store_engine(sample_url, read_only=True)) as conn:
        clusters = support.clusters(conn, Filters(), 30)
    worst = clusters.filter(clusters["fcr_n"] >= 30).sort("fcr").row(0, named=True)
    assert (worst["category"], worst["line"]) == ("financial", "2")


def test_retention_cohorts_and_curves(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/retention.py").run()
    assert not app.exception
    assert app.title[0].value == "Retention"
    app.segmented_control(key="retention_mode").set_value("or_later").run()
    app.segmented_control(key="retention_grain").set_value("week").run()
    app.selectbox(key="retention_by").set_value("channel").run()
    assert not app.exception
    assert any(s.value == "Retention curves by channel" for s in app.subheader)
    assert any(s.value == "Churn and reactivation over time" for s in app.subheader)


def test_the_win_back_campaign_shows_in_reactivation(sample_url: str) -> None:
    """The sample's planted story: far more cancelled customers come back in the months after the campaign."""
    from data_access import store
    from data_access.filters import Filters
    from data_access.queries import retention

    with store.connect(store.create_store_engine(sample_url, read_only=True)) as conn:
        frame = retention.churn_over_time(conn, Filters())
    months = frame.with_columns(frame["period"].cast(str).alias("p"))
    before = months.filter((months["p"] >= "2025-07-01") & (months["p"] < "2026-01-01"))["reactivated"].sum()
    after = months.filter((months["p"] >= "2026-02-01") & (months["p"] < "2026-08-01"))["reactivated"].sum()
    assert after > 2 * before


def test_the_overview_tells_the_planted_stories(app: AppTest, sample_url: str) -> None:
    """Half-year against half-year: the B2C unsubscribe spike after the price change is an active alert, NPS fell
    after Release 5.0, and the reactivation line rises after the win-back campaign (its marker is on the line)."""
    app.run()
    assert app.title[0].value == "Overview" and not app.exception
    assert len(app.metric) == 9
    assert any("Unsubscribe spike in B2C" in m.value and "Price change B2C" in m.value for m in app.markdown)
    assert any("Win-back campaign (2026-01-15)" in c.value for c in app.caption)
    nps = app.metric[[c.key for c in overview.CARDS].index("nps")]
    assert nps.delta.startswith("-")  # NPS lower than the half-year before (the release)

    engine = store.create_store_engine(sample_url, read_only=True)
    with store.connect(engine) as conn:
        lines = overview.headline(conn, Filters(), overview.windows_ending(date(2026, 10, 31), 6), 30)["lines"]
    back = dict(lines.filter(lines["key"] == "reactivation").select("month", "value").iter_rows())
    after = sum(back[date(2026, m, 1)] for m in (2, 3, 4))
    before = sum(back[date(y, m, 1)] for y, m in ((2025, 11), (2025, 12), (2026, 1)))
    assert after > 2 * before


def test_churn_warning_lists_customers_with_reasons(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/churn_warning.py").run()
    assert not app.exception
    assert any("Unsubscribe spike in B2C after **Price change B2C**" in w.value for w in app.warning)  # the story
    listed = table_with(app, "reasons")
    assert len(listed) > 0
    assert listed["score"].is_monotonic_decreasing
    clusters = table_with(app, "customers at risk")
    assert "stage" in [t.value.columns[0] for t in app.dataframe]  # where the alerts cluster by journey stage
    assert int(clusters["customers at risk"].sum()) == len(listed)
    stage = listed["stage"].iloc[0]
    app.multiselect(key="risk_stages").set_value([stage]).run()
    narrowed = table_with(app, "reasons")
    assert set(narrowed["stage"]) == {stage} and 0 < len(narrowed) <= len(listed)
    app.number_input(key="risk_window").set_value(14).run()
    app.slider(key="risk_share").set_value(0.3).run()
    assert not app.exception
    assert app.download_button(key="risk_csv") is not None


def test_journey_map_grid_and_a_cell_opened_from_the_link(app: AppTest) -> None:
    app.query_params["stage"] = "onboarding"
    app.query_params["lane"] = "conversion"
    app.query_params["segment"] = ["B2C"]
    app.run().switch_page("pages/journey_map.py").run()
    assert not app.exception, [e.value for e in app.exception]
    grid = app.dataframe[0].value
    assert list(grid.columns)[:2] == ["Awareness", "Consideration"]
    cell = grid.loc["Conversion to next step", "Onboarding"]
    assert cell.startswith("✖ ") and "· n " in cell  # the planted B2C onboarding leak, off target
    assert grid.loc["Pains", "Awareness"]  # the map's own words are there
    phases = grid.loc["Phase"]  # the stages grouped before and after the first purchase
    assert (phases["Decision (first purchase)"], phases["Onboarding"]) == (
        "Before the first purchase",
        "After the first purchase",
    )
    assert any(s.value == "Onboarding: Conversion to next step" for s in app.subheader)
    dropped = table_with(app, "customer_id")
    assert len(dropped) > 0 and set(dropped["segment"]) == {"B2C"}


def test_journey_map_the_whole_map_at_once(app: AppTest, sample_url: str) -> None:
    import sqlalchemy as sa

    from components.builders import journey_view

    jm = schema.journey_map
    chosen = "Bargain hunter (B2C) - current state"
    with store.connect(store.create_store_engine(sample_url, read_only=True)) as conn:
        stage, lane, long = conn.execute(
            sa.select(jm.c.stage_id, jm.c.lane, jm.c.text)
            .where(jm.c.map == chosen)
            .order_by(sa.func.length(jm.c.text).desc(), jm.c.stage_id)
            .limit(1)
        ).one()
    assert len(long) > journey_view.COMPACT_CHARS
    app.query_params["map"], app.query_params["stage"], app.query_params["lane"] = chosen, stage, lane
    app.run().switch_page("pages/journey_map.py").run()
    full = app.dataframe[0].value
    assert long in full.to_numpy().ravel()
    app.toggle(key="journey_compact").set_value(True).run()
    assert not app.exception
    grid = app.dataframe[0].value
    assert list(grid.columns) == list(full.columns)  # every stage, in narrow columns
    assert all(len(v) <= journey_view.COMPACT_CHARS for v in grid.to_numpy().ravel())
    assert long not in grid.to_numpy().ravel() and long[:10] in " ".join(grid.to_numpy().ravel())
    assert long in [t.value for t in app.text]  # the opened cell's whole text stands below the map


def test_journey_map_metric_cell_opens_trend_breakdown_and_rows(app: AppTest) -> None:
    app.query_params["stage"] = "onboarding"
    app.query_params["lane"] = "csat"
    app.run().switch_page("pages/journey_map.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(s.value == "Onboarding: CSAT" for s in app.subheader)
    split = table_with(app, "Segment")
    assert set(split["Segment"]) == {"B2B", "B2C"}
    answers = table_with(app, "score")
    assert list(answers["score"]) == sorted(answers["score"])  # the unhappiest first
    assert app.query_params["lane"] == "csat"


def test_journey_map_second_line_fcr_story(app: AppTest) -> None:
    app.query_params["stage"] = "regular_use"
    app.query_params["lane"] = "fcr_line_2"
    app.run().switch_page("pages/journey_map.py").run()
    assert not app.exception, [e.value for e in app.exception]
    grid = app.dataframe[0].value
    regular_use = next(c for c in grid.columns if c.startswith("Regular use"))
    assert grid.loc["FCR, 2nd line", regular_use].startswith("✖ ")  # the planted 2nd-line story, off target
    assert not grid.loc["FCR", regular_use].startswith("✖ ")  # the stage's FCR over every line hides it
    split = table_with(app, "Problem type")  # opens broken down by problem type
    assert split.sort_values("FCR")["Problem type"].iloc[0] == "financial"
    tickets = table_with(app, "ticket_id")
    assert len(tickets) > 0 and set(tickets["final_line"]) == {2}


def test_journey_map_compares_two_maps_from_the_link(app: AppTest) -> None:
    app.query_params["map"] = "Busy parent (B2C) - current state"
    app.query_params["compare"] = "Bargain hunter (B2C) - current state"
    app.run().switch_page("pages/journey_map.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.toggle(key="journey_compare_on").value
    both = next(d.value for d in app.dataframe if "Pains · Busy parent (B2C) - current state" in d.value.index)
    changed = table_with(app, "change")
    assert len(changed) > 0 and set(changed["change"]) <= {"added", "removed", "changed"}
    marked = sum(str(v).startswith("≠") for v in both.to_numpy().ravel())
    assert marked == 2 * len(changed)  # each difference marked in both rows
    app.toggle(key="journey_compare_on").set_value(False).run()
    assert "compare" not in app.query_params


def test_journey_map_exports(app: AppTest) -> None:
    app.run().switch_page("pages/journey_map.py").run()
    assert not app.exception
    assert app.download_button(key="journey_html") is not None
    assert app.download_button(key="journey_xlsx") is not None


def test_review_of_the_last_two_half_years_finds_the_planted_stories(app: AppTest) -> None:
    app.run().switch_page("pages/review.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.date_input(key="review_a").value == (date(2025, 7, 1), date(2025, 12, 31))
    assert app.date_input(key="review_b").value == (date(2026, 1, 1), date(2026, 6, 30))
    said = texts(app)
    # the NPS fall after Release 5.0 and the win-back campaign's reactivations, both significant
    assert "NPS, whole journey" in said.split("Clearest declines")[1]
    assert "Reactivation rate, whole journey" in said.split("Clearest improvements")[1].split("Clearest declines")[0]
    rows = table_with(app, "Verdict")
    nps = rows[(rows["Stage"] == "Whole journey") & (rows["KPI"] == "NPS")].iloc[0]
    assert nps["Verdict"] == "▼ declined"
    grid = app.dataframe[0].value
    assert "Whole journey" in grid.columns and "NPS" in grid.index
    assert app.download_button(key="review_xlsx") is not None and app.download_button(key="review_html") is not None
    assert app.download_button(key="review_pdf") is not None


def test_review_with_a_change_of_periods_and_a_filter(app: AppTest) -> None:
    app.query_params["segment"] = ["B2B"]
    app.run().switch_page("pages/review.py").run()
    app.date_input(key="review_a").set_value((date(2025, 1, 1), date(2025, 3, 31))).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "segment = B2B" in texts(app)
    rows = table_with(app, "Verdict")
    assert set(rows["Verdict"]) <= {"▲ improved", "▼ declined", "= no clear change", "… not enough data"}
    app.date_input(key="review_b").set_value((date(2026, 1, 1),)).run()  # half picked: asks for both days
    assert not app.exception
    assert any("both periods" in i.value for i in app.info)


def test_a_review_is_saved_and_opens_as_it_was(editable: AppTest) -> None:
    at = editable
    at.run().switch_page("pages/review.py").run()
    assert not at.exception, [e.value for e in at.exception]
    live = table_with(at, "Verdict")
    at.text_input(key="review_save_name").set_value("Half-year review 2026-H1").run()
    at.button(key="review_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Saved the review Half-year review 2026-H1" in s.value for s in at.success)
    assert "Half-year review 2026-H1" in at.selectbox(key="review_open").options
    at.selectbox(key="review_open").set_value("Half-year review 2026-H1").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("figures as they were then" in i.value for i in at.info)
    reopened = table_with(at, "Verdict")
    assert reopened[list(live.columns)].equals(live)  # the same figures, now with the notes' columns beside them
    assert {"Done", "Planned"} <= set(reopened.columns)
    at.text_input(key="review_save_name").set_value("").run()
    at.button(key="review_save").click().run()
    assert any("Nothing was saved" in e.value for e in at.error)
    assert "needs a name" in table_with(at, "problem")["problem"][0]


def test_a_binary_file_named_csv_is_refused_on_the_data_page(app: AppTest) -> None:
    app.run().switch_page("pages/data.py").run()
    upload(app, "customers.csv", b"PK\x03\x04\x14\x00\x08\x00binary")
    assert any("is not a text file" in str(v) for v in table_with(app, "problem")["problem"])
    assert "Nothing was loaded: 1 problem found." in [e.value for e in app.error]
