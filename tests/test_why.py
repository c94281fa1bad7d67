"""Exit reasons, retention offers and experiments on hand-made data, on every store, each figure worked out here
independently; and the experiment verdicts (lift, p-value, SRM, MDE) against the textbook formulas.

The company: c1..c4 B2C, c5 B2B; stages onb -> use (the funnel) and churn. Exit answers: c2 price, c3 price,
c4 price and support experience (two answers), c5 missing feature: B2C price 3 of 4. c2 had a CSAT 1 at onb before
leaving; the others no bad score. Offers: c1 success call accepted (stays; an order of 50 thirty days later),
c2 discount accepted (churns 10 days later), c3 discount declined (churns 200 days later: kept at 90 days).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from data_access import metrics, store
from data_access.filters import Filters, Scope
from data_access.queries import why
from tests.conftest import put

T0 = datetime(2026, 3, 1)
Z = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


@pytest.fixture
def company(engine: Engine) -> Engine:
    churned = {"c2": T0 + timedelta(days=10), "c3": T0 + timedelta(days=200), "c4": T0 + timedelta(days=5)}
    put(
        engine,
        stages=[
            {"stage_id": "onb", "name": "Onboarding", "position": 1, "in_funnel": True},
            {"stage_id": "use", "name": "Use", "position": 2, "in_funnel": True},
            {"stage_id": "churn", "name": "Cancellation", "position": 3, "in_funnel": False},
        ],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2026, 1, 1),
                "segment": "B2B" if c == "c5" else "B2C",
                "channel": "web",
                "region": "EU",
                "plan": "basic",
                "churned_at": churned.get(c),
                "email": f"{c}@example.com",
            }
            for c in ("c1", "c2", "c3", "c4", "c5")
        ],
        survey_responses=[
            {
                "response_id": "b1",
                "customer_id": "c2",
                "stage_id": "onb",
                "survey": "csat",
                "score": 1,
                "responded_at": T0 - timedelta(days=20),
            },
            *[
                {
                    "response_id": f"x{i}",
                    "customer_id": c,
                    "stage_id": "churn",
                    "survey": "exit",
                    "score": 2,
                    "responded_at": T0 + timedelta(days=i),
                    "reason": reason,
                    "comment": f"said by {c}",
                }
                for i, (c, reason) in enumerate(
                    [
                        ("c2", "price"),
                        ("c3", "price"),
                        ("c4", "price"),
                        ("c4", "support experience"),
                        ("c5", "missing feature"),
                    ],
                    start=1,
                )
            ],
        ],
        offers=[
            {"offer_id": "f1", "customer_id": "c1", "offered_at": T0, "offer_type": "success call", "accepted": True},
            {"offer_id": "f2", "customer_id": "c2", "offered_at": T0, "offer_type": "discount", "accepted": True},
            {"offer_id": "f3", "customer_id": "c3", "offered_at": T0, "offer_type": "discount", "accepted": False},
        ],
        orders=[{"order_id": "o1", "customer_id": "c1", "ordered_at": T0 + timedelta(days=30), "amount": 50.0}],
        journey_events=[
            {"event_id": "e1", "customer_id": "c1", "stage_id": "use", "occurred_at": T0 + timedelta(days=5)},
            {"event_id": "e2", "customer_id": "c4", "stage_id": "churn", "occurred_at": T0 + timedelta(days=1)},
        ],
        experiment_info=[
            {"experiment": "keep", "hypothesis": "h", "primary_metric": "retention_90d", "start_at": T0},
            {
                "experiment": "move",
                "hypothesis": "h",
                "primary_metric": "conversion",
                "stage_id": "onb",
                "start_at": T0,
            },
        ],
        experiments=[
            {"experiment": "keep", "customer_id": "c1", "variant": "control", "assigned_at": T0},
            {"experiment": "keep", "customer_id": "c2", "variant": "control", "assigned_at": T0},
            {"experiment": "keep", "customer_id": "c3", "variant": "treatment", "assigned_at": T0},
            {"experiment": "keep", "customer_id": "c4", "variant": "treatment", "assigned_at": T0 + timedelta(60)},
            {"experiment": "move", "customer_id": "c1", "variant": "treatment", "assigned_at": T0},
            {"experiment": "move", "customer_id": "c2", "variant": "control", "assigned_at": T0},
        ],
    )
    return engine


def test_exit_reason_shares_by_segment_by_hand(company: Engine) -> None:
    with store.connect(company) as conn:
        frame = why.exit_reasons(conn, Filters(), "segment")
    b2c = frame.filter(pl.col("group") == "B2C")
    assert b2c["reason"].to_list() == ["price", "support experience"]
    price = b2c.row(0, named=True)
    assert (price["answers"], price["of"], price["share"]) == (3, 4, pytest.approx(75.0))
    assert (price["share_lo"], price["share_hi"]) == tuple(pytest.approx(x) for x in wilson(3, 4))
    b2b = frame.filter(pl.col("group") == "B2B").row(0, named=True)
    assert (b2b["reason"], b2b["share"]) == ("missing feature", pytest.approx(100.0))
    with store.connect(company) as conn:
        overall = why.exit_reasons(conn, Filters())
        monthly = why.exit_reasons(conn, Filters(), "month")
        only_b2b = why.exit_reasons(conn, Filters(scope=Scope(("B2B",))), "segment")
    assert overall.select("reason", "answers", "of").row(0) == ("price", 3, 5)
    assert overall["share"][0] == pytest.approx(60.0)
    assert monthly["group"].unique().to_list() == ["2026-03-01"] and monthly["of"][0] == 5
    assert only_b2b["group"].to_list() == ["B2B"]  # the viewer's segment limit holds here too


def test_exit_comments_are_masked_for_leadership_and_linked_to_the_last_bad_score(company: Engine) -> None:
    with store.connect(company) as conn:
        shown = why.exit_comments(conn, Filters(), "price")
        hidden = why.exit_comments(conn, Filters(scope=Scope(masked=True)), "price")
        linked = why.exits_by_bad_stage(conn, Filters())
    assert shown["comment"].to_list() == ["said by c4", "said by c3", "said by c2"]  # newest first
    assert set(hidden["comment"]) == {"***"} and hidden["email"][0] == "c***@example.com"
    onb = linked.filter(pl.col("stage_id") == "onb")
    assert onb.select("reason", "answers").rows() == [("price", 1)]  # c2's CSAT 1 at onboarding
    assert linked.filter(pl.col("stage_id") == why.NO_BAD_SCORE)["answers"].sum() == 4


def test_offer_outcomes_and_acceptance_by_hand(company: Engine) -> None:
    with store.connect(company) as conn:
        frame = why.offer_outcomes(conn, Filters(), attempt_stage="churn")
    rows = {(r["offer_type"], r["outcome"]): r for r in frame.iter_rows(named=True)}
    assert (rows[("success call", "accepted")]["kept"], rows[("success call", "accepted")]["customers"]) == (1, 1)
    assert rows[("success call", "accepted")]["revenue"] == pytest.approx(50.0)
    assert rows[("discount", "accepted")]["kept_share"] == pytest.approx(0.0)  # c2 churned after 10 days
    assert rows[("discount", "declined")]["kept_share"] == pytest.approx(100.0)  # c3 after 200: kept at 90
    lo, hi = wilson(1, 1)
    assert (rows[("success call", "accepted")]["kept_lo"], rows[("success call", "accepted")]["kept_hi"]) == (
        pytest.approx(lo), pytest.approx(hi),
    )  # fmt: skip
    # c4 reached the cancellation stage and got no offer; churned 5 days later
    assert (rows[("(no offer)", "not offered")]["customers"], rows[("(no offer)", "not offered")]["kept"]) == (1, 0)
    accepted = {r["offer_type"]: r for r in why.acceptance(frame).iter_rows(named=True)}
    assert (accepted["discount"]["offers"], accepted["discount"]["accepted"]) == (2, 1)
    assert accepted["discount"]["acceptance"] == pytest.approx(50.0)


def test_variant_outcomes_by_hand(company: Engine) -> None:
    newest = T0 + timedelta(days=120)  # c4's assignment (day 60) is not 90 days old yet: not judged
    with store.connect(company) as conn:
        info = {r["experiment"]: r for r in why.experiment_list(conn).iter_rows(named=True)}
        keep = why.variant_outcomes(conn, info["keep"], Filters(), newest)
        move = why.variant_outcomes(conn, info["move"], Filters(), newest)
    assert keep.rows() == [("control", 2, 2, 1), ("treatment", 2, 1, 1)]  # variant, assigned, n, k
    assert move.rows() == [("control", 1, 1, 0), ("treatment", 1, 1, 1)]  # c1 reached "use" 5 days after


def frame(**variants: tuple[int, int, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [(v, a, n, k) for v, (a, n, k) in variants.items()], schema=["variant", "assigned", "n", "k"], orient="row"
    )


def test_the_lift_its_interval_p_value_and_mde_by_hand() -> None:
    [v] = metrics.experiment_verdicts(frame(control=(1000, 1000, 100), treatment=(1000, 1000, 130)), 30)
    pooled = 230 / 2000
    z = 0.03 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert v.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)  # 0.0355: two-proportion z-test
    se = math.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
    assert v.lift == pytest.approx(3.0)
    assert (v.lift_lo, v.lift_hi) == (pytest.approx(3 - 100 * Z * se), pytest.approx(3 + 100 * Z * se))
    assert v.mde == pytest.approx(100 * (Z + 0.8416212335729143) * math.sqrt(0.09 * 2 / 1000))  # 3.76 points
    assert (v.verdict, v.winner, v.srm_p) == (metrics.WINNER, "treatment", pytest.approx(1.0))


def test_srm_not_enough_data_and_no_difference() -> None:
    [srm] = metrics.experiment_verdicts(frame(control=(1000, 1000, 100), treatment=(1200, 1200, 160)), 30)
    chi2 = 2 * 100**2 / 1100  # 18.18 on one degree of freedom
    assert srm.srm_p == pytest.approx(math.erfc(math.sqrt(chi2) / math.sqrt(2)), rel=1e-9)  # 2e-5 < 0.001
    assert srm.verdict == metrics.SRM
    [thin] = metrics.experiment_verdicts(frame(control=(20, 20, 2), treatment=(20, 20, 10)), 30)
    assert thin.verdict == metrics.NOT_ENOUGH
    [same] = metrics.experiment_verdicts(frame(control=(500, 500, 100), treatment=(500, 500, 104)), 30)
    assert same.verdict == metrics.NO_DIFFERENCE and same.p_value > 0.05
    worse = metrics.experiment_verdicts(frame(control=(900, 900, 300), variant_b=(900, 900, 200)), 30)
    assert (worse[0].verdict, worse[0].winner) == (metrics.WINNER, "control")


def test_the_review_carries_the_exit_reasons_and_the_offers(company: Engine) -> None:
    from data_access.filters import Period
    from data_access.queries import review

    with store.connect(company) as conn:
        rows = review.figures(conn, Filters(period=Period.parse("2026-03-01", "2026-03-31")))
    got = {r["metric"]: r for r in rows.filter(pl.col("stage_id") == "*").iter_rows(named=True)}
    assert (got["exit_price"]["value"], got["exit_price"]["n"]) == (pytest.approx(60.0), 5)  # 3 of 5
    assert got["exit_support_experience"]["value"] == pytest.approx(20.0)
    assert got["exit_moved_to_competitor"]["value"] == pytest.approx(0.0)
    assert (got["offer_acceptance"]["value"], got["offer_acceptance"]["n"]) == (pytest.approx(200 / 3), 3)
    assert got["offer_kept"]["value"] == pytest.approx(200 / 3)  # c1 and c3 kept at 90 days, c2 gone
    assert not review.KPIS["exit_price"].higher_is_better and review.KPIS["offer_kept"].higher_is_better


def test_offer_outcomes_per_segment_add_up_to_the_whole(company: Engine) -> None:
    with store.connect(company) as conn:
        whole = why.offer_outcomes(conn, Filters(), attempt_stage="churn")
        per = why.offer_outcomes(conn, Filters(), attempt_stage="churn", by="segment")
    assert set(per["segment"]) == {"B2C"}  # every offered or attempting customer of the tiny company is B2C
    summed = per.group_by("offer_type", "outcome").agg(pl.col("customers", "kept").sum()).sort("offer_type", "outcome")
    assert summed.rows() == whole.select("offer_type", "outcome", "customers", "kept").rows()
    # the Retention offers page reads the breakdown once and takes the whole from it: the same frame
    assert_frame_equal(why.outcomes_overall(per, "churn"), whole, check_column_order=False)
    with store.connect(company) as conn:  # a stage nobody reached: the whole still says 0 not offered
        nowhere = why.offer_outcomes(conn, Filters(), attempt_stage="nowhere")
        nowhere_per = why.offer_outcomes(conn, Filters(), attempt_stage="nowhere", by="plan")
    assert nowhere_per.filter(pl.col("outcome") == why.NOT_OFFERED).height == 0
    assert nowhere.filter(pl.col("outcome") == why.NOT_OFFERED)["customers"].to_list() == [0]
    assert_frame_equal(why.outcomes_overall(nowhere_per, "nowhere"), nowhere, check_column_order=False)
    with pytest.raises(ValueError, match="broken down by one of"), store.connect(company) as conn:
        why.offer_outcomes(conn, Filters(), by="shoe_size")
