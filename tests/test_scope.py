"""A viewer limited to a segment sees that segment's figures and nothing else, whatever they choose.

The check: the sample company in one store, and its B2B customers alone (every row of theirs, and the stages,
targets, maps and business events of everyone) in a twin store. Every query a page runs, given the scope "B2B
only" on the first store, must give what it gives with no limit on the twin: a total that counted one row of
another segment would differ. Both stores are DuckDB files; PostgreSQL runs the same on a smaller pair."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from data_access import reviews, store
from data_access.filters import Filters, Period, Scope
from data_access.loading import ingest
from data_access.queries import catalog, funnel, journey, kpis, overview, retention, review, risk, support, why
from sample_data.generate import generate
from tests.conftest import make_store_url

B2B = Scope(segments=("B2B",))
PERIOD = Period.parse("2025-07-01", "2026-06-30")
AS_OF = datetime(2026, 6, 30)
CUSTOMER_TABLES = ("customers", "journey_events", "survey_responses", "tickets", "orders", "offers", "experiments")


def _twin_frames(customers: int) -> tuple[list[tuple[str, pl.DataFrame]], list[tuple[str, pl.DataFrame]]]:
    """(every table of the sample, the same with only the B2B customers' rows)."""
    whole = list(generate(customers, 42))
    b2b = pl.concat([f for n, f in whole if n == "customers"]).filter(pl.col("segment") == "B2B")["customer_id"]
    part = [(n, f.filter(pl.col("customer_id").is_in(b2b.implode())) if n in CUSTOMER_TABLES else f) for n, f in whole]
    return whole, part


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def twins(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Engine]:
    whole, part = _twin_frames(1_500 if request.param == "duckdb" else 600)
    engines = []
    for name, frames in (("whole", whole), ("b2b", part)):
        if request.param == "postgresql" and name == "b2b":  # the twin in a second database of its own
            url = _second_database(engines[0].url.render_as_string(hide_password=False))
        else:
            url = make_store_url(request.param, tmp_path_factory.mktemp(name))
        engine = store.create_store_engine(url)
        store.init_store(engine)
        ingest.write(engine, frames, mode="replace")
        engines.append(engine)
    yield engines[0], engines[1]
    for e in engines:
        e.dispose()


def _second_database(url: str) -> str:
    import uuid

    import sqlalchemy as sa

    admin = sa.make_url(url)
    name = f"{admin.database}_twin_{uuid.uuid4().hex[:6]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))  # our own name, not input
    engine.dispose()
    _CREATED.append((url, name))
    return admin.set(database=name).render_as_string(hide_password=False)


_CREATED: list[tuple[str, str]] = []


@pytest.fixture(scope="module", autouse=True)
def _drop_twins() -> Any:
    yield
    import sqlalchemy as sa

    for url, name in _CREATED:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def _on(conn_query: Callable[..., Any]) -> Callable[[Engine, Filters], Any]:
    """A query that takes a connection, run on an engine."""

    def run(engine: Engine, filters: Filters) -> Any:
        with store.connect(engine) as conn:
            return conn_query(conn, filters)

    return run


SPEC = funnel.FunnelSpec(("awareness", "consideration", "decision", "onboarding"), funnel.parse_window("90d"))
WINDOWS = overview.windows_ending(date(2026, 6, 30), 6)
H1, H2 = Period.parse("2025-07-01", "2025-12-31"), Period.parse("2026-01-01", "2026-06-30")
QUERIES: dict[str, Callable[[Engine, Filters], Any]] = {
    "stage KPIs": lambda e, f: kpis.stage_kpis(e, f, 30),
    "stage trend": lambda e, f: kpis.stage_trend(e, "onboarding", "csat", f, 30),
    "stage breakdown": lambda e, f: kpis.stage_breakdown(e, "support", "fcr", f, "category", 30),
    "stage rows": lambda e, f: kpis.stage_rows(e, "onboarding", "csat", f, 10_000),
    "funnel": _on(lambda c, f: funnel.steps(c, SPEC, f)),
    "funnel by channel": _on(lambda c, f: funnel.breakdown(c, SPEC, f, "channel")),
    "funnel timing": _on(lambda c, f: funnel.time_to_convert(c, SPEC, f)),
    "funnel over time": _on(lambda c, f: funnel.over_time(c, SPEC, f, "month")),
    "funnel dropped": _on(lambda c, f: funnel.dropped(c, SPEC, f, 2, 10_000)),
    "support lines": _on(lambda c, f: support.lines(c, f, 7, 30)),
    "support trend": _on(lambda c, f: support.trend(c, f, "month", 7, 30, "fcr")),
    "agents": _on(lambda c, f: support.agents(c, f, 30)),
    "clusters": lambda e, f: support.cluster_views(e, f, "month", 30),
    "flow and churn": lambda e, f: support.flow_and_churn(e, f),
    "cohorts": _on(lambda c, f: retention.cohorts(c, f, "month", "in", "channel")),
    "value and repeat": lambda e, f: retention.value_and_repeat(e, f, "month", "plan"),
    "churn over time": _on(lambda c, f: retention.churn_over_time(c, f, "month")),
    "at risk": _on(lambda c, f: risk.at_risk(c, f, AS_OF)),
    "alerts": lambda e, f: risk.alerts(e, f, AS_OF),
    # its business events are the scope's (see below), the twin has everyone's
    "overview": lambda e, f: {k: v for k, v in overview.load(e, f, WINDOWS, 30).items() if k != "events"},
    "journey map": lambda e, f: journey.live_lanes(e, f, 30),
    "review": lambda e, f: review.load(e, f, H1, H2, 30),
    "filter values": lambda e, f: catalog.dimension_values(e, f.scope),
    "exit reasons": _on(lambda c, f: why.exit_reasons(c, f, "plan")),
    "exit comments": _on(lambda c, f: why.exit_comments(c, f, "missing feature", 10_000)),
    "exits by bad stage": _on(lambda c, f: why.exits_by_bad_stage(c, f)),
    "offers": _on(lambda c, f: why.offer_outcomes(c, f, "churn_attempt")),
    "experiments": _on(lambda c, f: why.experiment_results(c, f, datetime(2026, 10, 31), 5)),
}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows in one order (some queries leave theirs to the database)."""
    keys = [c for c, t in frame.schema.items() if t.is_numeric() or t in (pl.String, pl.Date, pl.Boolean)]
    keys += [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    return frame.sort(keys, nulls_last=True) if keys and frame.height else frame


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, pl.DataFrame):
        assert a.columns == b.columns, where
        assert_frame_equal(_sorted(a), _sorted(b), check_exact=False, rel_tol=1e-9, abs_tol=1e-9, check_dtypes=False)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", list(QUERIES))
def test_a_segment_limit_shows_that_segment_only(twins: tuple[Engine, Engine], name: str) -> None:
    whole, b2b_only = twins
    query = QUERIES[name]
    limited = query(whole, Filters(period=PERIOD, scope=B2B))
    _same(limited, query(b2b_only, Filters(period=PERIOD)), name)
    # and it is a limit: the whole store without it gives other figures
    if name not in ("stage breakdown", "filter values"):
        unlimited = query(whole, Filters(period=PERIOD))
        with pytest.raises(AssertionError):
            _same(unlimited, limited, name)


def test_a_filter_for_another_segment_cannot_widen_the_limit(twins: tuple[Engine, Engine]) -> None:
    """A link or a filter asking for B2C inside a B2B limit gets nobody, not the B2C customers."""
    whole, _ = twins
    steps = QUERIES["funnel"](whole, Filters(period=PERIOD, segment=("B2C",), scope=B2B))
    assert steps["customers"].sum() == 0
    cards = QUERIES["stage KPIs"](whole, Filters(period=PERIOD, segment=("B2C",), scope=B2B))
    assert cards["customers"].sum() == 0 and cards["csat_n"].sum() == 0


def test_business_events_of_other_segments_are_left_out(twins: tuple[Engine, Engine]) -> None:
    whole, _ = twins
    every = catalog.business_events(whole)
    limited = catalog.business_events(whole, B2B)
    assert set(limited["segment"].drop_nulls()) <= {"B2B"}
    assert limited.height == every.filter(pl.col("segment").is_null() | (pl.col("segment") == "B2B")).height
    assert limited.height < every.height  # the sample's price change is for B2C only


def test_saved_reviews_are_seen_within_their_segments(twins: tuple[Engine, Engine]) -> None:
    whole, _ = twins
    frame = review.load(whole, Filters(), H1, H2, 30)
    reviews.save(whole, "everyone", H1, H2, Filters(), frame)
    b2b_frame = review.load(whole, Filters(scope=B2B), H1, H2, 30)
    reviews.save(whole, "b2b", H1, H2, Filters(scope=B2B), b2b_frame)
    with store.connect(whole) as conn:
        assert set(reviews.saved(conn)["name"]) == {"everyone", "b2b"}
        assert reviews.saved(conn, B2B)["name"].to_list() == ["b2b"]
        assert reviews.opened(conn, "everyone", B2B) is None
        opened = reviews.opened(conn, "b2b", B2B)
    assert opened is not None and opened.filters.segment == ("B2B",)  # it says whom its figures count
