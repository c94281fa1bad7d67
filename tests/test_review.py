"""The semiannual review against figures worked out by hand, on every store: two half-years of 2025, a stage s whose
CSAT falls significantly, whose NPS falls by 30 points without a clear change, whose CES rises; the journey's churn,
reactivation, repeat purchase and contacts per customer on eight customers."""

from __future__ import annotations

import json
from datetime import date, datetime

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import metrics
from data_access.filters import Filters, Period
from data_access.queries import review
from tests.conftest import put

A = Period.parse("2025-01-01", "2025-06-30")
B = Period.parse("2025-07-01", "2025-12-31")
IN_A, IN_B = datetime(2025, 3, 15), datetime(2025, 9, 15)
EARLY = datetime(2024, 6, 1)

# customer -> (signup, churned_at, [(stage, when)])
PEOPLE = {
    "c1": (EARLY, None, [("s", datetime(2025, 2, 1)), ("t", datetime(2025, 2, 2))]),
    "c2": (EARLY, None, [("s", datetime(2025, 3, 1))]),
    "c3": (EARLY, None, [("s", datetime(2025, 8, 1)), ("t", datetime(2025, 8, 5))]),
    "c4": (EARLY, None, [("s", datetime(2025, 9, 1)), ("t", datetime(2025, 9, 2))]),
    "c5": (EARLY, datetime(2025, 3, 1), [("r", datetime(2025, 5, 1))]),  # churns in A, back in A
    "c6": (EARLY, datetime(2025, 8, 1), [("r", datetime(2025, 9, 1))]),  # churns in B, back in B
    "c7": (datetime(2025, 8, 1), None, []),  # signs up in B
    "c8": (EARLY, datetime(2024, 12, 1), [("r", datetime(2025, 10, 1))]),  # churned before A, back in B
}


def answers(survey: str, when: datetime, scores: list[tuple[int, int]]) -> list[dict[str, object]]:
    """(score, how many) -> survey rows of customer c1 at stage s."""
    rows = []
    for score, count in scores:
        rows += [{"survey": survey, "score": score, "responded_at": when}] * count
    return rows


SURVEYS = (
    answers("csat", IN_A, [(5, 45), (2, 55)])  # 45%
    + answers("csat", IN_B, [(5, 30), (2, 70)])  # 30%
    + answers("nps", IN_A, [(10, 25), (3, 10), (8, 15)])  # 50% - 20% = +30
    + answers("nps", IN_B, [(10, 15), (3, 15), (8, 20)])  # 0
    + answers("ces", IN_A, [(4, 40), (6, 40)])  # mean 5, sd sqrt(80/79)
    + answers("ces", IN_B, [(6, 80)])  # mean 6, sd 0
)


