"""The sample company: seeded, valid against the contract, and telling the stories the dashboard must find."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from data_access import schema
from data_access.loading import ingest
from sample_data import story
from sample_data.generate import BLOCK, generate


def tables(customers: int, seed: int = 42) -> dict[str, pl.DataFrame]:
    parts: dict[str, list[pl.DataFrame]] = {}
    for name, frame in generate(customers, seed):
        parts.setdefault(name, []).append(frame)
    return {name: pl.concat(frames) for name, frames in parts.items()}


@pytest.fixture(scope="module")
def company() -> dict[str, pl.DataFrame]:
    return tables(30_000)


def test_same_seed_same_rows_and_blocks_do_not_depend_on_size() -> None:
    a, b = tables(1_500, seed=7), tables(1_500, seed=7)
    for name in a:
        assert a[name].equals(b[name]), name
    assert not tables(1_500, seed=8)["customers"].equals(a["customers"])
    small, large = tables(BLOCK, seed=1), tables(BLOCK + 10, seed=1)
    assert large["customers"].head(BLOCK).equals(small["customers"])


def test_every_table_of_the_contract_and_every_row_valid(company: dict[str, pl.DataFrame]) -> None:
    assert set(company) == set(schema.TABLES_BY_NAME)
    for name, frame in company.items():
        problems = ingest.Problems()
        checked = ingest.validate(schema.TABLES_BY_NAME[name], frame, name, problems)
        assert checked is not None, [str(p) for p in problems.shown]
    customers = set(company["customers"]["customer_id"])
    for name in ("journey_events", "survey_responses", "tickets", "orders"):
        assert set(company[name]["customer_id"]) <= customers, name
        assert company[name].height > 0, name
    stages = set(company["stages"]["stage_id"])
    assert set(company["journey_events"]["stage_id"]) == stages  # all ten stages are lived through
    assert company["journey_events"]["occurred_at"].max() < story.END
    assert set(company["customers"]["segment"]) == {"B2B", "B2C"}
    assert company["journey_map"]["map"].n_unique() == 5  # one map per persona


def _reached(events: pl.DataFrame, stage: str) -> pl.DataFrame:
    return events.filter(pl.col("stage_id") == stage).select("customer_id").unique()


def test_story_b2c_leaks_at_onboarding(company: dict[str, pl.DataFrame]) -> None:
    events, customers = company["journey_events"], company["customers"]
    onboarded = _reached(events, "onboarding").join(customers, on="customer_id")
    regular = set(_reached(events, "regular_use")["customer_id"])
    rate = onboarded.group_by("segment").agg(pl.col("customer_id").is_in(list(regular)).mean().alias("r"))
    by = dict(rate.iter_rows())
    assert by["B2C"] < 0.5 < 0.75 < by["B2B"]


def test_story_nps_drops_after_the_release(company: dict[str, pl.DataFrame]) -> None:
    nps = company["survey_responses"].filter(pl.col("survey") == "nps", pl.col("stage_id") == "regular_use")

    def score(frame: pl.DataFrame) -> float:
        return 100 * ((frame["score"] >= 9).mean() - (frame["score"] <= 6).mean())

    before = score(nps.filter(pl.col("responded_at") < story.RELEASE_5))
    after = score(nps.filter(pl.col("responded_at") >= story.RELEASE_5))
    assert before - after > 25


def test_story_second_line_fcr_is_weak_on_financial_tickets(company: dict[str, pl.DataFrame]) -> None:
    resolved = company["tickets"].filter(pl.col("resolved_at").is_not_null())
    fcr = resolved.group_by("final_line", "category").agg(
        ((pl.col("contacts") == 1) & ~pl.col("reopened")).mean().alias("fcr"), pl.len().alias("n")
    )
    weak = fcr.filter(pl.col("final_line") == 2, pl.col("category") == "financial")["fcr"][0]
    others = fcr.filter(~((pl.col("final_line") == 2) & (pl.col("category") == "financial")))
    assert weak < 0.45
    assert others["fcr"].min() > 0.55


def test_story_unsubscribe_spike_after_the_price_change(company: dict[str, pl.DataFrame]) -> None:
    unsub = (
        company["journey_events"].filter(pl.col("action") == "unsubscribe").join(company["customers"], on="customer_id")
    )
    window = timedelta(days=14)

    def count(segment: str, lo: object, hi: object) -> int:
        return unsub.filter(pl.col("segment") == segment, pl.col("occurred_at").is_between(lo, hi, "left")).height

    p = story.PRICE_CHANGE
    assert count("B2C", p, p + window) > 4 * count("B2C", p - window, p)
    assert count("B2B", p, p + window) < 2 * max(count("B2B", p - window, p), 1)


def test_story_the_win_back_campaign_works(company: dict[str, pl.DataFrame]) -> None:
    churned = company["customers"].filter(pl.col("churned_at").is_not_null())
    back = set(_reached(company["journey_events"], "reactivation")["customer_id"])
    churned = churned.with_columns(pl.col("customer_id").is_in(list(back)).alias("back"))
    c = story.WIN_BACK
    before = churned.filter(pl.col("churned_at") < c - timedelta(days=60))["back"].mean()
    after = churned.filter(pl.col("churned_at").is_between(c, c + timedelta(days=150)))["back"].mean()
    assert after > 3 * before


def test_story_price_leads_the_b2c_exit_reasons(company: dict[str, pl.DataFrame]) -> None:
    exits = (
        company["survey_responses"]
        .filter(pl.col("survey") == "exit")
        .join(company["customers"].select("customer_id", "segment", "churned_at"), on="customer_id")
    )
    assert exits["reason"].null_count() == 0 and exits["churned_at"].null_count() == 0  # leavers only
    top = exits.group_by("segment", "reason").len().sort("len", descending=True).group_by("segment").first()
    assert dict(top.select("segment", "reason").iter_rows()) == {"B2C": "price", "B2B": "missing feature"}
    b2c = exits.filter(pl.col("segment") == "B2C")
    assert (b2c["reason"] == "price").mean() > 0.3


def test_story_the_success_call_keeps_more_customers_than_the_discount(company: dict[str, pl.DataFrame]) -> None:
    offers = company["offers"].join(company["customers"].select("customer_id", "churned_at"), on="customer_id")
    kept = offers.with_columns(
        (pl.col("churned_at").is_null() | (pl.col("churned_at") > pl.col("offered_at") + timedelta(days=90))).alias(
            "kept"
        )
    )
    by_type = dict(kept.filter(pl.col("accepted")).group_by("offer_type").agg(pl.col("kept").mean()).iter_rows())
    assert by_type["success call"] > 2 * by_type["discount"]
    assert set(offers["offer_type"]) == set(story.OFFER_TYPES)


def test_story_the_checklist_lifts_conversion_and_the_pricing_page_is_flat(
    company: dict[str, pl.DataFrame],
) -> None:
    assigned = company["experiments"]
    regular = company["journey_events"].filter(pl.col("stage_id") == "regular_use").select("customer_id").unique()
    checklist = assigned.filter(pl.col("experiment") == "onboarding-checklist").with_columns(
        pl.col("customer_id").is_in(regular["customer_id"].implode()).alias("converted")
    )
    rates = dict(checklist.group_by("variant").agg(pl.col("converted").mean()).iter_rows())
    assert rates["treatment"] - rates["control"] > 0.07
    customers = company["customers"].select("customer_id", "churned_at")
    pricing = assigned.filter(pl.col("experiment") == "pricing-page-v2").join(customers, on="customer_id")
    kept = pricing.with_columns(
        (pl.col("churned_at").is_null() | (pl.col("churned_at") > pl.col("assigned_at") + timedelta(days=90))).alias(
            "kept"
        )
    )
    flat = dict(kept.group_by("variant").agg(pl.col("kept").mean()).iter_rows())
    assert abs(flat["treatment"] - flat["control"]) < 0.03
    for name in ("onboarding-checklist", "pricing-page-v2"):  # no sample ratio mismatch
        counts = assigned.filter(pl.col("experiment") == name)["variant"].value_counts()["count"].to_list()
        assert abs(counts[0] - counts[1]) / sum(counts) < 0.03


def test_the_russian_sample_is_the_same_company_in_russian_words() -> None:
    """``seed --lang ru``: every row, key and number as in English; the company's own words in Russian, the
    contract's codes (stage ids, segments, survey kinds, exit reasons, ticket categories, actions) untouched."""
    from sample_data import story_ru

    parts: dict[str, list[pl.DataFrame]] = {}
    for name, frame in generate(1_500, 42, "ru"):
        parts.setdefault(name, []).append(frame)
    ru = {name: pl.concat(frames) for name, frames in parts.items()}
    en = tables(1_500)
    assert set(ru) == set(en)
    translated = {(t, c) for t, columns in story_ru.WORDS.items() for c in columns}
    for name, frame in en.items():
        assert ru[name].height == frame.height and ru[name].columns == frame.columns, name
        for column in frame.columns:
            if (name, column) not in translated:
                assert ru[name][column].equals(frame[column]), (name, column)
    assert ru["stages"]["name"].to_list()[:3] == ["Осведомлённость", "Рассмотрение", "Решение (первая покупка)"]
    for name, column in translated:  # every word of the company has its Russian
        english = set(en[name][column].drop_nulls().to_list())
        russian = set(ru[name][column].drop_nulls().to_list())
        assert not english & russian - {"e-mail", "B2B", "B2C", "Релиз 5.0"}, (name, column, english & russian)
        assert len(russian) == len(english), (name, column)  # one Russian word per English one: nothing merged
    assert ru["customers"]["email"].equals(en["customers"]["email"])  # the addresses stay ASCII


def test_the_russian_sample_keeps_its_cyrillic_through_every_store(store_url: str) -> None:
    """UTF-8 end to end: written by the seed, read back as written, on every kind of store."""
    import sqlalchemy as sa

    from data_access import store

    engine = store.create_store_engine(store_url)
    try:
        ingest.seed(engine, 200, 42, lang="ru")
        with engine.connect() as conn:
            names = conn.execute(sa.select(schema.stages.c.name).order_by(schema.stages.c.position)).scalars().all()
            maps = conn.execute(sa.select(schema.journey_map.c.map).distinct()).scalars().all()
            comments = set(conn.execute(sa.select(schema.survey_responses.c.comment)).scalars().all())
    finally:
        engine.dispose()
    assert names[0] == "Осведомлённость" and names[-1] == "Лояльность (рекомендации)"
    assert "Занятой родитель (B2C) — текущее состояние" in maps
    assert "Списали деньги дважды, никто не помог" in comments
