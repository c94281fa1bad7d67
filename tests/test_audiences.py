"""Audiences: membership worked out by hand for every leaf and group kind, on every store; bad rules refused with
the path of the bad part, and nothing stored.

As of 2026-06-30 (days before it in brackets; customers signed up 2026-01-01, e on 2026-07-15, after it):
  a B2B: onboarding (10), onboarding (5), regular_use (60); ticket open since (3), technical, line 1;
         orders 100 (15) and 50 (45)
  b B2C: onboarding (40); tickets financial line 2 (20, resolved 19) and open since (2); order 20 (5)
  c B2C: no events, no orders; NPS 3 (10)
  d B2B: regular_use (1), onboarding one day after the as-of time (not read); NPS 9 (100)
Last seen (events and orders): a 5, b 5, c never, d 1. The churn early warning's score: a 2 (open ticket), b 5 (an
open ticket, and no activity in the last 30 days after some in the 30 before), c 2 (detractor), d 0.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from data_access import audiences, store
from data_access.audiences import Audience, RuleError
from tests.conftest import put

AS_OF = datetime(2026, 6, 30)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


@pytest.fixture
def people(engine: Engine) -> Engine:
    return fill(engine)


def fill(engine: Engine) -> Engine:
    """The five customers of the module's docstring and what they did."""
    stages = ("onboarding", "regular_use", "support")
    put(
        engine,
        stages=[{"stage_id": s, "name": s, "position": i, "in_funnel": True} for i, s in enumerate(stages, 1)],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2026, 7, 15) if c == "e" else datetime(2026, 1, 1),
                "segment": seg,
                "channel": "web",
                "region": "EU",
                "plan": "pro" if c == "a" else "basic",
                "email": f"{c}@x.io",
            }
            for c, seg in (("a", "B2B"), ("b", "B2C"), ("c", "B2C"), ("d", "B2B"), ("e", "B2C"))
        ],
        journey_events=[
            {"event_id": f"e{i}", "customer_id": c, "stage_id": s, "occurred_at": ago(d)}
            for i, (c, s, d) in enumerate(
                (
                    ("a", "onboarding", 10),
                    ("a", "onboarding", 5),
                    ("a", "regular_use", 60),
                    ("b", "onboarding", 40),
                    ("d", "regular_use", 1),
                    ("d", "onboarding", -1),
                )
            )
        ],
        tickets=[
            {
                "ticket_id": t,
                "customer_id": c,
                "opened_at": ago(o),
                "resolved_at": None if r is None else ago(r),
                "entry_channel": "chat",
                "final_line": line,
                "bot_resolved": False,
                "contacts": 1,
                "reopened": False,
                "category": cat,
            }
            for t, c, o, r, line, cat in (
                ("t1", "a", 3, None, 1, "technical"),
                ("t2", "b", 20, 19, 2, "financial"),
                ("t3", "b", 2, None, 2, "financial"),
            )
        ],
        survey_responses=[
            {
                "response_id": r,
                "customer_id": c,
                "stage_id": "support",
                "survey": "nps",
                "score": s,
                "responded_at": ago(d),
            }
            for r, c, s, d in (("r1", "c", 3, 10), ("r2", "d", 9, 100))
        ],
        orders=[
            {"order_id": o, "customer_id": c, "ordered_at": ago(d), "amount": a}
            for o, c, a, d in (("o1", "a", 100.0, 15), ("o2", "a", 50.0, 45), ("o3", "b", 20.0, 5))
        ],
    )
    return engine


def members(engine: Engine, rule: dict, known: dict[str, dict] | None = None) -> list[str]:
    resolve = {k: audiences.parse(v) for k, v in (known or {}).items()}.__getitem__
    query = audiences.members_query(audiences.parse(rule), AS_OF, resolve)
    with store.connect(engine) as conn:
        return [str(r[0]) for r in conn.execute(query)]