@pytest.fixture
def reviewed(engine: Engine) -> Engine:
    put(
        engine,
        stages=[
            {"stage_id": "s", "name": "Start", "position": 1, "in_funnel": True},
            {"stage_id": "t", "name": "Then", "position": 2, "in_funnel": True},
            {"stage_id": "r", "name": "Return", "position": 3, "in_funnel": False},
        ],
        customers=[
            {
                "customer_id": c,
                "signup_at": signup,
                "churned_at": churned,
                "segment": "B2C",
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
            for c, (signup, churned, _) in PEOPLE.items()
        ],
        journey_events=[
            {"event_id": f"{c}-{i}", "customer_id": c, "stage_id": stage, "occurred_at": when}
            for c, (_, _, events) in PEOPLE.items()
            for i, (stage, when) in enumerate(events)
        ],
        survey_responses=[
            {"response_id": f"R{i}", "customer_id": "c1", "stage_id": "s", **row} for i, row in enumerate(SURVEYS)
        ],
        tickets=[
            {
                "ticket_id": f"T{i}",
                "customer_id": c,
                "stage_id": "s",
                "opened_at": when,
                "entry_channel": "chat",
                "final_line": 1,
                "bot_resolved": False,
                "contacts": contacts,
                "reopened": False,
                "category": "other",
            }
            for i, (c, when, contacts) in enumerate([("c1", IN_A, 2), ("c2", IN_A, 1), ("c1", IN_B, 3)])
        ],
        orders=[
            {"order_id": f"O{i}", "customer_id": c, "ordered_at": when, "amount": 10.0}
            for i, (c, when) in enumerate(
                [
                    *[("c1", IN_A), ("c1", IN_A), ("c2", IN_A), ("c3", IN_A)],
                    *[("c1", IN_B), ("c2", IN_B), ("c2", IN_B), ("c3", IN_B), ("c3", IN_B), ("c7", IN_B)],
                ]
            )
        ],
        kpi_targets=[{"stage_id": "*", "metric": "csat", "target": 40.0, "warn": 35.0}],
    )
    return engine


def rows(engine: Engine) -> dict[tuple[str, str], dict[str, object]]:
    frame = review.load(engine, Filters(), A, B, 30)
    return {(r["stage_id"], r["metric"]): r for r in frame.iter_rows(named=True)}


def test_shares_nps_and_means_with_their_tests(reviewed: Engine) -> None:
    got = rows(reviewed)
    csat = got[("s", "csat")]
    assert (csat["a"], csat["a_n"], csat["b"], csat["b_n"]) == (45.0, 100, 30.0, 100)
    assert csat["change"] == pytest.approx(-15.0)
    # pooled 0.375: z = 0.15 / sqrt(0.375 * 0.625 * 0.02) = 2.191, p = 0.0285
    assert csat["p_value"] == pytest.approx(0.0285, abs=1e-4)
    assert (csat["significant"], csat["verdict"]) == (True, review.DECLINED)
    assert (csat["target"], csat["status"]) == (40.0, metrics.STATUS_BAD)  # 30 is beyond the warn level of 35
    nps = got[("s", "nps")]
    assert (nps["a"], nps["b"], nps["change"]) == (pytest.approx(30.0), pytest.approx(0.0), pytest.approx(-30.0))
    # SE 100 sqrt(0.61 / 50) = 11.045 and 100 sqrt(0.6 / 50) = 10.954; z = 30 / 15.556 = 1.928, p = 0.0538
    assert nps["p_value"] == pytest.approx(0.0538, abs=1e-4)
    assert (nps["significant"], nps["verdict"]) == (False, review.NO_CLEAR_CHANGE)  # 30 points, yet not clear
    ces = got[("s", "ces")]
    assert (ces["a"], ces["b"]) == (pytest.approx(5.0), pytest.approx(6.0))
    # SE sqrt((80 / 79) / 80 + 0) = 0.1125: z = 8.89
    assert ces["p_value"] == pytest.approx(6.2e-19, rel=0.01)
    assert ces["verdict"] == review.IMPROVED
    assert got[("*", "csat")]["a"] == 45.0  # every answer is at s
    assert ("s", "fcr") not in got  # no resolved ticket in either period: nothing to review


def test_behaviour_kpis_of_the_whole_journey(reviewed: Engine) -> None:
    got = rows(reviewed)

    def figures(metric: str, stage: str = "*") -> tuple[object, ...]:
        r = got[(stage, metric)]
        return (pytest.approx(r["a"]), r["a_n"], pytest.approx(r["b"]), r["b_n"])

    # on the books at A's start: c1-c6 (c8 churned before); c5 churns in A. At B's start: c1-c4, c6; c6 churns in B
    assert figures("churn") == (pytest.approx(100 / 6), 6, pytest.approx(20.0), 5)
    # churned by A's end: c5, c8, and c5 is back in A; by B's end also c6: c6 and c8 are back in B
    assert figures("reactivation") == (pytest.approx(50.0), 2, pytest.approx(200 / 3), 3)
    # buyers in A: c1 (twice), c2, c3; in B: c1, c2 (twice), c3 (twice), c7
    assert figures("repeat_purchase") == (pytest.approx(100 / 3), 3, pytest.approx(50.0), 4)
    # contacts 2 + 1 in A, 3 in B; on the books: c1-c6 in A, c1-c4, c6, c7 in B
    assert figures("contacts_per_customer") == (pytest.approx(0.5), 6, pytest.approx(0.5), 6)
    # the funnel s -> t: c1 and c2 start in A, c1 goes on; c3 and c4 start in B, both go on
    assert figures("conversion", "s") == (pytest.approx(50.0), 2, pytest.approx(100.0), 2)
    for metric in ("churn", "reactivation", "repeat_purchase", "contacts_per_customer"):
        assert got[("*", metric)]["verdict"] == review.TOO_FEW  # fewer than 30 behind each: never judged


def test_the_clearest_changes_in_words(reviewed: Engine) -> None:
    frame = review.load(reviewed, Filters(), A, B, 30)
    said = review.callouts(frame, {"s": "Start"})
    assert said[review.IMPROVED][0].startswith("CES, Start: 5.00 → 6.00 (+1.00, p < 0.001; n 80 and 80)")
    assert said[review.DECLINED][0].startswith("CSAT, Start: 45.0% → 30.0% (-15.0 pts, p = 0.028")
    assert not any("NPS" in line for lines in said.values() for line in lines)  # no clear change is never called


def test_the_last_two_complete_half_years() -> None:
    def days(p: Period) -> tuple[date, date | None]:
        return p.start.date(), p.last_day

    assert [days(p) for p in review.half_years(date(2026, 10, 31))] == [
        (date(2025, 7, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 6, 30)),
    ]
    assert [days(p) for p in review.half_years(date(2026, 6, 30))][1] == (date(2026, 1, 1), date(2026, 6, 30))
    assert [days(p) for p in review.half_years(date(2026, 6, 29))][1] == (date(2025, 7, 1), date(2025, 12, 31))
    assert [days(p) for p in review.half_years(date(2026, 12, 31))][1] == (date(2026, 7, 1), date(2026, 12, 31))


def test_review_command_line(reviewed: Engine, store_url: str, tmp_path) -> None:
    from tests.test_cli import cli

    span = ("--a-from", "2025-01-01", "--a-to", "2025-06-30", "--b-from", "2025-07-01", "--b-to", "2025-12-31")
    done = cli("review", "--db", store_url, *span, "--format", "json")
    assert done.returncode == 0, done.stderr
    got = {(r["stage_id"], r["metric"]): r for r in json.loads(done.stdout)}
    assert list(next(iter(got.values()))) == list(review.CLI_COLUMNS)
    assert (got[("s", "csat")]["a"], got[("s", "csat")]["significant"], got[("s", "nps")]["significant"]) == (
        45.0,
        True,
        False,
    )
    out = tmp_path / "review.xlsx"
    done = cli("review", "--db", store_url, *span, "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    from openpyxl import load_workbook

    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert header == list(review.CLI_COLUMNS)
    assert sheet.max_row == 1 + len(got)
    bad = cli("review", "--db", store_url, "--a-from", "2025-01-01", "--format", "json")
    assert bad.returncode == 2 and "--a-to" in bad.stderr


def test_a_saved_review_opens_with_its_numbers_and_notes_after_new_data(reviewed: Engine) -> None:
    from data_access import reviews
    from data_access.loading.ingest import LoadRejected
    from data_access.store import connect

    live = review.load(reviewed, Filters(segment=("B2C",)), A, B, 30)
    notes = pl.DataFrame(
        {"stage_id": ["s"], "metric": ["csat"], "done": ["New onboarding mails"], "planned": ["Call the unhappy"]}
    )
    assert (
        reviews.save(reviewed, "2025 H1 against H2", A, B, Filters(segment=("B2C",)), reviews.with_notes(live, notes))
        == live.height
    )
    # new answers arrive: the live review moves, the saved one does not
    put(
        reviewed,
        survey_responses=[
            {
                "response_id": f"N{i}",
                "customer_id": "c1",
                "stage_id": "s",
                "survey": "csat",
                "score": 5,
                "responded_at": IN_B,
            }
            for i in range(50)
        ],
    )
    moved = review.load(reviewed, Filters(segment=("B2C",)), A, B, 30)
    assert moved.filter((pl.col("stage_id") == "s") & (pl.col("metric") == "csat"))["b_n"].item() == 150
    with connect(reviewed) as conn:
        again = reviews.opened(conn, "2025 H1 against H2")
        listed = reviews.saved(conn)["name"].to_list()
        tried = reviews.notes_before(conn)
    assert again is not None and listed == ["2025 H1 against H2"]
    assert (again.a, again.b, again.filters) == (A, B, Filters(segment=("B2C",)))
    assert again.data_as_of == datetime(2025, 10, 1)  # the newest timestamp when it was saved (c8's return)
    csat = again.frame.filter((pl.col("stage_id") == "s") & (pl.col("metric") == "csat")).row(0, named=True)
    assert (csat["b_n"], csat["b"], csat["verdict"], csat["done"]) == (
        100,
        30.0,
        review.DECLINED,
        "New onboarding mails",
    )
    assert again.frame.select(live.columns).equals(live)  # every figure as it was
    assert tried.rows() == [("s", "csat", "New onboarding mails", "Call the unhappy", "2025 H1 against H2")]
    with pytest.raises(LoadRejected) as refused:
        reviews.save(reviewed, "  ", A, B, Filters(), live)
    assert "needs a name" in refused.value.report()
