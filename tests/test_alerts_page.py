"""The Alerts page, the live Support panel and the deep links of alerts, through Streamlit's AppTest: a rule made
on the page is stored as typed and judged in the table, bad input is refused with nothing stored, leadership
subscribes itself, a B2B-only support lead does not see a rule over every segment, and a link opens the Stage KPIs
page on the rule's metric and stage. The browser test drives the same page in Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_access import access, alerts, store
from data_access.access import Access
from tests.test_pages import APP, table_with, texts
from tests.test_pages import sample_url as sample_url  # the module's sample store
from tests.test_sign_in import LEAD, LEADER, signed_in

ADMIN = Access("admin@example.com", frozenset({"admin"}))


@pytest.fixture
def fresh(sample_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of the sample store for one test (rules are written to it); no secrets file, so no delivery."""
    copy = tmp_path / "store.duckdb"
    shutil.copy(sample_url.removeprefix("duckdb:///"), copy)
    monkeypatch.setenv("CJM_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    return f"duckdb:///{copy}"


def stored(url: str) -> list[alerts.Rule]:
    engine = store.create_store_engine(url, read_only=True)
    with store.connect(engine) as conn:
        found = alerts.rules(conn)
    engine.dispose()
    return found


def open_alerts(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page("pages/alerts.py").run()


def test_a_rule_made_on_the_page_is_stored_and_judged(fresh: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_alerts(fresh, monkeypatch)
    assert not at.exception
    assert "No alert rules you can see yet. Make one below." in [i.value for i in at.info]
    assert "e-mail not configured" in texts(at)
    at.selectbox(key="alerts_new_stage").select("onboarding").run()
    at.selectbox(key="alerts_new_segment").select("B2C").run()
    at.number_input(key="alerts_new_min_n").set_value(10).run()
    at.text_input(key="alerts_new_channels").input("cx@example.com").run()
    at.button(key="alerts_create").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Made the rule CSAT worse than its target."
    [rule] = stored(fresh)
    assert (rule.metric, rule.comparison, rule.stage_id, rule.segment, rule.min_n, rule.period) == (
        "csat",
        "off_target",
        "onboarding",
        "B2C",
        10,
        "month",
    )
    row = table_with(at, "fires when").iloc[0].to_dict()
    assert row["rule"] == "CSAT off target Onboarding B2C" and row["period"] == "2026-10" and row["subscribers"] == 1
    engine = store.create_store_engine(fresh, read_only=True)
    with store.connect(engine) as conn:
        expected = alerts.evaluate(conn, rule, alerts.default_as_of(engine))
    engine.dispose()
    assert row["figure"] == expected.figure() and row["why"] == expected.why
    # a drop rule on the same page; then switch the first off
    at.selectbox(key="alerts_new_comparison_csat").select("drop").run()
    at.number_input(key="alerts_new_x").set_value(8.0).run()
    at.button(key="alerts_create").click().run()
    assert at.success[0].value == "Made the rule CSAT worse by 8 points or more than the month before."
    at.button(key="alerts_create").click().run()  # the same again: its name is taken
    assert "A rule 'csat-drop-onboarding-b2c' exists already" in at.error[0].value
    at.selectbox(key="alerts_rule").select("csat-drop-onboarding-b2c").run()
    at.number_input(key="alerts_edit_x_csat-drop-onboarding-b2c").set_value(12.5)
    at.selectbox(key="alerts_edit_period_csat-drop-onboarding-b2c").select("week")
    at.button(key="FormSubmitter:alerts_edit-Save the changes").click().run()
    assert at.success[0].value == "Saved: CSAT worse by 12.5 points or more than the week before."
    changed = next(r for r in stored(fresh) if r.rule_id == "csat-drop-onboarding-b2c")
    assert (changed.threshold, changed.period, changed.metric, changed.stage_id) == (12.5, "week", "csat", "onboarding")
    at.selectbox(key="alerts_rule").select("csat-off-target-onboarding-b2c").run()
    at.button(key="alerts_switch").click().run()
    assert [r.enabled for r in stored(fresh) if r.rule_id == "csat-off-target-onboarding-b2c"] == [False]
    assert "switched off" in table_with(at, "state")["state"].tolist()


def test_bad_input_on_the_page_is_refused_and_stores_nothing(fresh: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_alerts(fresh, monkeypatch)
    at.text_input(key="alerts_new_channels").input("jane@").run()
    at.button(key="alerts_create").click().run()
    assert not at.exception and "Not an e-mail address" in at.error[0].value
    at.text_input(key="alerts_new_channels").input("").run()
    at.selectbox(key="alerts_new_metric").select("containment").run()
    at.button(key="alerts_create").click().run()
    assert "There is no Bot containment target" in at.error[0].value
    assert stored(fresh) == []


def test_leadership_subscribes_itself_and_a_b2b_lead_sees_only_b2b_rules(
    fresh: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = store.create_store_engine(fresh)
    access.grant(engine, LEADER, "leadership", None, "test")
    access.grant(engine, LEAD, "support_lead", "B2B", "test")
    risky = alerts.Rule("", "At risk", "churn_risk", "above", "month", threshold=10)
    alerts.save_rule(engine, risky, ADMIN)
    alerts.save_rule(engine, alerts.Rule("", "FCR all", "fcr", "drop", "month", threshold=5), ADMIN)
    alerts.save_rule(engine, alerts.Rule("", "FCR B2B", "fcr", "drop", "month", segment="B2B", threshold=5), ADMIN)
    engine.dispose()

    at = signed_in(fresh, monkeypatch, LEADER).run().switch_page("pages/alerts.py").run()
    assert not at.exception
    # leadership's pages show the churn warning and the journey map's FCR: all three rules, none to edit
    assert table_with(at, "rule")["rule"].tolist() == ["At risk", "FCR all", "FCR B2B"]
    assert "New rule" not in [s.value for s in at.subheader]
    at.selectbox(key="alerts_rule").select("at-risk").run()
    at.button(key="alerts_me_on").click().run()
    assert not at.exception and at.success[0].value == f"You get At risk: email:{LEADER}"
    engine = store.create_store_engine(fresh, read_only=True)
    with store.connect(engine) as conn:
        assert alerts.subscriptions(conn)["channel"].to_list() == [f"email:{LEADER}"]
    engine.dispose()
    assert "alerts_test" not in [b.key for b in at.button]  # sending tests is for editors

    lead = signed_in(fresh, monkeypatch, LEAD).run().switch_page("pages/alerts.py").run()
    assert not lead.exception
    assert table_with(lead, "rule")["rule"].tolist() == ["FCR B2B"]


def test_an_alert_link_opens_stage_kpis_on_its_metric_and_stage(
    sample_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"metric": "nps", "stage": "onboarding", "segment": ["B2C"]})
    at.run().switch_page("pages/stage_kpis.py").run()
    assert not at.exception
    assert at.segmented_control(key="kpi_metric").value == "nps"
    assert at.selectbox(key="kpi_stage").value == "onboarding"
    assert at.sidebar.multiselect(key="f_segment").value == ["B2C"]


def test_the_support_page_has_a_live_panel_of_the_newest_tickets(
    sample_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page("pages/support.py").run()
    assert not at.exception
    words = texts(at)
    assert "**Live** · the newest tickets of all customers, whatever the period" in words
    assert "**Ticket CSAT" in words and "redrawn every 30 s" in words
    live = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert len(live) == 10 and list(live["opened"]) == sorted(live["opened"], reverse=True)
    assert list(live.columns) == ["opened", "ticket", "line", "category", "status", "rating", "segment"]  # words
    assert "None" not in {str(v) for v in live["rating"]} and set(live["rating"]) <= {"1", "2", "3", "4", "5", "–"}
