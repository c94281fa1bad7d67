"""Support quality by line, checked against figures worked out by hand, on every store.

Six tickets in March 2025 (times are opened -> first response -> resolved):
  s1 k1 bot->line 1, bot-resolved, 5 s / 600 s, csat 5      s2 k1 chat->1, 120 s / 3600 s, csat 4 (opened 2 days
  s3 k2 bot->line 2, 10 s / 86400 s, 2 contacts, csat 2       after s1 was resolved: s1's bot resolution is not
  s4 k3 phone->3, 1800 s / 259200 s, reopened                 verified within 7 days)
  s5 k2 bot->1, bot-resolved, 2 s / 300 s, csat 5             s6 k3 email->2, 7200 s, still open
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import store
from data_access.filters import Filters, Period
from data_access.queries import support
from tests.conftest import put

MARCH = Filters(period=Period.parse("2025-03-01", "2025-03-31"))


def ticket(
    tid: str,
    customer: str,
    entry: str,
    line: int,
    opened: str,
    first_s: float,
    resolved_s: float | None,
    *,
    bot: bool = False,
    contacts: int = 1,
    reopened: bool = False,
    category: str = "technical",
    csat: int | None = None,
    agent: str | None = None,
) -> dict[str, object]:
    start = datetime.fromisoformat(opened)
    return {
        "ticket_id": tid,
        "customer_id": customer,
        "stage_id": "a",
        "opened_at": start,
        "first_response_at": start + timedelta(seconds=first_s),
        "resolved_at": None if resolved_s is None else start + timedelta(seconds=resolved_s),
        "entry_channel": entry,
        "final_line": line,
        "bot_resolved": bot,
        "contacts": contacts,
        "reopened": reopened,
        "category": category,
        "csat": csat,
        "agent_id": agent,
    }


TICKETS = [
    ticket("s1", "k1", "bot", 1, "2025-03-01 10:00", 5, 600, bot=True, csat=5),
    ticket("s2", "k1", "chat", 1, "2025-03-03 09:00", 120, 3600, csat=4, agent="A1"),
    ticket("s3", "k2", "bot", 2, "2025-03-05 12:00", 10, 86400, contacts=2, category="financial", csat=2, agent="B1"),
    ticket("s4", "k3", "phone", 3, "2025-03-10 08:00", 1800, 259200, reopened=True, category="other", agent="C1"),
    ticket("s5", "k2", "bot", 1, "2025-03-20 15:00", 2, 300, bot=True, csat=5),
    ticket("s6", "k3", "email", 2, "2025-03-25 10:00", 7200, None, category="financial", agent="B1"),
]


@pytest.fixture
def desk(engine: Engine) -> Engine:
    put(
        engine,
        stages=[{"stage_id": "a", "name": "A", "position": 1, "in_funnel": True}],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2025, 1, 1),
                "segment": seg,
                "channel": "web",
                "region": "EU",
                "plan": "p",
                "churned_at": churned,
            }
            for c, seg, churned in (("k1", "B2C", None), ("k2", "B2C", None), ("k3", "B2B", datetime(2025, 3, 28)))
        ],
        tickets=TICKETS,
    )
    return engine


def by_line(engine: Engine, filters: Filters = MARCH, verify_days: int = 7) -> dict[str, dict[str, object]]:
    with store.connect(engine) as conn:
        frame = support.lines(conn, filters, verify_days, min_n=1)
    return {r["line"]: r for r in frame.iter_rows(named=True)}


def test_every_line_figure_by_hand(desk: Engine) -> None:
    rows = by_line(desk)
    one, two, three, bot, every = (rows[k] for k in support.LINES)
    assert [rows[k]["tickets"] for k in support.LINES] == [3, 2, 1, 3, 6]
    assert (one["fcr"], one["fcr_n"], one["ticket_csat"], one["ticket_csat_n"]) == (100.0, 3, 100.0, 3)
    assert (one["median_first_response_seconds"], one["median_resolution_seconds"]) == (5, 600)
    assert one["p90_resolution_seconds"] == pytest.approx(3000)  # 600 + 0.8 * (3600 - 600)
    assert (one["reopen_rate"], one["escalation_rate"]) == (0.0, 0.0)
    assert (two["fcr"], two["fcr_n"], two["ticket_csat"], two["ticket_csat_n"]) == (0.0, 1, 0.0, 1)
    assert two["median_first_response_seconds"] == pytest.approx(3605)  # between 10 and 7200
    assert (two["escalation_rate"], two["open"], two["first_response_breaches"]) == (100.0, 1, 1)
    assert two["resolution_breaches"] == 0  # exactly 24 h is within line 2's 24 h
    assert (every["first_response_breaches"], bot["first_response_breaches"]) == (1, 0)  # each by its own line
    assert (three["fcr"], three["reopen_rate"], three["ticket_csat"], three["ticket_csat_n"]) == (0.0, 100.0, None, 0)
    assert (bot["fcr"], bot["ticket_csat"]) == (pytest.approx(200 / 3), pytest.approx(200 / 3))
    assert bot["escalation_rate"] == pytest.approx(100 / 3)
    assert bot["p90_resolution_seconds"] == pytest.approx(69240)  # 600 + 0.8 * (86400 - 600)
    assert (bot["containment"], bot["verified_containment"]) == (pytest.approx(200 / 3), pytest.approx(100 / 3))
    assert (one["containment"], every["verified_containment"]) == (None, None)  # only the bot row has them
    assert (every["fcr"], every["fcr_n"], every["ticket_csat"], every["ticket_csat_n"]) == (60.0, 5, 75.0, 4)
    assert every["median_first_response_seconds"] == pytest.approx(65)  # (10 + 120) / 2
    assert (every["median_resolution_seconds"], every["p90_resolution_seconds"]) == (3600, pytest.approx(190080))
    assert (every["reopen_rate"], every["escalation_rate"], every["share"]) == (20.0, 50.0, 100.0)
    assert one["share"] == 50.0


def test_verification_window_is_a_setting(desk: Engine) -> None:
    assert by_line(desk, verify_days=1)["bot"]["verified_containment"] == pytest.approx(200 / 3)  # s2 came later


def test_filters_and_an_empty_period(desk: Engine) -> None:
    b2b = by_line(desk, Filters(period=MARCH.period, segment=("B2B",)))
    assert [b2b[k]["tickets"] for k in support.LINES] == [0, 1, 1, 0, 2]
    assert b2b["1"]["fcr"] is None
    april = by_line(desk, Filters(period=Period.parse("2025-04-01", "2025-04-30")))
    assert april["all"]["tickets"] == 0
    assert april["all"]["median_resolution_seconds"] is None


def test_agents_clusters_flow_and_churn(desk: Engine) -> None:
    with store.connect(desk) as conn:
        agents = support.agents(conn, MARCH, min_n=1)
        clusters = support.clusters(conn, MARCH, min_n=1)
        flow = support.flow(conn, MARCH)
        churn = support.churn_effect(conn, MARCH)
    b1 = agents.filter(pl.col("agent_id") == "B1").row(0, named=True)
    assert (b1["final_line"], b1["tickets"], b1["fcr"], b1["fcr_n"]) == ("2", 2, 0.0, 1)
    assert agents["agent_id"].to_list() == ["A1", "B1", "C1"]
    financial = clusters.filter(pl.col("category") == "financial").row(0, named=True)
    assert (financial["line"], financial["tickets"], financial["fcr"], financial["fcr_n"]) == ("2", 2, 0.0, 1)
    assert financial["median_resolution_seconds"] == 86400
    assert flow.filter(pl.col("outcome") == "still open")["tickets"].sum() == 1
    assert flow.filter(pl.col("bot_resolved"))["tickets"].sum() == 2
    problem, other = churn.row(0, named=True), churn.row(1, named=True)
    assert (problem["customers"], problem["churned"], problem["churn_rate"]) == (2, 1, 50.0)  # k2, k3
    assert (other["customers"], other["churned"], other["churn_rate"]) == (1, 0, 0.0)  # k1
    assert problem["difference"] == pytest.approx(50.0)
    # 1.96 * sqrt(0.5 * 0.5 / 2 + 0) = 0.693 -> 50 -/+ 69.3 points
    assert (problem["difference_lo"], problem["difference_hi"]) == (
        pytest.approx(-19.30, abs=0.01),
        pytest.approx(119.30, abs=0.01),
    )


def test_a_cluster_spike_in_one_segment(engine: Engine) -> None:
    monday = datetime(2025, 3, 3)
    tickets = [
        ticket(f"w{w}", "k1", "chat", 1, (monday + timedelta(weeks=w)).isoformat(), 60, 600) for w in range(8)
    ]  # one a week for eight weeks
    tickets += [
        ticket(f"x{i}", "k1", "chat", 1, (monday + timedelta(weeks=8, hours=i)).isoformat(), 60, 600) for i in range(5)
    ]  # then five in the ninth
    tickets += [
        ticket(f"f{w}", "k2", "chat", 1, (monday + timedelta(weeks=w)).isoformat(), 60, 600, category="financial")
        for w in range(9)
    ]  # steady
    put(
        engine,
        stages=[{"stage_id": "a", "name": "A", "position": 1, "in_funnel": True}],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2025, 1, 1),
                "segment": s,
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
            for c, s in (("k1", "B2C"), ("k2", "B2B"))
        ],
        tickets=tickets,
    )
    with store.connect(engine) as conn:
        spikes = support.cluster_spikes(conn, Filters())
    assert spikes.select("segment", "category", "tickets", "baseline").rows() == [("B2C", "technical", 5, 1.0)]


def test_support_command_line(desk: Engine, store_url: str) -> None:
    import json

    from tests.test_cli import cli

    done = cli("support", "--db", store_url, "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["line"]: r for r in json.loads(done.stdout)}
    assert list(rows) == ["1", "2", "3", "bot", "all"]
    assert list(rows["all"]) == list(support.CLI_COLUMNS)
    assert (rows["all"]["tickets"], rows["all"]["fcr"], rows["all"]["csat"], rows["all"]["csat_n"]) == (
        6,
        60.0,
        75.0,
        4,
    )
    assert (rows["bot"]["containment"], rows["bot"]["verified_containment"]) == (66.67, 33.33)
    assert rows["3"]["csat"] is None
    looser = json.loads(cli("support", "--db", store_url, "--verify-days", "1", "--format", "json").stdout)
    assert looser[3]["verified_containment"] == 66.67
    bad = cli("support", "--db", store_url, "--verify-days", "-1")
    assert bad.returncode == 2
    assert "--verify-days" in bad.stderr


def test_escalation_in_words(desk: Engine) -> None:
    from components.builders import support_view

    with store.connect(desk) as conn:
        frame = support.lines(conn, MARCH, 7, 1)
    # s3, s4, s6 went beyond line 1 (3 of 6); s4 went on to line 3 (1 of 3)
    assert support_view.escalation_sentence(frame) == (
        "50.0% of tickets went from line 1 to line 2 (3 of 6); 33.3% of those went on to line 3 (1 of 3)."
    )


def test_the_lines_table_with_no_open_ticket() -> None:
    """A store with no open ticket gives an all-null ``oldest_open`` column (typed Null): no age, no error."""
    from datetime import datetime

    import polars as pl

    from components.builders import support_view

    numbers = [
        "median_first_response_seconds",
        "p90_first_response_seconds",
        "median_resolution_seconds",
        "p90_resolution_seconds",
        "first_response_breaches",
        "resolution_breaches",
    ]
    rates = ["fcr", "reopen_rate", "ticket_csat", "escalation_rate", "containment", "verified_containment"]
    frame = pl.DataFrame(
        {"line": ["1"], "tickets": [4], "share": [100.0], "open": [0], "oldest_open": [None]}
        | {c: [60.0] for c in numbers}
        | {m: [50.0] for m in rates}
        | {f"{m}_n": [4] for m in rates}
    )
    table = support_view.lines_table(frame, datetime(2026, 1, 1), 30)
    assert table.height == len(support_view.LINE_ORDER)
    assert table["Oldest open, days"].to_list() == [None] * table.height
    assert table["Open"].to_list()[support_view.LINE_ORDER.index("1")] == 0
