"""Alert rules: hand-worked evaluation on every store, the checks on what is typed, segment limits, and delivery to a
real SMTP server and a signed-webhook receiver on loopback (once per period, failures recorded and retried).

The hand-made company (stage "a", target CSAT 80): B2C answers CSAT 36 of 40 good in September 2026 and 20 of 40
in October; B2B answers 9 of 10 in September and 8 of 10 in October. As of 2026-11-01 a monthly rule judges October:
- B2C off target: 20/40 = 50%, Wilson 95% interval 35.2 to 64.8, all below 80: fires.
- B2C drop of at least 20 points: 90 -> 50, and September's interval 76.9..96.0 is wholly above 35.2..64.8: fires;
  at least 45 points: does not.
- B2B drop of at least 10 points: 90 -> 80, but 9/10's interval 59.6..98.2 overlaps 8/10's 49.0..94.3: noise.
- B2B with a minimum sample of 11: not enough data.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from data_access import access, alerts, delivery, store
from data_access.access import Access
from data_access.alerts import AlertError, Rule
from tests.conftest import make_store_url, put
from tests.peers import free_port, self_signed, smtp_server, webhook_receiver

AS_OF = datetime(2026, 11, 1)
ADMIN = Access("admin@example.com", frozenset({"admin"}))
SECRET = "a-webhook-secret-of-some-length"


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


def answers(customer: str, month: int, good: int, total: int) -> list[dict[str, object]]:
    return [
        {
            "response_id": f"{customer}-{month}-{i}",
            "customer_id": customer,
            "stage_id": "a",
            "survey": "csat",
            "score": 5 if i < good else 2,
            "responded_at": datetime(2026, month, 1 + i % 28, 12),
        }
        for i in range(total)
    ]


@pytest.fixture
def company(engine: Engine) -> Engine:
    return company_in(engine)


def company_in(engine: Engine) -> Engine:
    put(
        engine,
        stages=[{"stage_id": "a", "name": "Alpha", "position": 1, "in_funnel": True}],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2026, 1, 1),
                "segment": seg,
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
            for c, seg in (("c1", "B2C"), ("b1", "B2B"))
        ],
        survey_responses=[
            *answers("c1", 9, 36, 40),
            *answers("c1", 10, 20, 40),
            *answers("b1", 9, 9, 10),
            *answers("b1", 10, 8, 10),
        ],
        kpi_targets=[{"stage_id": "*", "metric": "csat", "target": 80.0, "warn": 70.0}],
    )
    return engine


def rule(**kw: object) -> Rule:
    base = {
        "rule_id": "",
        "name": "r",
        "metric": "csat",
        "comparison": "off_target",
        "period": "month",
        "stage_id": "a",
        "segment": "B2C",
        "min_n": 10,
    }
    return Rule(**(base | kw))  # type: ignore[arg-type]


def judge(engine: Engine, r: Rule) -> alerts.Finding:
    with store.connect(engine) as conn:
        return alerts.evaluate(conn, r, AS_OF)


def test_rules_judge_the_last_complete_month_by_hand(company: Engine) -> None:
    off = judge(company, rule())
    lo, hi = wilson(20, 40)
    assert off.window == alerts.Window("2026-10", datetime(2026, 10, 1), datetime(2026, 11, 1))
    assert off.value == pytest.approx(50.0) and off.n == 40
    assert (off.lo, off.hi) == (pytest.approx(lo), pytest.approx(hi))
    assert off.target == 80.0 and off.fires
    assert off.previous == pytest.approx(90.0) and off.previous_n == 40

    drop = judge(company, rule(comparison="drop", threshold=20))
    assert wilson(36, 40)[0] > hi and drop.fires
    assert not judge(company, rule(comparison="drop", threshold=45)).fires
    noise = judge(company, rule(segment="B2B", comparison="drop", threshold=10))
    b_lo, b_hi = wilson(8, 10)
    assert noise.value == pytest.approx(80.0) and (noise.lo, noise.hi) == (pytest.approx(b_lo), pytest.approx(b_hi))
    assert wilson(9, 10)[0] < b_hi and not noise.fires and "noise" in noise.why
    thin = judge(company, rule(segment="B2B", comparison="drop", threshold=10, min_n=11))
    assert not thin.fires and thin.why.startswith("not enough data")
    # B2B alone is on target (80 >= 80): nothing fires
    assert not judge(company, rule(segment="B2B")).fires
    # every segment: 28 of 50 = 56%, interval below 80
    both = judge(company, rule(segment=None))
    assert both.value == pytest.approx(56.0) and both.n == 50 and both.fires


def test_weeks_and_months_are_complete_calendar_periods() -> None:
    assert alerts.window("week", datetime(2026, 11, 4, 9)) == alerts.Window(
        "2026-W44", datetime(2026, 10, 26), datetime(2026, 11, 2)
    )
    assert alerts.window("month", datetime(2026, 1, 15)).key == "2025-12"
    assert alerts.before("month", alerts.window("month", datetime(2026, 1, 15))).key == "2025-11"


def test_bad_rules_are_refused_and_store_nothing(company: Engine) -> None:
    bad = [
        (rule(metric="happiness"), "Unknown metric"),
        (rule(comparison="drop", threshold=500), "between 0.1 and 100"),
        (rule(comparison="drop", threshold=None), "threshold"),
        (rule(metric="nps", comparison="drop", threshold=-3), "between 0.1 and 200"),
        (rule(metric="churn_risk", comparison="off_target"), "compared by above"),
        (rule(comparison="above", threshold=5), "compared by off_target or drop"),
        (rule(stage_id="zz"), "Unknown stage"),
        (rule(segment="Martians"), "Unknown segment"),
        (rule(metric="ces"), "no CES target"),
        (rule(period="year"), "Unknown period"),
        (rule(name="  "), "needs a name"),
    ]
    for candidate, words in bad:
        with pytest.raises(AlertError, match=words):
            alerts.save_rule(company, candidate, ADMIN)
    for channel, words in (("jane@", "Not an e-mail"), ("slack", "configured webhook")):
        with pytest.raises(AlertError, match=words):
            alerts.save_rule(company, rule(), ADMIN, channels=[channel])
    with store.connect(company) as conn:
        assert alerts.rules(conn) == [] and alerts.subscriptions(conn).height == 0
    with pytest.raises(ValueError, match="url must be an http"):
        delivery.NotifyConfig.from_secrets({"notify": {"webhooks": {"x": {"url": "ftp://h", "secret": SECRET}}}})
    with pytest.raises(ValueError, match="secret of at least 16"):
        delivery.NotifyConfig.from_secrets({"notify": {"webhooks": {"x": {"url": "https://h.org", "secret": "s"}}}})


def test_segment_limits_hold_for_making_and_getting_rules(company: Engine) -> None:
    b2b_analyst = Access("ana@example.com", frozenset({"analyst"}), ("B2B",))
    with pytest.raises(AlertError, match="B2B only"):
        alerts.save_rule(company, rule(segment=None), b2b_analyst)
    with pytest.raises(AlertError, match="B2B only"):
        alerts.save_rule(company, rule(segment="B2C"), b2b_analyst)
    mine = alerts.save_rule(company, rule(name="B2B csat", segment="B2B"), b2b_analyst)
    everyone = alerts.save_rule(company, rule(name="All csat", segment=None), ADMIN)
    lead = Access("lead@example.com", frozenset({"support_lead"}), ("B2B",))
    with pytest.raises(AlertError, match="Only analysts and admins"):
        alerts.save_rule(company, rule(name="x", segment="B2B"), lead)
    with pytest.raises(AlertError, match="does not cover"):
        alerts.subscribe(company, everyone.rule_id, lead.email, lead, [])
    with pytest.raises(AlertError, match="own e-mail only"):
        alerts.subscribe(company, mine.rule_id, "someone@example.com", lead, [])
    assert alerts.subscribe(company, mine.rule_id, lead.email, lead, []) == "email:lead@example.com"
    # an admin cannot hand the all-segments rule to the B2B lead either, by the store's grants
    access.grant(company, lead.email, "support_lead", "B2B", "test")
    with pytest.raises(AlertError, match="may not see this rule"):
        alerts.subscribe(company, everyone.rule_id, lead.email, ADMIN, [])
    with pytest.raises(AlertError, match="no role"):
        alerts.subscribe(company, everyone.rule_id, "nobody@example.com", ADMIN, [])
    leadership = Access("boss@example.com", frozenset({"leadership"}))
    # stage CSAT is on the journey map, leadership's page, and their link goes there; bot containment is not
    assert alerts.may_see(leadership, everyone) and alerts.page_for(leadership, everyone) == "journey_map"
    assert not alerts.may_see(leadership, rule(metric="containment", comparison="drop", threshold=5, segment=None))
    assert alerts.may_see(leadership, rule(metric="churn_risk", comparison="above", threshold=1, segment=None))


def _config(port: int, hook_url: str | None = None, retries: int = 3) -> delivery.NotifyConfig:
    hooks = {"ops": delivery.Webhook("ops", hook_url, SECRET)} if hook_url else {}
    return delivery.NotifyConfig(
        smtp=delivery.Smtp("127.0.0.1", port),
        webhooks=hooks,
        base_url="https://cjm.example.com",
        retries=retries,
        backoff_seconds=0.01,
        timeout_seconds=3,
    )


def test_a_firing_rule_is_delivered_once_per_period_by_mail_and_signed_webhook(company: Engine) -> None:
    with smtp_server() as (box, port), webhook_receiver(SECRET) as hook:
        config = _config(port, hook.url)
        fired = alerts.save_rule(
            company, rule(name="Alpha CSAT B2C"), ADMIN, channels=["cx@example.com", "ops"], webhooks=config.webhooks
        )
        alerts.save_rule(company, rule(name="Alpha B2B", segment="B2B"), ADMIN, channels=["cx@example.com"])
        first = alerts.run(company, config, AS_OF)
        assert {(o.rule_id, o.channel, o.status) for o in first} == {
            (fired.rule_id, "email:cx@example.com", "sent"),
            (fired.rule_id, "webhook:ops", "sent"),
            ("alpha-b2b", "", "not firing"),
        }
        assert len(box.messages) == 1 and box.recipients[0] == ["cx@example.com"]
        message = box.messages[0]
        assert "Alpha CSAT B2C" in message["Subject"] and "2026-10" in message["Subject"]
        parts = box.parts(0)
        link = "https://cjm.example.com/stage_kpis?from=2026-10-01&to=2026-10-31&segment=B2C&stage=a&metric=csat"
        assert link in parts["plain"] and "50.0%" in parts["plain"] and "Target: 80" in parts["plain"]
        assert link.replace("&", "&amp;") in parts["html"]
        assert len(hook.received) == 1 and hook.received[0].valid
        body = hook.received[0].json
        assert body["period"] == "2026-10" and body["value"] == pytest.approx(50.0) and body["n"] == 40
        assert body["link"] == link and body["rule"]["segment"] == "B2C" and body["target"] == 80.0
        # a second run sends nothing new
        second = alerts.run(company, config, AS_OF)
        assert {o.status for o in second if o.rule_id == fired.rule_id} == {"already sent"}
        assert len(box.messages) == 1 and len(hook.received) == 1
    with store.connect(company) as conn:
        logged = delivery.entries(conn)
    assert sorted(logged["status"].to_list()) == ["sent", "sent"] and set(logged["period"]) == {"2026-10"}


def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    body = b'{"a": 1}'
    assert delivery.verify(SECRET, body, delivery.signature(SECRET, body))
    assert not delivery.verify(SECRET, body, delivery.signature("another-secret-entirely", body))
    assert not delivery.verify(SECRET, body + b" ", delivery.signature(SECRET, body))
    assert not delivery.verify(SECRET, body, None)


def test_an_unreachable_channel_is_recorded_as_failed_and_retried_next_run(company: Engine) -> None:
    port = free_port()  # nothing listens there yet
    with webhook_receiver(SECRET) as hook:
        hook.replies = [500, 503, 500, 500]  # fails all four attempts of the first run
        config = _config(port, hook.url)
        alerts.save_rule(company, rule(name="Alpha"), ADMIN, channels=["cx@example.com", "ops"], webhooks=["ops"])
        waits: list[float] = []
        first = alerts.run(company, config, AS_OF, sleep=waits.append)
        assert {o.channel: o.status for o in first} == {"email:cx@example.com": "failed", "webhook:ops": "failed"}
        assert "after 4 attempts" in next(o.detail for o in first if o.channel == "webhook:ops")
        assert len(hook.received) == 4 and waits == [0.01, 0.02, 0.04] * 2  # 3 retries with backoff, per channel
        with store.connect(company) as conn:
            failed = delivery.entries(conn)
        assert set(failed["status"]) == {"failed"} and failed["error"].null_count() == 0
        with smtp_server(port) as (box, _):
            second = alerts.run(company, config, AS_OF, sleep=waits.append)
        assert {o.channel: o.status for o in second} == {"email:cx@example.com": "sent", "webhook:ops": "sent"}
        assert len(box.messages) == 1 and hook.received[-1].valid
    with store.connect(company) as conn:
        done = delivery.entries(conn)
    assert set(done["status"]) == {"sent"} and set(done["attempts"]) == {2}


def test_a_recipient_whose_grant_is_gone_is_refused_at_delivery(company: Engine) -> None:
    with smtp_server() as (box, port):
        access.grant(company, ADMIN.email, "admin", None, "test")  # access is set up (no grants at all: local mode)
        access.grant(company, "lead@example.com", "analyst", None, "test")
        alerts.save_rule(company, rule(name="Alpha"), ADMIN, channels=["lead@example.com"])
        access.revoke(company, "lead@example.com", "analyst", "test")
        outcome = alerts.run(company, _config(port), AS_OF)
        assert [(o.status, "no role" in o.detail) for o in outcome] == [("refused", True)]
        assert box.messages == []


def test_a_test_message_is_sent_whether_or_not_the_rule_fires(company: Engine) -> None:
    with smtp_server() as (box, port):
        quiet = alerts.save_rule(company, rule(name="B2B", segment="B2B"), ADMIN, channels=["cx@example.com"])
        [outcome] = alerts.send_test(company, _config(port), quiet.rule_id, AS_OF)
        assert outcome.status == "sent" and outcome.period.startswith("test-")
        assert box.messages[0]["Subject"].startswith("[test]")
        # the test stands in for nothing: the real period is still unsent (and does not fire)
        assert [o.status for o in alerts.run(company, _config(port), AS_OF)] == ["not firing"]


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_two_runs_racing_send_each_message_once(kind: str, tmp_path: Path) -> None:
    """Two runs at once in one process, on a server store (on an embedded file writers take turns; the race of two
    processes on DuckDB is in test_cli_alerts)."""
    url = make_store_url(kind, tmp_path)
    engine = store.create_store_engine(url)
    store.init_store(engine)
    company = company_in(engine)
    with smtp_server() as (box, port):
        alerts.save_rule(company, rule(name="Alpha"), ADMIN, channels=["a@example.com", "b@example.com"])
        barrier = threading.Barrier(2)
        results: list[list[alerts.Outcome]] = []

        def race() -> None:
            barrier.wait()
            results.append(alerts.run(company, _config(port), AS_OF))

        threads = [threading.Thread(target=race) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(o.status for run in results for o in run)
        assert statuses == ["already sent", "already sent", "sent", "sent"]
        assert sorted(r[0] for r in box.recipients) == ["a@example.com", "b@example.com"]
    engine.dispose()


def test_the_default_as_of_follows_data_that_ends_before_today(company: Engine) -> None:
    assert alerts.default_as_of(company, now=datetime(2026, 12, 3, 9)) == datetime(2026, 10, 29)
    assert alerts.default_as_of(company, now=datetime(2026, 10, 15)) == datetime(2026, 10, 15)


def test_smtp_login_is_used_and_a_wrong_password_fails_without_retries(company: Engine) -> None:
    with smtp_server(login=("alerts", "s3cret")) as (box, port):
        alerts.save_rule(company, rule(name="Alpha"), ADMIN, channels=["cx@example.com"])
        wrong = replace(_config(port), smtp=delivery.Smtp("127.0.0.1", port, user="alerts", password="nope"))
        waits: list[float] = []
        [failed] = alerts.run(company, wrong, AS_OF, sleep=waits.append)
        assert failed.status == "failed" and "SMTPAuthenticationError" in failed.detail and waits == []
        right = replace(wrong, smtp=replace(wrong.smtp, password="s3cret"))
        [sent] = alerts.run(company, right, AS_OF, sleep=waits.append)
        assert sent.status == "sent" and len(box.messages) == 1


def test_starttls_with_the_servers_ca_and_not_without_it(company: Engine, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with smtp_server(login=("alerts", "s3cret"), tls=(cert, key)) as (box, port):
        alerts.save_rule(company, rule(name="Alpha"), ADMIN, channels=["cx@example.com"])
        plain = replace(_config(port), smtp=delivery.Smtp("127.0.0.1", port, user="alerts", password="s3cret"))
        waits: list[float] = []
        [refused] = alerts.run(company, plain, AS_OF, sleep=waits.append)
        # without STARTTLS the server does not even offer to take the password; no use retrying
        assert refused.status == "failed" and "AUTH extension not supported" in refused.detail and waits == []
        unknown_ca = replace(plain, smtp=replace(plain.smtp, starttls=True))
        [untrusted] = alerts.run(company, unknown_ca, AS_OF, sleep=lambda _s: None)
        assert untrusted.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
        trusted = replace(unknown_ca, smtp=replace(unknown_ca.smtp, cafile=str(cert)))
        [sent] = alerts.run(company, trusted, AS_OF)
        assert sent.status == "sent" and len(box.messages) == 1
