"""Customer attributes on the facts (``data_access.store.attributes``): every fact and derived row carries its
customer's segment, persona, channel, region and plan; a later customers load that changes them rewrites the copies
in the same all-or-nothing load, on every store, and a filter reads them instead of a semi-join."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from data_access import schema, store
from data_access.filters import Filters, Period, Scope
from data_access.loading import ingest
from data_access.queries import funnel, kpis, retention
from data_access.store import attributes
from tests.conftest import put
from tests.test_cli import cli
from tests.test_pages import APP

STAGES = [
    {"stage_id": "s", "name": "S", "position": 1, "in_funnel": True},
    {"stage_id": "t", "name": "T", "position": 2, "in_funnel": True},
]


def person(customer: str, segment: str, persona: str | None = None, plan: str = "basic") -> dict[str, object]:
    return {
        "customer_id": customer,
        "signup_at": datetime(2025, 1, 1),
        "segment": segment,
        "persona": persona,
        "channel": "web",
        "region": "EU",
        "plan": plan,
    }


@pytest.fixture
def company(engine: Engine) -> Engine:
    """Three customers: k1 and k2 in B2C, k3 in B2B; each with events at s (k1 also at t), an answer, a ticket, an
    order."""
    who = ["k1", "k2", "k3"]
    put(
        engine,
        stages=STAGES,
        customers=[person("k1", "B2C", "Parent"), person("k2", "B2C"), person("k3", "B2B", plan="pro")],
        journey_events=[
            {"event_id": f"e-{c}", "customer_id": c, "stage_id": "s", "occurred_at": datetime(2025, 2, 1)} for c in who
        ]
        + [{"event_id": "e-k1-t", "customer_id": "k1", "stage_id": "t", "occurred_at": datetime(2025, 2, 2)}],
        survey_responses=[
            {
                "response_id": f"r-{c}",
                "customer_id": c,
                "stage_id": "s",
                "survey": "csat",
                "score": 5 if c == "k3" else 2,
                "responded_at": datetime(2025, 2, 3),
            }
            for c in who
        ],
        tickets=[
            {
                "ticket_id": f"t-{c}",
                "customer_id": c,
                "opened_at": datetime(2025, 2, 4),
                "entry_channel": "chat",
                "final_line": 1,
                "bot_resolved": False,
                "contacts": 1,
                "reopened": False,
                "category": "technical",
            }
            for c in who
        ],
        orders=[
            {"order_id": f"o-{c}", "customer_id": c, "ordered_at": datetime(2025, 2, 5), "amount": 10.0} for c in who
        ],
        offers=[
            {
                "offer_id": f"f-{c}",
                "customer_id": c,
                "offered_at": datetime(2025, 2, 6),
                "offer_type": "discount",
                "accepted": True,
                "channel": "phone",
            }
            for c in who
        ],
        experiment_info=[
            {
                "experiment": "x",
                "hypothesis": "h",
                "primary_metric": "retention_90d",
                "start_at": datetime(2025, 2, 1),
            }
        ],
        experiments=[
            {"experiment": "x", "customer_id": c, "variant": "control", "assigned_at": datetime(2025, 2, 7)}
            for c in who
        ],
    )
    return engine


def copies(engine: Engine, table: sa.Table) -> dict[str, tuple[object, ...]]:
    """customer -> (segment, persona, plan) as the table's rows hold them (one value per customer)."""
    own = schema.stored_attributes(table)
    assert own is not None
    with store.connect(engine) as conn:
        rows = conn.execute(
            sa.select(table.c.customer_id, own["segment"], own["persona"], own["plan"]).distinct()
        ).all()
    return {str(r[0]): tuple(r[1:]) for r in rows}


def stage_counts(engine: Engine, filters: Filters, *, stored: bool) -> dict[str, int]:
    with store.connect(engine) as conn:
        rows = conn.execute(kpis.customers_per_stage_query(filters, stored=stored)).all()
    return {str(stage): int(n) for stage, n in rows}


def test_every_row_carries_its_customers_attributes(company: Engine) -> None:
    expected = {"k1": ("B2C", "Parent", "basic"), "k2": ("B2C", None, "basic"), "k3": ("B2B", None, "pro")}
    for table in schema.ATTRIBUTE_TABLES:
        assert copies(company, table) == expected, table.name
    with store.connect(company) as conn:
        assert all(attributes.differing(conn, t) == 0 for t in schema.ATTRIBUTE_TABLES)


