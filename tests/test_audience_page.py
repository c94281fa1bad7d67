"""The Audiences page and the Audience filter through Streamlit's AppTest: an audience built with the builder and
saved with its members counted, chosen in the sidebar (kept in the link, said in the caption, the figures narrowed),
and a viewer limited to B2B who sees only B2B members."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from data_access import access, audiences, store
from data_access.audiences import Audience
from data_access.filters import Filters
from data_access.loading import ingest
from data_access.queries import kpis
from tests.test_pages import APP, table_with, texts
from tests.test_sign_in import signed_in

RISKY = {"risk": {"op": "gte", "value": 3}}


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('audiences') / 'sample.duckdb'}"
    engine = store.create_store_engine(url)
    ingest.seed(engine, 2_000, 42)
    access.grant(engine, "b2b@example.com", "analyst", "B2B", "test")
    engine.dispose()
    return url


def test_build_an_audience_and_filter_every_page_by_it(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/audiences.py").run()
    assert not at.exception
    listed = table_with(at, "key")
    assert list(listed["key"]) == ["at-risk-b2b", "detractors-90d", "onboarded-not-using"]  # the sample's own
    at.text_input(key="audiences_new_name").input("Risky now").run()
    at.checkbox(key="audiences_new_risk_on").check().run()
    at.number_input(key="audiences_new_risk").set_value(3).run()
    assert not at.exception
    engine = store.create_store_engine(sample_url)
    expected = audiences.preview(engine, RISKY, datetime.now(UTC).replace(tzinfo=None))
    assert expected > 0
    assert f"{expected:,} customers meet it now." in texts(at)
    at.button(key="audiences_save").click().run()
    assert not at.exception
    assert f"Saved Risky now: {expected:,} members." in [s.value for s in at.success]
    members, state = audiences.current(engine, "risky-now")
    assert members.height == expected and state["members"] == expected

    at.switch_page("pages/stage_kpis.py").run()
    at.sidebar.selectbox(key="f_audience").set_value("risky-now").run()
    assert not at.exception
    assert at.query_params["audience"] in ("risky-now", ["risky-now"])
    assert f"audience: Risky now, {expected:,} customers, computed" in texts(at)
    shown = table_with(at, "Customers")
    chosen = Filters().with_audience(audiences.choice(engine, "risky-now"))
    direct = kpis.stage_kpis(engine, chosen)
    assert int(shown["Customers"].iloc[0]) == int(direct["customers"][0]) <= expected
    engine.dispose()


def test_a_link_opens_with_the_audience(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.create_store_engine(sample_url)
    audiences.add(engine, Audience("linked", "Linked", "me", RISKY))
    audiences.recompute(engine, store.freshness(engine), ("linked",))
    n = audiences.choice(engine, "linked").members
    engine.dispose()
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["audience"] = "linked"
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key="f_audience").value == "linked"
    assert f"audience: Linked, {n:,} customers, computed" in texts(at)


def test_a_viewer_limited_to_b2b_sees_only_b2b_members(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.create_store_engine(sample_url)
    audiences.add(engine, Audience("everyone-risky", "Everyone risky", "me", RISKY))
    audiences.recompute(engine, store.freshness(engine), ("everyone-risky",))
    members, _ = audiences.current(engine, "everyone-risky")
    engine.dispose()
    at = signed_in(sample_url, monkeypatch, "b2b@example.com").run()
    at.switch_page("pages/audiences.py").run()
    assert not at.exception
    at.selectbox(key="audiences_one_at-risk-b2b").set_value("everyone-risky").run()
    assert not at.exception
    shown = table_with(at, "segment")
    assert len(shown) > 0 and set(shown["segment"]) == {"B2B"}
    assert len(shown) < members.height  # the B2C members are there, and not shown
    at.sidebar.selectbox(key="f_audience").set_value("everyone-risky").run()
    assert f"audience: Everyone risky, {len(shown):,} customers, computed" in texts(at)  # counted within B2B


def test_the_at_risk_list_becomes_an_audience_pushed_to_the_crm(
    sample_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from data_access.audiences import push
    from data_access.delivery import NotifyConfig
    from tests.peers import webhook_receiver

    secret = "a-secret-of-more-than-sixteen"
    with webhook_receiver(secret) as hook:
        notify = {"webhooks": {"crm": {"url": hook.url, "secret": secret}}, "backoff_seconds": 0}
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            f'[notify]\nbackoff_seconds = 0\n[notify.webhooks.crm]\nurl = "{hook.url}"\nsecret = "{secret}"\n'
        )
        monkeypatch.setenv("CJM_SECRETS_FILE", str(secrets))
        monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
        at = AppTest.from_file(APP, default_timeout=60)
        at.run().switch_page("pages/churn_warning.py").run()
        at.multiselect(key="risk_segments").set_value(["B2B"]).run()
        at.number_input(key="risk_audience_score").set_value(3).run()
        at.selectbox(key="risk_audience_hook").set_value("crm").run()
        at.button(key="risk_audience_make").click().run()
        assert not at.exception
        said = [s.value for s in at.success]
        assert any("Saved Churn risk 3+ B2B" in s and "go to crm" in s for s in said), said
        engine = store.create_store_engine(sample_url)
        made = audiences.get(engine, "churn-risk-3-b2b")
        assert made.rule == {
            "all": [{"risk": {"op": "gte", "value": 3}}, {"attr": "segment", "op": "in", "value": ["B2B"]}]
        }
        members, _ = audiences.current(engine, made.key)
        done = push.push(engine, NotifyConfig.from_secrets({"notify": notify}))
        assert done.sent == members.height > 0
        sent = [r.json["data"]["customer"] for r in hook.received]
        assert {c["segment"] for c in sent} == {"B2B"}
        assert sorted(c["id"] for c in sent) == sorted(members["customer_id"])
        engine.dispose()


def test_the_link_a_crm_gets_opens_the_customers_evidence(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    from data_access import schema

    engine = store.create_store_engine(sample_url, read_only=True)
    tk, cu = schema.tickets, schema.customers
    with store.connect(engine) as conn:
        b2c, tickets = conn.execute(
            sa.select(tk.c.customer_id, sa.func.count())
            .join(cu, cu.c.customer_id == tk.c.customer_id)
            .where(cu.c.segment == "B2C")
            .group_by(tk.c.customer_id)
            .order_by(sa.func.count().desc(), tk.c.customer_id)
            .limit(1)
        ).one()
    engine.dispose()
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["customer"] = b2c
    at.run().switch_page("pages/churn_warning.py").run()
    assert not at.exception
    assert f"Customer {b2c}" in [s.value for s in at.subheader]
    shown = table_with(at, "category")
    assert len(shown) == min(tickets, 20)

    at = signed_in(sample_url, monkeypatch, "b2b@example.com")
    at.query_params["customer"] = b2c
    at.run().switch_page("pages/churn_warning.py").run()
    assert not at.exception
    assert f"No customer {b2c} within your access." in [w.value for w in at.warning]
