"""Sign-in for real: ``streamlit run app.py`` with an ``[auth]`` section pointing at an OpenID provider on loopback
(oidc-provider-mock, started here), driven by headless Chromium through the provider's own sign-in form.

On the sample store in DuckDB and in PostgreSQL: the signed-out see nothing but the sign-in page; leadership sees
its pages with customers' e-mails masked; a support lead limited to B2B sees B2B figures only (the funnel's first
step equals a hand query on B2B rows) and is refused a page typed by hand; a user without a role sees "no access";
a role can come from the token's groups claim."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from data_access import access, schema, store
from data_access.loading import ingest
from tests.conftest import make_store_url
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _free_port, _settled, running_app

pytestmark = pytest.mark.browser

LEADER, LEAD, STRANGER, GROUPED = "leader@example.com", "lead@example.com", "stranger@example.com", "cx@example.com"
LEADERSHIP_PAGES = {
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
ADMIN_CONTACT = "cx-admins@example.com"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CJM_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    import httpx
    import oidc_provider_mock

    with oidc_provider_mock.run_server_in_thread() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        people = {
            LEADER: {"name": "Lea Der"},
            LEAD: {"name": "Lee Lead"},
            STRANGER: {"name": "Stan Ger"},
            GROUPED: {"name": "Grace Group", "groups": ["cx-analysts"]},
        }
        for email, claims in people.items():
            answer = httpx.put(f"{base}/users/{quote(email)}", json={"email": email, **claims})
            assert answer.status_code == 204, answer.text
        yield base


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def granted_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, provider: str) -> str:
    url = make_store_url(request.param, tmp_path_factory.mktemp(f"signin_{request.param}"))
    engine = store.create_store_engine(url)
    ingest.seed(engine, 3_000 if request.param == "duckdb" else 1_200, 42)
    access.grant(engine, LEADER, "leadership", None, "test")
    access.grant(engine, LEAD, "support_lead", "B2B", "test")
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def app(granted_store: str, provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with sign-in on, for this store; yields its address."""
    folder = tmp_path_factory.mktemp("signed_app")
    port = _free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-cookie-secret-for-the-tests-only"\n'
        'client_id = "cjm-dashboard"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        "[access]\n"
        'roles_claim = "groups"\n'
        f'admin_contact = "{ADMIN_CONTACT}"\n'
        "[access.group_roles]\n"
        '"cx-analysts" = "analyst"\n'
    )
    with running_app(
        granted_store, folder / "streamlit.log", port=port, options=("--secrets.files", str(secrets))
    ) as base:
        yield base