def test_a_later_customers_load_rewrites_the_copies(company: Engine) -> None:
    b2b = Filters(segment=("B2B",))
    assert stage_counts(company, b2b, stored=True) == {"s": 1}  # k3
    # k1 moves to B2B and loses their persona; k2 changes plan: one customers file, nothing else
    put(company, customers=[person("k1", "B2B"), person("k2", "B2C", plan="pro")])
    expected = {"k1": ("B2B", None, "basic"), "k2": ("B2C", None, "pro"), "k3": ("B2B", None, "pro")}
    for table in schema.ATTRIBUTE_TABLES:
        assert copies(company, table) == expected, table.name
    for stored in (True, False):  # the derived table and the raw events agree
        assert stage_counts(company, b2b, stored=stored) == {"s": 2, "t": 1}  # k1 and k3; k1 at t
        assert stage_counts(company, Filters(plan=("pro",)), stored=stored) == {"s": 2}  # k2 and k3
    with store.connect(company) as conn:  # a metric over the answers follows: k1's 2 and k3's 5 -> 1 of 2 satisfied
        frame = kpis.stage_kpis_on(conn, b2b)
    row = frame.filter(frame["stage_id"] == "s").to_dicts()[0]
    assert row["csat_n"] == 2 and row["csat"] == pytest.approx(50.0)
    # the funnel per segment: read from the stored attempts' copies, and live from the events, k1 now in B2B
    for window in (funnel.DEFAULT_WINDOW, "30d"):
        spec = funnel.FunnelSpec(("s", "t"), funnel.parse_window(window))
        with store.connect(company) as conn:
            stored = funnel.how(conn, spec, Filters())["stored"]
            per = funnel.breakdown(conn, spec, Filters(), "segment").sort("value")
        assert stored is (window == funnel.DEFAULT_WINDOW)
        assert per.rows() == [("B2B", 2, 1), ("B2C", 1, 0)], window  # k1 and k3 at s, k1 at t; k2 at s


def test_a_refused_customers_load_leaves_the_copies(company: Engine) -> None:
    before = {t.name: copies(company, t) for t in schema.ATTRIBUTE_TABLES}
    frames = [
        ("customers", ingest.typed_frame("customers", [person("k1", "B2B")])),
        (
            "orders",
            ingest.typed_frame(
                "orders",
                [{"order_id": "o-x", "customer_id": "nobody", "amount": 1.0, "ordered_at": datetime(2025, 3, 1)}],
            ),
        ),
    ]
    with pytest.raises(ingest.LoadRejected):
        ingest.write(company, frames, mode="append")
    assert {t.name: copies(company, t) for t in schema.ATTRIBUTE_TABLES} == before


def test_a_fact_load_stamps_only_its_rows(company: Engine) -> None:
    put(
        company,
        journey_events=[
            {"event_id": "e-new", "customer_id": "k3", "stage_id": "t", "occurred_at": datetime(2025, 3, 1)}
        ],
    )
    assert copies(company, schema.journey_events)["k3"] == ("B2B", None, "pro")
    assert stage_counts(company, Filters(segment=("B2B",)), stored=True) == {"s": 1, "t": 1}


def sql(clause: sa.ColumnElement[bool]) -> str:
    return str(clause.compile(compile_kwargs={"literal_binds": True}))


def test_a_filter_reads_the_tables_own_copies() -> None:
    filters = Filters(segment=("B2C",), channel=("web",), scope=Scope(segments=("B2C", "B2B")))
    ev = schema.journey_events
    on_events = sql(filters.customer_clause(ev.c.customer_id))
    assert "customers" not in on_events and "journey_events.customer_segment IN ('B2C')" in on_events
    assert "journey_events.customer_channel IN ('web')" in on_events
    alias = ev.alias("e2")
    assert "e2.customer_segment IN ('B2C', 'B2B')" in sql(filters.customer_clause(alias.c.customer_id))
    picked = sa.select(schema.offers.c.customer_id).subquery("picked")  # a subquery without the copies: a semi-join
    assert "picked.customer_id IN (SELECT customers.customer_id" in sql(filters.customer_clause(picked.c.customer_id))
    assert sql(Filters().customer_clause(ev.c.customer_id)) == "true"


def made_before_the_copies(engine: Engine, *, numbers_only: bool = False) -> None:
    """Gives a store the shape a store made by an earlier version has: no copies on any row, and no customer numbers
    (``numbers_only``: the version before the numbers, which had the attributes)."""
    with store.connect(engine, write=True) as conn:
        for table in (schema.customers, *schema.ATTRIBUTE_TABLES):
            for column in table.columns:
                if column.info.get("store_only") and (column.name == schema.CUSTOMER_KEY or not numbers_only):
                    name = conn.dialect.identifier_preparer.quote(column.name)
                    target = conn.dialect.identifier_preparer.format_table(table)
                    conn.exec_driver_sql(f"ALTER TABLE {target} DROP COLUMN {name}")


