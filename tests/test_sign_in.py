"""Sign-in and roles through Streamlit's AppTest: who sees which pages, what a page refuses, what is masked. The
browser test (test_browser_sign_in.py) does the same with a real OpenID provider."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data_access import access, store
from tests.test_pages import APP, table_with, texts
from tests.test_pages import sample_url as sample_url  # the module's sample store

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-secret-that-is-long-enough-for-signing",
    "client_id": "cjm",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
LEADER, LEAD, ANALYST, ADMIN = "leader@example.com", "lead@example.com", "analyst@example.com", "admin@example.com"


@pytest.fixture(scope="module")
def granted(sample_url: str) -> str:
    engine = store.create_store_engine(sample_url)
    access.grant(engine, LEADER, "leadership", None, "test")
    access.grant(engine, LEAD, "support_lead", "B2B", "test")
    access.grant(engine, ANALYST, "analyst", None, "test")
    access.grant(engine, ADMIN, "admin", None, "test")
    engine.dispose()
    return sample_url


def signed_in(url: str, monkeypatch: pytest.MonkeyPatch, email: str | None, **claims: object) -> AppTest:
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": email is not None, **({"email": email} if email else {}), **claims}
    return at


def menu(at: AppTest) -> set[str]:
    """The pages the last run's st.navigation registered (the menu; AppTest keeps them in a private field)."""
    return {str(info["page_name"]) for info in at._registered_pages.values()}


def refused(at: AppTest, page: str) -> bool:
    """Whether a page is out of the viewer's reach: AppTest will not even switch to a page st.navigation did not
    register (in a browser, a hand-typed address of one opens the home page: test_browser_sign_in.py)."""
    try:
        at.switch_page(page)
    except ValueError as exc:
        return "Could not find a navigation page" in str(exc)
    return False