B2B = {"attr": "segment", "op": "eq", "value": "B2B"}
CASES = [
    (B2B, ["a", "d"]),
    ({"attr": "segment", "op": "ne", "value": "B2B"}, ["b", "c"]),  # e signed up after the as-of time
    ({"attr": "plan", "op": "in", "value": ["pro", "gold"]}, ["a"]),
    ({"events": {"stage": "onboarding"}, "window": {"last_days": 30}, "count": {"op": "gte", "value": 2}}, ["a"]),
    ({"events": {"stage": "onboarding"}, "window": {"between_days_ago": [90, 30]}}, ["b"]),
    ({"events": {"stage": "onboarding"}, "count": {"op": "eq", "value": 0}}, ["c", "d"]),  # d's is after the as-of
    ({"events": {}, "window": {"last_days": 5}}, ["d"]),  # after as_of - 5 days: a's, 5 days ago to the second, is not
    ({"events": {}, "window": {"last_days": 6}}, ["a", "d"]),
    ({"tickets": {"unresolved": True}, "window": {"last_days": 30}}, ["a", "b"]),
    ({"tickets": {"category": "financial"}, "count": {"op": "gte", "value": 2}}, ["b"]),
    ({"tickets": {"line": 1}}, ["a"]),
    ({"answers": {"survey": "nps", "score": {"op": "lte", "value": 6}}, "window": {"last_days": 90}}, ["c"]),
    ({"orders": {}, "window": {"last_days": 30}, "sum": {"op": "gte", "value": 100}}, ["a"]),
    ({"orders": {}, "count": {"op": "eq", "value": 0}}, ["c", "d"]),
    ({"last_seen": {"days_ago": {"op": "gte", "value": 30}}}, ["c"]),  # never seen matches
    ({"last_seen": {"days_ago": {"op": "lte", "value": 5}}}, ["a", "b", "d"]),
    ({"not": B2B}, ["b", "c"]),
    ({"any": [{"tickets": {"category": "financial"}}, {"answers": {"survey": "nps"}}]}, ["b", "c", "d"]),
    ({"all": [B2B, {"orders": {}}]}, ["a"]),
    ({"risk": {"op": "gte", "value": 2}}, ["a", "b", "c"]),
    ({"risk": {"op": "gte", "value": 5}}, ["b"]),
    ({"risk": {"op": "gte", "value": 2}, "stages": ["onboarding"]}, ["a", "b"]),  # their latest events' stage
    ({"risk": {"op": "gte", "value": 2}, "stages": [None, "regular_use"]}, ["c"]),  # c has no event at all
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_membership_by_hand(people: Engine, rule: dict, expected: list[str]) -> None:
    assert members(people, rule) == expected


def test_an_audience_of_an_audience(people: Engine) -> None:
    rule = {"all": [{"audience": "b2b"}, {"events": {"stage": "regular_use"}}]}
    assert members(people, rule, {"b2b": B2B}) == ["a", "d"]
    assert members(people, {"not": {"audience": "b2b"}}, {"b2b": B2B}) == ["b", "c"]


def test_audiences_stored_and_their_members(duck_url: str) -> None:
    engine = store.create_store_engine(duck_url)
    store.init_store(engine)
    put(
        engine,
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2026, 1, 1),
                "segment": s,
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
            for c, s in (("a", "B2B"), ("b", "B2C"))
        ],
    )
    audiences.add(engine, Audience("b2b", "B2B customers", "me", B2B))
    audiences.add(engine, Audience("not-b2b", "The others", "me", {"not": {"audience": "b2b"}}))
    assert [a.key for a in audiences.listed(engine)] == ["b2b", "not-b2b"]
    assert audiences.members(engine, "not-b2b", AS_OF)["customer_id"].to_list() == ["b"]
    refusals = [
        (Audience("x", "X", "me", {"all": [B2B, {"events": {}, "window": {"last_day": 3}}]}),
         'all[1].window: unknown key "last_day"'),
        (Audience("x", "X", "me", {"audience": "nope"}), "unknown audience nope"),
        (Audience("b2b", "B2B", "me", {"audience": "not-b2b"}), "a cycle (b2b -> not-b2b -> b2b)"),
        (Audience("x", "X", "me", {"attr": "mood", "value": "happy"}), 'attr: "mood" is not one of'),
        (Audience("x", "X", "me", {"orders": {}, "count": {"op": "more", "value": 1}}), 'count.op: "more" is not'),
        (Audience("Bad Key", "X", "me", B2B), "is not a key"),
    ]  # fmt: skip
    for audience, words in refusals:
        with pytest.raises(RuleError, match=re.escape(words)):
            audiences.add(engine, audience)
    assert [a.key for a in audiences.listed(engine)] == ["b2b", "not-b2b"]  # nothing stored
    assert audiences.get(engine, "b2b").rule == B2B
    with pytest.raises(RuleError, match="not-b2b name"):
        audiences.remove(engine, "b2b")
    audiences.remove(engine, "not-b2b")
    audiences.remove(engine, "b2b")
    assert audiences.listed(engine) == []


