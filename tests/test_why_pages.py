"""The pages Why they leave, Retention offers and Experiments through AppTest, on a 20,000-customer sample (enough
answers for the planted stories to stand out of the noise) and on a store without any of their data."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data_access import access, store
from data_access.loading import ingest
from tests.test_pages import APP, texts
from tests.test_sign_in import LEAD, LEADER, menu, signed_in


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('why') / 'sample.duckdb'}"
    engine = store.create_store_engine(url)
    ingest.seed(engine, 20_000, 42)
    access.grant(engine, LEADER, "leadership", None, "test")
    access.grant(engine, LEAD, "support_lead", "B2B", "test")
    engine.dispose()
    return url


def opened(url: str, page: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_why_they_leave_shows_price_on_top_and_b2b_missing_features(big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opened(big, "pages/why_leave.py", monkeypatch)
    assert "**price** is the top reason: " in texts(at)
    assert len(at.get("plotly_chart")) == 2
    stages = next(d.value for d in at.dataframe if "last bad score at" in d.value.columns)
    assert len(stages) >= 2 and stages["exit answers"].sum() > 1_000
    comments = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert len(comments) == 50 and "@example.com" in comments["email"].iloc[0]  # an analyst sees whom to call
    b2b = AppTest.from_file(APP, default_timeout=90)
    b2b.query_params["segment"] = ["B2B"]
    b2b.run().switch_page("pages/why_leave.py").run()
    assert "**missing feature** is the top reason: " in texts(b2b)


def test_leadership_reads_the_comments_masked_and_a_support_lead_has_no_such_page(
    big: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in(big, monkeypatch, LEADER).run().switch_page("pages/why_leave.py").run()
    assert not at.exception
    comments = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert set(comments["comment"]) == {"***"} and comments["email"].str.contains(r"^.\*\*\*@").all()
    assert "(masked for your role)" in texts(at)
    lead = signed_in(big, monkeypatch, LEAD).run()
    assert {"Why they leave", "Retention offers", "Experiments"}.isdisjoint(menu(lead))


def test_the_success_call_keeps_more_than_the_discount(big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opened(big, "pages/offers.py", monkeypatch)
    words = texts(at)
    assert "Of the customers who accepted, the **success call** kept " in words
    assert "for the **discount**" in words and "the intervals do not overlap" in words
    outcomes = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
    assert set(outcomes["outcome"]) == {"accepted", "declined", "not offered"}
    per_segment = next(d.value for d in at.dataframe if "segment" in d.value.columns)
    assert set(per_segment["segment"]) == {"B2B", "B2C"}
    assert per_segment["customers"].sum() == outcomes["customers"].sum()
    at.segmented_control(key="offers_by").set_value("plan").run()  # another breakdown: its own read, same whole
    assert not at.exception
    per_plan = next(d.value for d in at.dataframe if "plan" in d.value.columns)
    assert per_plan["customers"].sum() == outcomes["customers"].sum() and per_plan["plan"].nunique() > 1
    again = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
    assert again.equals(outcomes)


def test_the_checklist_wins_and_the_pricing_page_is_flat(big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opened(big, "pages/experiments.py", monkeypatch)
    assert [s.value for s in at.subheader] == ["onboarding-checklist", "pricing-page-v2"]
    assert at.success[0].value.startswith("**Winner: treatment.** treatment ")
    assert any(i.value.startswith("**No difference detected.**") for i in at.info)


def test_the_experiments_table_names_its_counts_in_words_in_russian(big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", big)
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["lang"] = "ru"
    at.run().switch_page("pages/experiments.py").run()
    assert not at.exception
    headers = list(next(d.value for d in at.dataframe if "назначено" in d.value.columns).columns)
    assert "успехи" in headers and "оценено" in headers and not any("тыс" in h for h in headers)


def test_a_store_without_exits_offers_or_experiments_says_so(
    tiny_duck: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for page, words in (
        ("pages/why_leave.py", "No exit answers in this selection."),
        ("pages/offers.py", "No retention offers in this selection."),
        ("pages/experiments.py", "No experiments yet."),
    ):
        at = opened(tiny_duck, page, monkeypatch)
        assert any(words in i.value for i in at.info), page


def test_the_overview_has_one_line_for_each(big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opened(big, "pages/overview.py", monkeypatch)
    labels = [link.proto.label for link in at.get("page_link")]
    exits = next(label for label in labels if label.startswith("Exits: "))
    offers = next(label for label in labels if label.startswith("Offers: "))
    assert exits.startswith("Exits: price ") and offers.startswith("Offers: success call ")
    assert "Tests: 1 of 2 won" in labels


def test_the_review_includes_the_experiments_and_the_exit_reasons(big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = opened(big, "pages/review.py", monkeypatch)
    assert "Experiments" in [s.value for s in at.subheader]
    lines = [m.value for m in at.markdown if m.value.startswith("- onboarding-checklist")]
    assert lines and "**Winner: treatment.**" in lines[0]
    assert any(m.value.startswith("- pricing-page-v2") and "No difference detected" in m.value for m in at.markdown)
    table = next(d.value for d in at.dataframe if "KPI" in getattr(d.value, "columns", []))
    assert {"Exits citing price", "Retention offers accepted", "Offered customers kept 90 days"} <= set(table["KPI"])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_the_three_pages_the_overview_and_the_review_on_every_store(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_store_url

    url = make_store_url(kind, tmp_path)
    engine = store.create_store_engine(url)
    ingest.seed(engine, 3_000, 42)
    engine.dispose()
    for page in ("pages/why_leave.py", "pages/offers.py", "pages/experiments.py", "pages/overview.py"):
        at = opened(url, page, monkeypatch)
        if page == "pages/why_leave.py":
            assert "**price** is the top reason: 36.8% of 261 exit answers" in texts(at)  # as on DuckDB
        if page == "pages/experiments.py":
            assert at.success[0].value.startswith("**Winner: treatment.** treatment 62.8% against control 42.2%")
    review = opened(url, "pages/review.py", monkeypatch)
    assert any(m.value.startswith("- onboarding-checklist") for m in review.markdown)