def numbers(engine: Engine, table: sa.Table = schema.customers) -> dict[str, int]:
    """customer -> the number the table's rows hold for them (one per customer)."""
    with store.connect(engine) as conn:
        rows = conn.execute(sa.select(table.c.customer_id, table.c[schema.CUSTOMER_KEY]).distinct()).all()
    assert len(rows) == len({r[0] for r in rows}), f"{table.name}: a customer with two numbers"
    return {str(r[0]): int(r[1]) for r in rows}


@pytest.mark.parametrize("numbers_only", [False, True], ids=["before the copies", "before the numbers"])
def test_a_store_made_before_the_copies_gets_them_when_upgraded(company: Engine, numbers_only: bool) -> None:
    made_before_the_copies(company, numbers_only=numbers_only)
    outdated = [t.name for t in (schema.customers, *schema.ATTRIBUTE_TABLES)]
    assert store.outdated_tables(company) == outdated
    store.init_store(company)
    assert store.outdated_tables(company) == []
    for table in schema.ATTRIBUTE_TABLES:
        assert copies(company, table)["k1"] == ("B2C", "Parent", "basic"), table.name
        assert numbers(company, table) == numbers(company), table.name
    assert sorted(numbers(company).values()) == [1, 2, 3]


def test_each_customer_keeps_a_number_of_their_own_across_loads(company: Engine) -> None:
    first = numbers(company)
    assert sorted(first.values()) == [1, 2, 3]  # numbered in the order of their keys: k1 1, k2 2, k3 3
    assert first == {"k1": 1, "k2": 2, "k3": 3}
    # a later load: k1 again (moved to B2B), two new customers (numbered after the others, in key order), and an
    # event of one of them
    put(
        company,
        customers=[person("k5", "B2C"), person("k1", "B2B"), person("k4", "B2B")],
        journey_events=[
            {"event_id": "e-k5", "customer_id": "k5", "stage_id": "s", "occurred_at": datetime(2025, 3, 1)}
        ],
    )
    assert numbers(company) == {"k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5}
    for table in schema.ATTRIBUTE_TABLES:  # every row carries its customer's number, old rows and new
        held = numbers(company, table)
        assert held == {c: n for c, n in numbers(company).items() if c in held}, table.name
    assert numbers(company, schema.journey_events)["k5"] == 5
    with store.connect(company) as conn:
        assert all(attributes.differing(conn, t) == 0 for t in schema.ATTRIBUTE_TABLES)


def test_the_sample_is_generated_with_its_copies(duck_url: str) -> None:
    engine = store.create_store_engine(duck_url)
    ingest.seed(engine, 2_000, 7)
    with store.connect(engine) as conn:
        for table in schema.ATTRIBUTE_TABLES:
            rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            empty = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.customer_segment.is_(None))
            ).scalar_one()
            assert rows > 0 and empty == 0 and attributes.differing(conn, table) == 0, table.name
        unnumbered = conn.execute(
            sa.select(sa.func.count()).where(attributes.unnumbered(schema.customers.c.customer_key))
        ).scalar_one()
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(schema.customers.c.customer_key)))).scalar_one()
        assert unnumbered == 0 and distinct == 2_000
    engine.dispose()