def test_the_audiences_command(duck_url: str, tmp_path, capsys) -> None:
    from data_access.ops import cli

    store_url = duck_url
    fill(store.create_store_engine(duck_url))
    rule = tmp_path / "risk.json"
    rule.write_text('{"all": [{"risk": {"op": "gte", "value": 2}}, {"attr": "segment", "op": "eq", "value": "B2C"}]}')
    assert (
        cli.main(
            ["audiences", "add", "--db", store_url, "--key", "risky-b2c", "--name", "Risky B2C", "--rule", str(rule)]
        )
        == 0
    )
    assert (
        cli.main(["audiences", "members", "--db", store_url, "risky-b2c", "--as-of", "2026-06-29", "--format", "csv"])
        == 0
    )
    out = capsys.readouterr()
    assert out.out.splitlines()[1:] == ["customer_id,email,segment,plan", "b,b@x.io,B2C,basic", "c,c@x.io,B2C,basic"]
    assert "2 members of risky-b2c as of 2026-06-30 00:00 UTC" in out.err  # the end of that day
    rule.write_text('{"all": [{"risk": {"op": "gte"}}]}')
    assert cli.main(["audiences", "add", "--db", store_url, "--key", "x", "--name", "X", "--rule", str(rule)]) == 2
    assert "all[0].risk.value: null is not a number" in capsys.readouterr().err
    assert cli.main(["audiences", "list", "--db", store_url, "--format", "csv"]) == 0
    assert "risky-b2c,Risky B2C" in capsys.readouterr().out
    assert cli.main(["audiences", "recompute", "--db", store_url, "--as-of", "2026-06-29"]) == 0
    assert "risky-b2c: 2 members as of 2026-06-30 00:00 UTC (2 entered, 0 left)" in capsys.readouterr().out


def test_membership_over_time(people: Engine) -> None:
    from datetime import date

    audiences.add(people, Audience("lately", "Active lately", "me", {"events": {}, "window": {"last_days": 6}}))
    first = audiences.recompute(people, AS_OF)  # a (5 days before) and d (1 day before)
    assert [(c.entered, c.left, c.members) for c in first] == [(2, 0, 2)]
    later = AS_OF + timedelta(days=3)  # a's last event is now 8 days back; d's is 4, and its next one came in
    assert [(c.entered, c.left, c.members) for c in audiences.recompute(people, later)] == [(0, 1, 1)]
    assert [(c.entered, c.left) for c in audiences.recompute(people, later)] == [(0, 0)]  # nothing sent twice
    members, state = audiences.current(people, "lately")
    assert members.rows() == [("d", AS_OF)]
    assert (state["as_of"], state["members"]) == (later, 1)
    assert audiences.daily(people, "lately").rows() == [(date(2026, 6, 30), 2, 0), (date(2026, 7, 3), 0, 1)]
    audiences.recompute(people, later + timedelta(days=30))  # everyone gone quiet
    assert audiences.current(people, "lately")[0].height == 0
    with pytest.raises(RuleError, match="unknown audience nope"):
        audiences.recompute(people, later, ("nope",))


