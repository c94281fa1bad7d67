"""Alerts in the real app, in Chromium: a rule made on the Alerts page, its test message and then its real one
delivered to an SMTP server on loopback, the message's link opening the evidence; and the Support page's live
panel showing a ticket written to the store after the page was opened, without the page being reloaded."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from data_access import alerts, delivery, store
from data_access.loading import ingest
from tests.peers import smtp_server
from tests.test_browser import ARTIFACTS, _settled, pick, running_app
from tests.test_browser import browser as browser
from tests.test_browser import sample_store as sample_store
from tests.test_browser import server as server

pytestmark = pytest.mark.browser


def test_a_rule_made_on_the_page_mails_a_link_to_its_evidence(
    sample_store: str, browser: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "alerts.duckdb"
    shutil.copy(sample_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    with smtp_server() as (box, port):
        secrets = tmp_path / "secrets.toml"
        monkeypatch.setenv("CJM_SECRETS_FILE", str(secrets))
        with running_app(url, tmp_path / "streamlit.log") as base:
            secrets.write_text(f'[notify]\nbase_url = "{base}"\n\n[notify.smtp]\nhost = "127.0.0.1"\nport = {port}\n')
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.goto(f"{base}/alerts")
            _settled(page)
            assert page.get_by_text("No alert rules you can see yet. Make one below.").count() == 1
            main = page.locator("[data-testid='stMain']")

            def choose(label: str, option: str) -> None:
                # the first of its label: the new rule's (the digest's form below has a Segment too)
                pick(page, main.locator("[data-testid='stSelectbox']").filter(has_text=label).first, option)
                _settled(page)

            choose("Stage", "Onboarding")
            choose("Segment", "B2C")
            minimum = main.get_by_label("Minimum sample")
            minimum.fill("10")
            minimum.press("Enter")
            _settled(page)
            channels = main.get_by_label("Send to (e-mails or webhook names, separated by commas)")
            channels.fill("cx-lead@example.com")
            channels.press("Enter")
            _settled(page)
            page.get_by_role("button", name="Create the rule").click()
            page.get_by_text("Made the rule CSAT worse than its target.").wait_for(timeout=30_000)
            _settled(page)
            page.get_by_role("button", name="Send a test").click()
            page.get_by_text("Test of CSAT off target Onboarding B2C sent to email:cx-lead@example.com.").wait_for(
                timeout=30_000
            )
            _settled(page)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "alerts.png", full_page=True)
            assert len(box.messages) == 1 and box.messages[0]["Subject"].startswith("[test] CJM alert")

            # the real run, as cron would start it, then the link in the message opens the evidence
            engine = store.create_store_engine(url)
            outcomes = alerts.run(engine, delivery.NotifyConfig.load())
            with store.connect(engine) as conn:
                [rule] = alerts.rules(conn)
                finding = alerts.evaluate(conn, rule, alerts.default_as_of(engine))
            engine.dispose()
            ruled = [o.status for o in outcomes if not o.rule_id.startswith("audience")]  # the sample's audiences too
            assert ruled == (["sent"] if finding.fires else ["not firing"])
            if not finding.fires:
                pytest.fail(f"the planted onboarding story did not fire on the 3,000-customer sample: {finding.why}")
            text = box.parts(1)["plain"]
            link = re.search(r"See the evidence: (\S+)", text).group(1)
            assert link.startswith(f"{base}/stage_kpis?from=2026-10-01&to=2026-10-31&segment=B2C&stage=onboarding")
            evidence = browser.new_page(viewport={"width": 1440, "height": 1000})
            evidence.goto(link)
            _settled(evidence)
            assert evidence.locator("h1").first.inner_text() == "Stage KPIs"
            caption = evidence.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']").first.inner_text()
            assert caption.startswith("B2C, 2026-10-01 to 2026-10-31")
            evidence.screenshot(path=ARTIFACTS / "alert_evidence.png", full_page=True)
            assert evidence.get_by_label("Stage (or click its bar above)").input_value() == "Onboarding"
            evidence.close()
            page.close()


def test_the_live_support_panel_shows_a_new_ticket_without_a_reload(
    sample_store: str, browser: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "live.duckdb"
    shutil.copy(sample_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    monkeypatch.setenv("CJM_LIVE_REFRESH", "2")
    with running_app(url, tmp_path / "streamlit.log") as base:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{base}/support")
        _settled(page)
        live = page.locator(".st-key-support_live")
        assert "redrawn every 2 s" in live.inner_text()
        page.evaluate("() => { window.__same_page = true; }")
        first_check = re.search(r"Checked (\S+) UTC", live.inner_text()).group(1)
        engine = store.create_store_engine(url)
        with store.connect(engine) as conn:
            customer = conn.exec_driver_sql("SELECT min(customer_id) FROM customers WHERE segment = 'B2B'").scalar()
        ticket = {
            "ticket_id": "T-LIVE-0001",
            "customer_id": customer,
            "stage_id": "support",
            "opened_at": datetime(2026, 10, 31, 23, 59),
            "entry_channel": "chat",
            "final_line": 1,
            "bot_resolved": False,
            "category": "technical",
            "contacts": 1,
            "reopened": False,
        }
        ingest.write(engine, [("tickets", ingest.typed_frame("tickets", [ticket]))], mode="append")
        engine.dispose()
        page.get_by_text("Newest ticket T-LIVE-0001, opened 31 Oct 23:59: line 1, technical, open.").wait_for(
            timeout=30_000
        )
        assert page.evaluate("() => window.__same_page") is True  # the panel redrew itself; the page did not reload
        assert re.search(r"Checked (\S+) UTC", live.inner_text()).group(1) != first_check
        ARTIFACTS.mkdir(exist_ok=True)
        live.screenshot(path=ARTIFACTS / "support_live.png")
        page.close()