@pytest.fixture(scope="module")
def browser(app: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(browser: object, app: str, email: str) -> object:
    """A new browser context signed in as ``email`` through the provider's form; returns its page."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(app)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name='sub']").fill(email)  # the provider's authorization form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app}/**", timeout=30_000)
    _settled(page)
    return page


def menu(page: object) -> set[str]:
    links = page.locator("[data-testid='stSidebarNav'] a")
    return {links.nth(i).inner_text().split("\n")[-1].strip() for i in range(links.count())}


def shot(page: object, name: str, kind: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"signin_{kind}_{name}.png", full_page=True)


def kind_of(url: str) -> str:
    return store.backend_name(url)


def test_signed_out_sees_only_the_sign_in_page(app: str, browser: object, granted_store: str) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    for path in ("", "/churn_warning", "/data"):
        page.goto(f"{app}{path}")
        _settled(page)
        assert page.locator("h1").first.inner_text() == "CJM retention dashboard"
        assert page.get_by_role("button", name="Sign in").count() == 1
        assert page.locator("[data-testid='stSidebarNav']").count() == 0  # no menu
        assert page.locator("[data-testid='stDataFrame'], [data-testid='stMetric'], .js-plotly-plot").count() == 0
        assert "@example.com" not in page.content()
    shot(page, "signed_out", kind_of(granted_store))
    page.close()


def test_leadership_sees_its_pages_with_masked_emails(app: str, browser: object, granted_store: str) -> None:
    page = sign_in(browser, app, LEADER)
    assert page.locator("h1").first.inner_text() == "Overview"
    assert menu(page) == LEADERSHIP_PAGES
    assert page.locator("[data-testid='stSidebar']").get_by_text(LEADER).count() == 1
    page.get_by_role("link", name="Churn early warning").click()
    page.locator("h1", has_text="Churn early warning").wait_for(timeout=30_000)
    _settled(page)
    with page.expect_download() as got:
        page.get_by_role("button", name="Download the list for the CRM").click()
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert rows and all(r["email"].split("@")[0].endswith("***") for r in rows), rows[:3]
    assert all(r["customer_name"].endswith("***") for r in rows)
    shot(page, "leadership_churn", kind_of(granted_store))
    page.goto(f"{app}/data")  # a page the menu does not offer, typed by hand
    _settled(page)
    assert page.locator("h1").first.inner_text() != "Data"
    assert page.get_by_text("Load your files").count() == 0
    page.context.close()
    engine = store.create_store_engine(granted_store, read_only=True)
    with store.connect(engine) as conn:
        log = access.audit(conn)
    mine = log.filter(log["who"] == LEADER)
    assert {"sign-in", "export"} <= set(mine["action"])


def test_a_b2b_support_lead_sees_b2b_only(app: str, browser: object, granted_store: str) -> None:
    page = sign_in(browser, app, LEAD)
    assert page.locator("h1").first.inner_text() == "Support quality"
    assert menu(page) == {"Support quality", "Stage KPIs", "Journey map", "Funnel", "Alerts"}
    assert page.get_by_text("B2B only", exact=False).count() >= 1  # the caption says whose figures these are
    page.get_by_role("link", name="Funnel").click()
    page.locator("h1", has_text="Funnel").wait_for(timeout=30_000)
    _settled(page)
    with page.expect_download() as got:
        page.get_by_role("button", name="Download CSV for the CRM").click()
    dropped = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert dropped and {r["segment"] for r in dropped} == {"B2B"}
    assert all("***" not in r["email"] for r in dropped)  # their own segment: not masked
    # the biggest leak's sentence counts B2B customers: the first step's count, by hand on the B2B rows
    engine = store.create_store_engine(granted_store, read_only=True)
    e, c = schema.journey_events.c, schema.customers.c
    with store.connect(engine) as conn:
        first_step = conn.execute(
            sa.select(sa.func.count(sa.distinct(e.customer_id)))
            .join_from(schema.journey_events, schema.customers, c.customer_id == e.customer_id)
            .where(e.stage_id == "awareness", c.segment == "B2B")
        ).scalar_one()
        everyone = conn.execute(
            sa.select(sa.func.count(sa.distinct(e.customer_id))).where(e.stage_id == "awareness")
        ).scalar_one()
    chart = page.locator(".js-plotly-plot").first.inner_text()
    assert f"{first_step:,}" in chart and f"{everyone:,}" not in chart, (first_step, everyone, chart[:200])
    shot(page, "support_lead_funnel", kind_of(granted_store))
    page.goto(f"{app}/overview")  # typed by hand: not theirs
    _settled(page)
    assert page.locator("h1").first.inner_text() != "Overview"
    assert page.locator("[data-testid='stMetric']").count() == 0
    page.context.close()


def test_a_user_without_a_role_sees_no_access(app: str, browser: object, granted_store: str) -> None:
    page = sign_in(browser, app, STRANGER)
    assert page.locator("h1").first.inner_text() == "No access"
    assert page.get_by_text(ADMIN_CONTACT).count() >= 1
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    assert page.locator("[data-testid='stDataFrame'], [data-testid='stMetric'], .js-plotly-plot").count() == 0
    shot(page, "no_access", kind_of(granted_store))
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider's own sign-out form
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)  # back at the app, signed out
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    page.context.close()


def test_a_role_from_the_groups_claim(app: str, browser: object, granted_store: str) -> None:
    page = sign_in(browser, app, GROUPED)
    assert page.locator("h1").first.inner_text() == "Overview"
    offered = menu(page)
    assert {"Data", "Maps and targets", "Funnel", "Support quality"} <= offered and "Access" not in offered
    page.context.close()
