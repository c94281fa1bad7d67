"""Pushing audiences to a CRM, against a receiver on loopback that checks the Standard Webhooks signature: each
entry and exit once across runs, a 503 retried after its Retry-After, a refusal not retried, Segment's track call,
a backfill, a cooldown, and a destination limited to B2B that never gets a B2C customer. Every store.

The customers are those of tests/test_audiences.py. Risk score 2 or more as of 2026-06-30: a (an open ticket),
b (5: an open ticket and activity decline) and c (a detractor 10 days before). Forty days later c's answer is out
of the 30-day window: c leaves; a and b stay (their tickets are still open), and d enters (its two events are now
in the window before the last 30 days, none in them: activity decline, 3)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from data_access import audiences
from data_access.alerts import dispatch
from data_access.audiences import Audience, push
from data_access.delivery import NotifyConfig
from tests.conftest import put
from tests.peers import webhook_receiver
from tests.test_audiences import AS_OF, fill

SECRET = "whsec_" + base64.b64encode(b"a key of thirty-two bytes, or so").decode()
RISKY = {"risk": {"op": "gte", "value": 2}}


def settings(url: str) -> NotifyConfig:
    hooks = {
        "crm": {"url": url, "secret": SECRET},
        "cdp": {"url": url, "secret": SECRET, "format": "segment", "write_key": "wk_123"},
    }
    return NotifyConfig.from_secrets({"notify": {"webhooks": hooks, "retries": 2, "backoff_seconds": 0}})


@pytest.fixture
def people(engine: Engine) -> Engine:
    fill(engine)
    audiences.add(engine, Audience("risky", "Risky", "me", RISKY))
    return engine


def test_each_entry_and_exit_once(people: Engine) -> None:
    with webhook_receiver(SECRET) as hook:
        config = settings(hook.url)
        push.subscribe(people, config, "risky", "crm")  # before the first recompute: every entry is new
        hook.replies = [(503, {"Retry-After": "3"})]
        waits: list[float] = []
        outcomes = dispatch.run(people, config, AS_OF, sleep=waits.append)
        assert [(o.rule_id, o.status) for o in outcomes] == [("audience:risky", "recomputed"), ("audiences", "sent")]
        assert waits == [3.0]  # the Retry-After, not the backoff of 0
        assert len(hook.received) == 4 and all(r.standard for r in hook.received)
        first, retry = hook.received[:2]
        assert first.headers["webhook-id"] == retry.headers["webhook-id"]  # the same message, tried again
        bodies = {r.json["data"]["customer"]["id"]: r.json for r in hook.received[1:]}
        assert sorted(bodies) == ["a", "b", "c"]
        b = bodies["b"]
        assert b["type"] == "audience.entered"
        assert b["timestamp"] == "2026-06-30T00:00:00Z"
        assert b["data"]["audience"] == {"key": "risky", "name": "Risky"}
        assert b["data"]["customer"] == {"id": "b", "email": "b@x.io", "segment": "B2C", "plan": "basic"}
        assert b["data"]["context"] == {
            "risk_score": 5,
            "reasons": ["activity decline", "unresolved or reopened ticket"],
            "stage": "onboarding",
        }
        assert b["data"]["url"] == "http://localhost:8501/churn_warning?customer=b"

        dispatch.run(people, config, AS_OF)  # a recompute with no change: nothing again
        assert len(hook.received) == 4
        dispatch.run(people, config, AS_OF + timedelta(days=40))  # d enters; c leaves, its exit held by the cooldown
        assert [(r.json["type"], r.json["data"]["customer"]["id"]) for r in hook.received[4:]] == [
            ("audience.entered", "d")
        ]
        dispatch.run(people, config, AS_OF + timedelta(days=42))
        assert len(hook.received) == 6
        exited = hook.received[5]
        assert exited.json["type"] == "audience.exited" and exited.json["data"]["customer"]["id"] == "c"
        assert exited.json["timestamp"] == "2026-08-09T00:00:00Z"  # when c left
        assert exited.headers["webhook-id"] not in {r.headers["webhook-id"] for r in hook.received[:5]}
        dispatch.run(people, config, AS_OF + timedelta(days=42))
        assert len(hook.received) == 6

    log = push.log(people, "risky")
    assert sorted(log["status"]) == ["sent"] * 5
    assert log.filter(log["customer_id"] == first.json["data"]["customer"]["id"])["attempts"].to_list() == [2]
    assert set(log.filter(log["attempts"] == 2)["error"].to_list()) == {"HTTP 503 from crm"}


def test_segment_backfill_limited_to_b2b(people: Engine) -> None:
    audiences.recompute(people, AS_OF)  # a, b, c members
    with webhook_receiver(SECRET) as hook:
        config = settings(hook.url)
        push.subscribe(people, config, "risky", "cdp", backfill=True, segments=("B2B",))
        push.push(people, config)
        assert [r.json["userId"] for r in hook.received] == ["a"]  # b and c are B2C
        call = hook.received[0]
        assert call.standard
        assert call.headers["authorization"] == "Basic " + base64.b64encode(b"wk_123:").decode()
        body = call.json
        assert body["type"] == "track" and body["event"] == "Audience Entered"
        assert body["messageId"] == call.headers["webhook-id"]
        assert body["properties"]["audience_key"] == "risky"
        assert body["properties"]["risk_score"] == 2
        assert body["properties"]["reasons"] == ["unresolved or reopened ticket"]
        assert body["context"]["traits"] == {"email": "a@x.io", "segment": "B2B", "plan": "pro"}
        push.push(people, config)
        assert len(hook.received) == 1


def test_without_backfill_only_new_entries(people: Engine) -> None:
    audiences.recompute(people, AS_OF)
    with webhook_receiver(SECRET) as hook:
        config = settings(hook.url)
        push.subscribe(people, config, "risky", "crm")
        assert push.push(people, config) == push.Pushed()
        assert hook.received == []


def test_a_refusal_is_not_retried_and_a_bounce_within_the_cooldown_is_not_sent(people: Engine) -> None:
    lately = {"events": {}, "window": {"last_days": 6}}  # a (5 days before) and d (1 day before)
    audiences.add(people, Audience("lately", "Active lately", "me", lately))
    with webhook_receiver(SECRET) as hook:
        config = settings(hook.url)
        push.subscribe(people, config, "lately", "crm")
        audiences.recompute(people, AS_OF, ("lately",))
        hook.replies = [400]
        done = push.push(people, config)
        assert (done.made, done.sent, done.refused) == (2, 1, 1)
        push.push(people, config)
        assert len(hook.received) == 2  # the refused one is not tried again
        assert sorted(push.log(people, "lately")["status"]) == ["refused", "sent"]

        later = AS_OF + timedelta(days=3)  # a's last event is now 8 days back: a leaves
        audiences.recompute(people, later, ("lately",))
        put(
            people,
            journey_events=[
                {
                    "event_id": "back",
                    "customer_id": "a",
                    "stage_id": "onboarding",
                    "occurred_at": later + timedelta(hours=6),
                }
            ],
        )
        audiences.recompute(people, later + timedelta(hours=12), ("lately",))  # a is back within a day
        push.push(people, config)
        audiences.recompute(people, later + timedelta(days=2), ("lately",))
        push.push(people, config)
        assert len(hook.received) == 2  # neither a's exit nor a's return was sent


def test_refused_subscriptions_store_nothing(people: Engine) -> None:
    config = settings("http://127.0.0.1:9/hook")
    with pytest.raises(audiences.RuleError, match="no webhook 'nowhere'"):
        push.subscribe(people, config, "risky", "nowhere")
    with pytest.raises(audiences.RuleError, match="unknown audience nope"):
        push.subscribe(people, config, "nope", "crm")
    assert push.subscriptions(people) == []
    with pytest.raises(audiences.RuleError, match="not sent to crm"):
        push.unsubscribe(people, "risky", "crm")


def test_the_subscribe_command(duck_url: str, tmp_path, monkeypatch, capsys) -> None:
    from data_access import config as app_config
    from data_access.ops import cli
    from data_access.store import create_store_engine

    engine = create_store_engine(duck_url)
    fill(engine)
    rule = tmp_path / "risky.json"
    rule.write_text(json.dumps(RISKY))
    assert (
        cli.main(["audiences", "add", "--db", duck_url, "--key", "risky", "--name", "Risky", "--rule", str(rule)]) == 0
    )
    with webhook_receiver(SECRET) as hook:
        secrets = {"notify": {"webhooks": {"crm": {"url": hook.url, "secret": SECRET}}}}
        monkeypatch.setattr(app_config, "read_secrets", lambda: secrets)
        monkeypatch.setattr("data_access.delivery.config.read_secrets", lambda: secrets)
        assert cli.main(["audiences", "subscribe", "--db", duck_url, "risky", "nowhere"]) == 2
        assert "no webhook 'nowhere'" in capsys.readouterr().err
        assert cli.main(["audiences", "subscribe", "--db", duck_url, "risky", "crm", "--cooldown", "2h"]) == 0
        assert "crm gets risky" in capsys.readouterr().out
        assert cli.main(["notify", "run", "--db", duck_url, "--as-of", "2026-06-29"]) == 0
        out = capsys.readouterr().out
        assert "audience:risky" in out and "3 made, 3 sent, 0 failed, 0 refused" in out
        assert len(hook.received) == 3
        assert cli.main(["audiences", "pushes", "--db", duck_url, "risky", "--format", "csv"]) == 0
        assert capsys.readouterr().out.count(",entered,") == 3
        assert cli.main(["kpis", "--db", duck_url, "--audience", "risky", "--format", "csv"]) == 0
        captured = capsys.readouterr()
        assert "audience: Risky, 3 customers, computed" in captured.err
        assert cli.main(["audiences", "unsubscribe", "--db", duck_url, "risky", "crm"]) == 0


def test_an_alert_limited_to_an_audience(duck_url: str) -> None:
    from data_access import access, alerts, store
    from data_access.alerts import evaluation

    engine = store.create_store_engine(duck_url)
    fill(engine)
    audiences.add(
        engine,
        Audience("risky-b2b", "Risky B2B", "me", {"all": [RISKY, {"attr": "segment", "op": "eq", "value": "B2B"}]}),
    )
    audiences.recompute(engine, AS_OF)
    admin = access.Access("me@x.io", frozenset({access.ADMIN}))
    rule = alerts.Rule("", "Risky B2B", alerts.CHURN_RISK, "above", "month", threshold=0, audience="nope")
    with pytest.raises(alerts.AlertError, match="Unknown audience 'nope'"):
        alerts.save_rule(engine, rule, admin)
    saved = alerts.save_rule(engine, replace(rule, audience="risky-b2b"), admin)
    with store.connect(engine) as conn:
        stored = alerts.rule(conn, saved.rule_id)
        assert stored.audience == "risky-b2b" and "audience risky-b2b" in stored.where()
        assert evaluation.churn_risk_count(conn, stored, AS_OF) == 1  # a, of a, b and c
        assert evaluation.churn_risk_count(conn, replace(stored, audience=None), AS_OF) == 3
    with pytest.raises(audiences.RuleError, match="alert rule risky-b2b uses it"):
        audiences.remove(engine, "risky-b2b")