def test_an_earlier_versions_store_is_named_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'old.duckdb'}"
    engine = store.create_store_engine(url)
    ingest.seed(engine, 300, 3)
    made_before_the_copies(engine)
    engine.dispose()
    monkeypatch.setenv("CJM_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()  # a store the dashboard does not own: it says what to do
    assert not at.exception and not at.error
    assert any("made by an earlier version" in i.value and "init" in i.value for i in at.info)
    done = cli("kpis", "--db", url)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "data_access init" in done.stderr
    assert cli("init", "--db", url).returncode == 0
    assert cli("kpis", "--db", url).returncode == 0


def test_the_dashboards_own_store_is_brought_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.create_store_engine(f"duckdb:///{tmp_path / 'cjm.duckdb'}")
    ingest.seed(engine, 300, 3)
    made_before_the_copies(engine)
    engine.dispose()
    monkeypatch.delenv("CJM_DATABASE_URL", raising=False)
    monkeypatch.setenv("CJM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Overview" and len(at.metric) == 9
    engine = store.create_store_engine(f"duckdb:///{tmp_path / 'cjm.duckdb'}", read_only=True)
    assert store.outdated_tables(engine) == []
    engine.dispose()


def test_rows_written_around_a_load_get_their_copies_from_refresh(company: Engine, store_url: str) -> None:
    with store.connect(company, write=True) as conn:  # another tool writes an event straight into the store
        conn.execute(
            schema.journey_events.insert().values(
                event_id="other", customer_id="k3", stage_id="t", occurred_at=datetime(2025, 3, 1)
            )
        )
    b2b = Filters(segment=("B2B",))
    assert stage_counts(company, b2b, stored=False) == {"s": 1}  # a row without copies: no filter selects it
    done = cli("refresh", "--db", store_url)
    assert done.returncode == 0, done.stderr
    assert "journey_events: 1 rows given their customer's attributes" in done.stdout
    assert stage_counts(company, b2b, stored=False) == {"s": 1, "t": 1}


def test_bench_seeds_an_earlier_versions_store_again(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'bench.duckdb'}"
    engine = store.create_store_engine(url)
    ingest.seed(engine, 300, 42)
    made_before_the_copies(engine)
    engine.dispose()
    done = cli("bench", "--db", url, "--customers", "300", "--reuse", "--page", "Stage KPIs")
    assert done.returncode in (0, 1), done.stderr  # 1 would only mean a page over budget
    assert "seed:" in done.stdout and "Stage KPIs" in done.stdout
    engine = store.create_store_engine(url, read_only=True)
    assert store.outdated_tables(engine) == []
    engine.dispose()


def test_a_later_churn_date_reaches_every_row_and_the_figures_after_it(company: Engine) -> None:
    """The rows copy their customer's churn date too: reactivation (an event or an order after it) is read from the
    rows themselves, and follows a later customers load that gives k2 one."""

    def reactivated_in_february() -> int:
        with store.connect(company) as conn:
            frame = retention.churn_over_time(conn, Filters(), "month")
        return int(frame.filter(pl.col("period") == date(2025, 2, 1))["reactivated"].item())

    assert reactivated_in_february() == 0
    gone = person("k2", "B2C") | {"churned_at": datetime(2025, 1, 15)}  # before k2's event (Feb 1) and order (Feb 5)
    put(company, customers=[gone])
    churned = schema.CHURN_COPY_COLUMN
    with store.connect(company) as conn:
        for table in schema.ATTRIBUTE_TABLES:
            held = dict(conn.execute(sa.select(table.c.customer_id, table.c[churned]).distinct()).all())
            assert held == {"k1": None, "k2": datetime(2025, 1, 15), "k3": None}, table.name
        assert all(attributes.differing(conn, t) == 0 for t in schema.ATTRIBUTE_TABLES)
    assert reactivated_in_february() == 1  # k2, once, though both an event and an order came after


def test_a_later_signup_moves_the_orders_to_the_new_cohort(company: Engine) -> None:
    """The rows copy their customer's signup time too: the cohorts' revenue and repeat purchase group the orders by
    it, and follow a later customers load that moves k3 (B2B) from January's cohort to December's, out of the
    period of 2025."""
    in_2025 = Filters(period=Period.days(date(2025, 1, 1), date(2025, 12, 31)))

    def revenue_and_buyers() -> tuple[dict[date, float], dict[str, int]]:
        with store.connect(company) as conn:
            value = retention.revenue(conn, Filters(), "month")
            repeat = retention.repeat_purchase(conn, in_2025, by="segment")
        at_age_0 = value.filter(pl.col("age") == 0)
        return (
            dict(zip(at_age_0["cohort"], at_age_0["revenue"], strict=True)),
            dict(zip(repeat["segment"], repeat["buyers"], strict=True)),
        )

    assert revenue_and_buyers() == ({date(2025, 1, 1): 0.0}, {"B2B": 1, "B2C": 2})  # ordered in February: age 1
    moved = person("k3", "B2B", plan="pro") | {"signup_at": datetime(2024, 12, 20)}
    put(company, customers=[moved])
    signed_up = schema.attribute_column(schema.SIGNUP_COPY)
    with store.connect(company) as conn:
        for table in schema.ATTRIBUTE_TABLES:
            held = dict(conn.execute(sa.select(table.c.customer_id, table.c[signed_up]).distinct()).all())
            assert held == {"k1": datetime(2025, 1, 1), "k2": datetime(2025, 1, 1), "k3": datetime(2024, 12, 20)}
        assert all(attributes.differing(conn, t) == 0 for t in schema.ATTRIBUTE_TABLES)
    value, buyers = revenue_and_buyers()
    assert value == {date(2024, 12, 1): 0.0, date(2025, 1, 1): 0.0}
    assert buyers == {"B2C": 2}  # k3's order left with k3's cohort
    with store.connect(company) as conn:
        value = retention.revenue(conn, Filters(), "month")
    ages = dict(zip(zip(value["cohort"], value["age"], strict=True), value["revenue"], strict=True))
    assert ages[(date(2024, 12, 1), 2)] == 10.0  # k3's February order, two months after December
    assert ages[(date(2025, 1, 1), 1)] == 20.0  # k1's and k2's