def test_an_audience_filter_gives_the_figures_of_a_store_of_its_members(tmp_path) -> None:
    """The stage KPIs, the support lines and the cohorts of an audience equal those of a store that holds only its
    members' rows; a load recomputes the audiences."""
    import sqlalchemy as sa

    from data_access import schema
    from data_access.filters import Filters
    from data_access.loading import ingest
    from data_access.queries import kpis, retention, support

    whole = store.create_store_engine(f"duckdb:///{tmp_path / 'whole.duckdb'}")
    ingest.seed(whole, 600, 7)
    audiences.add(whole, Audience("risky", "Risky", "me", {"any": [{"risk": {"op": "gte", "value": 3}}, B2B]}))
    newest = store.freshness(whole)
    audiences.recompute(whole, newest)
    chosen = Filters().with_audience(audiences.choice(whole, "risky"))
    kept = set(audiences.current(whole, "risky")[0]["customer_id"])
    assert 0 < len(kept) < 600

    only = store.create_store_engine(f"duckdb:///{tmp_path / 'only.duckdb'}")
    with store.connect(whole) as conn:
        frames = [(t.name, store.fetch_frame(conn, sa.select(t))) for t in schema.TABLES if store.has_table(conn, t)]
    frames = [(n, f.filter(f["customer_id"].is_in(kept)) if "customer_id" in f.columns else f) for n, f in frames]
    ingest.write(only, frames, mode="replace")

    assert kpis.stage_kpis(whole, chosen).equals(kpis.stage_kpis(only, Filters()))
    with store.connect(whole) as a, store.connect(only) as b:
        assert support.cli_rows(a, chosen, 7).equals(support.cli_rows(b, Filters(), 7))
        assert retention.cohorts(a, chosen, "month", "in").equals(retention.cohorts(b, Filters(), "month", "in"))

    # a load brings the audiences up to now: the tickets of the last 30 days are long past, the open ones remain
    customers = dict(frames)["customers"].head(5)
    ingest.write(whole, [("customers", customers)], mode="append")
    _, state = audiences.current(whole, "risky")
    assert state["as_of"] > newest


def test_a_saved_review_keeps_the_audience_it_was_made_for(tmp_path) -> None:
    from data_access import reviews
    from data_access.filters import Filters, Period
    from data_access.loading import ingest
    from data_access.queries import review

    engine = store.create_store_engine(f"duckdb:///{tmp_path / 'review.duckdb'}")
    ingest.seed(engine, 400, 3)
    chosen = audiences.choice(engine, "detractors-90d")  # one of the sample company's own
    filters = Filters().with_audience(chosen)
    a, b = Period.parse("2025-07-01", "2025-12-31"), Period.parse("2026-01-01", "2026-06-30")
    reviews.save(engine, "H1 detractors", a, b, filters, review.load(engine, filters, a, b, 5))
    with store.connect(engine) as conn:
        kept = reviews.opened(conn, "H1 detractors")
    assert kept is not None and kept.filters.audience == chosen
    assert "audience: Detractors in the last 90 days" in kept.filters.caption()


def test_a_recompute_back_in_time_or_again_at_the_same_time(people: Engine) -> None:
    """An earlier as-of time rewinds the history to it; the same time again after the data changed reopens a stay
    that began and ended at it; neither ever writes a stay twice. (The rows are changed behind the load's back: a
    load would recompute as of now.)"""
    import sqlalchemy as sa

    from data_access import schema

    ev, am = schema.journey_events, schema.audience_members

    def event(present: bool) -> None:
        with store.connect(people, write=True) as conn:
            conn.execute(sa.delete(ev).where(ev.c.event_id == "new"))
            if present:
                row = {"event_id": "new", "customer_id": "b", "stage_id": "onboarding", "occurred_at": later}
                conn.execute(sa.insert(ev).values(**row))

    def changes(at) -> list[tuple[int, int, int]]:
        return [(c.entered, c.left, c.members) for c in audiences.recompute(people, at, ("lately",))]

    audiences.add(people, Audience("lately", "Active lately", "me", {"events": {}, "window": {"last_days": 6}}))
    later = AS_OF + timedelta(days=3)
    assert changes(AS_OF) == [(2, 0, 2)]  # a and d
    assert changes(later) == [(0, 1, 1)]  # a's last event is 8 days back
    assert changes(AS_OF) == [(0, 0, 2)]  # rewound: a's stay is open again
    assert changes(later) == [(0, 1, 1)]
    event(True)
    assert changes(later) == [(1, 0, 2)]  # b enters at `later`
    event(False)
    assert changes(later) == [(0, 1, 1)]  # and leaves at it
    event(True)
    assert changes(later) == [(1, 0, 2)]  # back: that stay reopened
    with store.connect(people) as conn:
        stays = conn.execute(sa.select(am.c.entered_at, am.c.left_at).where(am.c.customer_id == "b")).all()
    assert stays == [(later, None)]