def test_local_mode_says_so_and_opens_everything(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Local mode: sign-in is off" in c.value for c in at.sidebar.caption)
    assert len(menu(at)) == len(access.PAGES)


def test_signed_out_sees_only_the_sign_in_page(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, None).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["CJM retention dashboard"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert menu(at) == {"Sign in"}
    assert not at.sidebar.multiselect and not at.dataframe and not at.get("plotly_chart") and not at.metric
    assert refused(at, "pages/churn_warning.py")


def test_a_required_sign_in_without_auth_is_an_error_page(sample_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    monkeypatch.setattr(
        "components.auth.SETTINGS", __import__("dataclasses").replace(auth_settings(), require_login=True)
    )
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert [t.value for t in at.title] == ["Sign-in is not configured"]
    assert "has no [auth] section" in at.error[0].value
    assert not at.dataframe and not at.metric


def auth_settings() -> object:
    from components import auth

    return auth.SETTINGS


def test_a_user_without_a_role_sees_no_access(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, "stranger@example.com").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["No access"]
    assert "stranger@example.com" in at.warning[0].value
    assert "your dashboard's administrator" in texts(at)
    assert not at.dataframe and not at.metric and not at.sidebar.multiselect


def test_an_unverified_email_gets_no_access(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, LEADER, email_verified=False).run()
    assert [t.value for t in at.title] == ["No access"]


def test_leadership_sees_its_pages_masked(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, LEADER).run()
    assert not at.exception
    assert menu(at) == {
        "Overview",
        "Retention",
        "Churn early warning",
        "Journey map",
        "KPI review",
        "Alerts",
        "Why they leave",
        "Retention offers",
        "Experiments",
    }
    assert at.title[0].value == "Overview"
    at.switch_page("pages/churn_warning.py").run()
    listed = table_with(at, "email")
    assert listed["email"].str.match(r"^.\*\*\*@example\.com$").all(), listed["email"].head()
    assert listed["customer_name"].str.match(r"^.\*\*\*$").all()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert "Save the review" not in [b.label for b in at.button]  # read-only
    assert not any(e.key == "review_notes" for e in at.get("arrow_data_frame"))
    for page in ("pages/data.py", "pages/support.py", "pages/map_editor.py", "pages/access.py", "pages/funnel.py"):
        assert refused(at, page), page


def test_a_b2b_support_lead_sees_b2b_only(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, LEAD).run()
    assert not at.exception
    assert menu(at) == {"Support quality", "Stage KPIs", "Journey map", "Funnel", "Alerts"}
    assert at.title[0].value == "Support quality"
    assert at.sidebar.multiselect(key="f_segment").options == ["B2B"]
    at.switch_page("pages/funnel.py").run()
    dropped = table_with(at, "entered_at")
    assert set(dropped["segment"]) == {"B2B"}
    assert dropped["email"].str.contains(r"^[a-z]+\.[a-z]+\.\d+@example\.com$").all()  # their own segment: unmasked
    # the funnel's first step counts B2B customers only: a hand query on the store agrees
    engine = store.create_store_engine(granted, read_only=True)
    with store.connect(engine) as conn:
        import sqlalchemy as sa

        from data_access import schema

        e, c = schema.journey_events.c, schema.customers.c
        by_hand = conn.execute(
            sa.select(sa.func.count(sa.distinct(e.customer_id)))
            .join_from(schema.journey_events, schema.customers, c.customer_id == e.customer_id)
            .where(e.stage_id == "awareness", c.segment == "B2B")
        ).scalar_one()
    steps = table_with(at, "Step")
    assert int(steps["Customers"].iloc[0]) == by_hand
    assert refused(at, "pages/overview.py")


def _page_behind_the_menu() -> None:
    """A page script run for a viewer whose role does not give it (what a page does when it is reached anyway)."""
    import streamlit as st

    from components import auth, shell
    from data_access.access import Access

    st.session_state[auth.ACCESS_KEY] = Access("leader@example.com", frozenset({"leadership"}))
    shell.open_page("data")
    st.write("the page went on")


def test_every_page_checks_the_role_itself() -> None:
    at = AppTest.from_function(_page_behind_the_menu).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Your role does not give you this page."]
    assert "the page went on" not in [m.value for m in at.markdown]
    pages = {p.name.removesuffix(".py") for p in Path(APP).parent.joinpath("pages").glob("*.py")}
    for page in pages:  # and every page script opens through that check
        text = Path(APP).parent.joinpath("pages", f"{page}.py").read_text()
        assert f'shell.start("{page}")' in text or f'shell.open_page("{page}")' in text, page


def test_a_link_asking_for_another_segment_shows_nothing_of_it(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, LEAD)
    at.query_params["segment"] = ["B2C"]
    at.run().switch_page("pages/funnel.py").run()
    assert not at.exception
    dropped = table_with(at, "entered_at")
    assert set(dropped["segment"]) <= {"B2B"}


def test_an_analyst_edits_but_does_not_load_or_grant(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, ANALYST).run()
    assert "Access" not in menu(at) and "Maps and targets" in menu(at)
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.get("file_uploader")
    assert "Your role reads the data; an admin loads it." in [i.value for i in at.info]
    at.switch_page("pages/review.py").run()
    assert "Save the review" in [b.label for b in at.button]


def test_an_admin_grants_a_role_and_the_audit_log_has_it(granted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in(granted, monkeypatch, ADMIN).run()
    at.switch_page("pages/access.py").run()
    assert not at.exception
    at.text_input[0].set_value("New.Analyst@Example.com")
    at.selectbox[0].set_value("analyst")
    at.button(key="FormSubmitter:access_grant-Grant").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Granted analyst to new.analyst@example.com." in [s.value for s in at.success]
    grants = table_with(at, "granted_by")
    assert "new.analyst@example.com" in set(grants["email"])
    log = table_with(at, "action")
    assert {"grant", "sign-in"} <= set(log["action"])
    engine = store.create_store_engine(granted, read_only=True)
    assert access.access_for(engine, "new.analyst@example.com").roles == {"analyst"}
    with store.connect(engine) as conn:
        entries = access.audit(conn)
    assert entries.filter(pl.col("action") == "sign-in")["who"].str.contains("@example.com").all()
