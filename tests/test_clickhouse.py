"""ClickHouse's own parts: the tables' DDL (single node and cluster), loads that land whole or not at all on chDB,
and the same figures as DuckDB on the sample company. The store-contract tests run on chDB too (conftest)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from data_access import schema, store
from data_access.filters import Filters
from data_access.loading import ingest
from data_access.queries import funnel, kpis, retention, risk, support
from data_access.store import clickhouse
from data_access.store.dialect import epoch_ms, period_start
from sample_data.story import FUNNEL
from tests.conftest import CHDB_FOLDER, _keep_chdb_up
from tests.test_cli import cli
from tests.test_pages import APP, PAGES


def test_single_node_tables_fit_the_queries() -> None:
    [events] = clickhouse.create_table_ddl(schema.journey_events)
    assert "ENGINE = MergeTree\nORDER BY (`customer_id`, `occurred_at`, `event_id`)" in events
    assert "`stage_id` LowCardinality(String)" in events
    assert "`occurred_at` DateTime64(6)" in events
    assert "`touchpoint` LowCardinality(Nullable(String))" in events  # optional in the contract
    assert "`action` LowCardinality(Nullable(String))" in events  # free text, in practice a few event names
    assert "`event_id` String," in events  # made up when absent, never null when stored
    [answers] = clickhouse.create_table_ddl(schema.survey_responses)
    assert "ORDER BY (`responded_at`, `response_id`)" in answers
    assert "`comment` Nullable(String)" in answers  # free text of any length stays plain
    [tickets] = clickhouse.create_table_ddl(schema.tickets)
    assert "ORDER BY (`opened_at`, `ticket_id`)" in tickets
    assert "`csat` Nullable(Int32)" in tickets and "`bot_resolved` Bool" in tickets
    [rules] = clickhouse.create_table_ddl(schema.alert_rules)
    assert rules.endswith(clickhouse.UPDATABLE)  # updated in place by the Alerts page
    assert "LowCardinality" not in rules  # the app's own tables keep plain strings


def test_cluster_tables_shard_by_customer_and_replicate_the_rest() -> None:
    statements = clickhouse.cluster_ddl("cjm_cluster", database="cjm")
    by_table = {s.split("`cjm`.`")[1].split("`")[0]: s for s in statements}
    # a customer's rows: a replicated local table per shard and a Distributed table over them
    local, distributed = by_table["journey_events_local"], by_table["journey_events"]
    assert "ON CLUSTER `cjm_cluster`" in local
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/journey_events_local', '{replica}')" in local
    assert "ORDER BY (`customer_id`, `occurred_at`, `event_id`)" in local
    assert distributed.endswith(
        "ENGINE = Distributed(`cjm_cluster`, 'cjm', 'journey_events_local', cityHash64(`customer_id`))"
    )
    sharded = {t.name for t in schema.metadata.sorted_tables if "customer_id" in t.c}
    assert sharded == {
        "customers",
        "journey_events",
        "survey_responses",
        "tickets",
        "orders",
        "offers",
        "experiments",
        "funnel_attempts",
        "stage_customers",
        "customer_activity",
        "audience_members",  # an audience's members: each with its customer
        "audience_pushes",  # and the messages about them
    }
    for name in sharded:
        assert f"{name}_local" in by_table and "Distributed(" in by_table[name]
    # no customers: one replicated table whose replicas are every node, so each shard joins a whole copy
    stages = by_table["stages"]
    assert "ReplicatedMergeTree('/clickhouse/tables/all/{database}/stages', '{replica}')" in stages
    assert "stages_local" not in by_table and "Distributed" not in stages
    assert len(statements) == len(schema.metadata.sorted_tables) + len(sharded)
    with pytest.raises(ValueError, match="not a cluster name"):
        clickhouse.cluster_ddl("x; DROP TABLE y")


def test_init_cluster_prints_its_ddl_and_refuses_other_stores(tmp_path) -> None:
    printed = cli("init", "--cluster", "cjm_cluster", "--print", "--db", "clickhousedb://u:secret@ch1:8123/cjm")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.count("ON CLUSTER `cjm_cluster`") == len(clickhouse.cluster_ddl("c"))
    assert "secret" not in printed.stdout
    refused = cli("init", "--cluster", "cjm_cluster", "--db", f"duckdb:///{tmp_path / 'x.duckdb'}")
    assert refused.returncode != 0 and "needs a ClickHouse server URL" in refused.stderr


SAMPLE_PAIR = f"chdb:///{CHDB_FOLDER}?database=sample_pair"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[sa.Engine, sa.Engine]:
    """The same 1,500-customer sample company in DuckDB and in chDB."""
    _keep_chdb_up()
    duck = f"duckdb:///{tmp_path_factory.mktemp('duck') / 'store.duckdb'}"
    chdb = SAMPLE_PAIR
    engines = []
    for url in (duck, chdb):
        engine = store.create_store_engine(url)
        ingest.seed(engine, 1_500, 7)
        engines.append(engine)
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()


def _same(duck: pl.DataFrame, chdb: pl.DataFrame) -> None:
    assert duck.columns == chdb.columns
    assert duck.height == chdb.height and duck.height > 0
    for column in duck.columns:
        a, b = duck[column], chdb[column]
        if a.dtype.is_float() or b.dtype.is_float():
            diff = (a.cast(pl.Float64) - b.cast(pl.Float64)).abs().fill_null(0).max()
            assert diff is None or diff < 1e-9, column
            assert a.null_count() == b.null_count(), column
        else:
            assert a.cast(pl.String).to_list() == b.cast(pl.String).to_list(), column


def test_the_sample_gives_duckdbs_figures_on_chdb(pair: tuple[sa.Engine, sa.Engine]) -> None:
    as_of = store.time_range(pair[0])[1]
    stored = funnel.FunnelSpec(tuple(FUNNEL), funnel.parse_window(funnel.DEFAULT_WINDOW))  # from funnel_attempts
    live = funnel.FunnelSpec(("awareness", "consideration", "decision"), funnel.parse_window("30d"))
    b2b = Filters(segment=("B2B",))
    queries = {
        "kpis": lambda c: kpis.stage_kpis_on(c, Filters()),
        "kpis B2B": lambda c: kpis.stage_kpis_on(c, b2b),
        "funnel (stored)": lambda c: funnel.reach_and_time(c, stored, Filters()),
        "funnel (live)": lambda c: funnel.reach_and_time(c, live, b2b),
        "funnel by channel": lambda c: funnel.breakdown(c, live, Filters(), "channel").sort(pl.all()),
        # every step's times in one row of -If combinators on ClickHouse, grouped per step elsewhere
        "time to convert (stored)": lambda c: funnel.time_to_convert(c, stored, Filters()),
        "time to convert (live, B2B)": lambda c: funnel.time_to_convert(c, live, b2b),
        # the counts alone: windowFunnel on ClickHouse, the attempts kept per step on DuckDB
        "funnel steps (live)": lambda c: funnel.steps(c, funnel.FunnelSpec(tuple(FUNNEL), live.window_seconds), b2b),
        "funnel steps (live, all)": lambda c: funnel.steps(
            c, funnel.FunnelSpec(tuple(FUNNEL), live.window_seconds), Filters()
        ),
        "funnel by segment (stored)": lambda c: funnel.breakdown(c, stored, Filters(), "segment").sort(pl.all()),
        "support": lambda c: support.lines(c, Filters()),
        "retention": lambda c: retention.cohorts(c, Filters(), "month", "in").sort("cohort", "age"),
        "at risk": lambda c: risk.at_risk(c, Filters(), as_of).sort("customer_id"),
    }
    for name, query in queries.items():
        frames = []
        for engine in pair:
            with store.connect(engine) as conn:
                frames.append(query(conn))
        try:
            _same(*frames)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


def test_the_ordered_funnel_groups_in_the_events_order_on_clickhouse_only() -> None:
    spec = funnel.FunnelSpec(tuple(FUNNEL), funnel.parse_window("30d"))
    for name in ("chdb", "duckdb"):
        sql = str(funnel.counts_query(spec, Filters(), dialect=name).compile(dialect=_dialect(name)))
        assert sql.rstrip().endswith("SETTINGS optimize_aggregation_in_order = 1") is (name == "chdb"), name
    stored = str(funnel.counts_query(spec, Filters(), stored=True, dialect="chdb").compile(dialect=_dialect("chdb")))
    assert "optimize_aggregation_in_order" not in stored  # the stored attempts are read by time, grouped by hash


def _dialect(name: str) -> sa.Dialect:
    return sa.dialects.registry.load(name)()  # the dialect alone: no engine, no embedded server


def test_a_refused_load_leaves_chdb_as_it_was(pair: tuple[sa.Engine, sa.Engine]) -> None:
    engine = pair[1]
    before = store.row_counts(engine)
    good = ingest.typed_frame("customers", [dict(r) for r in _one_customer()])
    orphan = ingest.typed_frame(
        "journey_events",
        [
            {
                "event_id": "E-x",
                "customer_id": "nobody",
                "stage_id": "awareness",
                "occurred_at": _one_customer()[0]["signup_at"],
            }
        ],
    )
    with pytest.raises(ingest.LoadRejected) as refused:
        ingest.write(engine, [("customers", good), ("journey_events", orphan)], mode="append")
    assert "nobody" in refused.value.report()
    assert store.row_counts(engine) == before
    with store.connect(engine) as conn:
        staging = conn.exec_driver_sql("SELECT count() FROM system.databases WHERE name LIKE 'cjm_staging_%'").scalar()
    assert staging == 0  # the staging copies went with the refusal


def _sorting_key(conn: sa.Connection, table: str) -> str:
    return conn.exec_driver_sql(
        f"SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = '{table}'"
    ).scalar_one()


def test_a_store_sorted_by_an_earlier_version_still_loads_and_takes_the_new_key_on_refresh(
    pair: tuple[sa.Engine, sa.Engine],
) -> None:
    engine = pair[1]
    with store.connect(engine) as conn:  # funnel_attempts as the version before sorted it: by customer
        conn.exec_driver_sql(
            "CREATE TABLE fa_then AS funnel_attempts ENGINE = MergeTree ORDER BY (customer_id, entered_at)"
        )
        conn.exec_driver_sql("INSERT INTO fa_then SELECT * FROM funnel_attempts")
        conn.exec_driver_sql("EXCHANGE TABLES funnel_attempts AND fa_then")
        conn.exec_driver_sql("DROP TABLE fa_then")
        assert _sorting_key(conn, "funnel_attempts") == "customer_id, entered_at"
        spec = funnel.FunnelSpec(tuple(FUNNEL), funnel.parse_window(funnel.DEFAULT_WINDOW))
        steps = funnel.steps(conn, spec, Filters())
        first = conn.execute(sa.select(sa.func.min(schema.customers.c.customer_id))).scalar_one()
    # a load stages every table it touches as it is (ATTACH PARTITION needs the copy sorted like the original)
    again = [dict(r, customer_id=first) for r in _one_customer()]  # a customer sent again: no row more
    ingest.write(engine, [("customers", ingest.typed_frame("customers", again))], mode="append")
    # and the refresh builds the derived table again with this version's key
    done = cli("refresh", "--db", SAMPLE_PAIR)
    assert done.returncode == 0, done.stderr
    with store.connect(engine) as conn:
        assert _sorting_key(conn, "funnel_attempts") == ", ".join(clickhouse.ORDER_BY["funnel_attempts"])
        assert clickhouse.ORDER_BY["funnel_attempts"][0] == "entered_at"  # read by a period of first steps
        assert_frame_equal(funnel.steps(conn, spec, Filters()), steps)


def _one_customer() -> list[dict]:
    from datetime import datetime

    return [
        {
            "customer_id": "C-new",
            "signup_at": datetime(2026, 1, 5, 10, 0, 0, 250_000),
            "segment": "B2C",
            "channel": "ads",
            "region": "EU",
            "plan": "basic",
        }
    ]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_chdb(
    pair: tuple[sa.Engine, sa.Engine], page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", SAMPLE_PAIR)
    app = AppTest.from_file(APP, default_timeout=60).run()
    if page != PAGES[0]:
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.title[0].value


def test_chdb_results_come_as_arrow_in_the_types_of_the_cursors_rows(pair: tuple[sa.Engine, sa.Engine]) -> None:
    """fetch_frame on chDB reads Arrow instead of the DB-API cursor's rows: same values, same Polars types, the
    parameters bound as the cursor binds them, errors raised as the driver's, and the connection left as it was."""
    ev, tk, od = schema.journey_events.c, schema.tickets.c, schema.orders.c
    since = datetime(2025, 3, 1, 12, 30, 15, 250_000)  # microseconds in a bound timestamp
    stages = ["awareness", "decision", "onboarding"]  # an expanding IN list
    events = (
        sa.select(
            ev.stage_id,  # LowCardinality
            sa.func.count().label("events"),  # UInt64
            sa.func.count(sa.distinct(ev.customer_id)).label("customers"),
            sa.func.min(ev.occurred_at).label("first"),  # DateTime64(6)
            sa.func.max(ev.touchpoint).label("touchpoint"),  # Nullable
            period_start(sa.func.min(ev.occurred_at), "month").label("month"),  # a date
            sa.func.avg(epoch_ms(ev.occurred_at) % 1000).label("ms"),  # Float64
            sa.cast(sa.null(), sa.String).label("nothing"),  # no value at all
        )
        .where(ev.occurred_at >= since, ev.stage_id.in_(stages))
        .group_by(ev.stage_id)
        .order_by(ev.stage_id)
    )
    tickets = (
        sa.select(tk.bot_resolved, sa.func.sum(tk.csat).label("csat"), sa.func.max(tk.resolved_at).label("resolved"))
        .group_by(tk.bot_resolved)
        .order_by(tk.bot_resolved)
    )
    money = sa.select(sa.func.sum(od.amount).label("revenue"), sa.func.max(od.ordered_at).label("last"))
    nothing = sa.select(ev.customer_id, ev.occurred_at).where(ev.stage_id == "no such stage")
    chdb = pair[1]
    with store.connect(chdb) as conn:
        for stmt, overrides in ((events, {}), (tickets, {}), (money, {}), (nothing, {"customer_id": pl.String})):
            by_rows = store.rows_frame(conn.execute(stmt), overrides)
            by_arrow = store.fetch_frame(conn, stmt, overrides)
            assert_frame_equal(by_arrow, by_rows)
        got = store.fetch_frame(conn, events)
        assert got["stage_id"].to_list() == stages and got["events"].min() > 0
        assert got["first"].min() >= since
        with pytest.raises(sa.exc.DBAPIError, match="boom"):
            store.fetch_frame(conn, sa.select(sa.func.throwIf(sa.literal(1), sa.literal("boom"))))
        # the option was this statement's only: the next ones run through the cursor as before
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar_one() == 1_500


def test_chdb_groupings_and_sorts_spill_beyond_their_share_of_the_bounds(pair: tuple[sa.Engine, sa.Engine]) -> None:
    """The embedded server runs in the dashboard's process: a page's groupings and sorts spill to disk beyond half
    of its share of CJM_READ_MEMORY_MB (its statements run two at a time), a load's beyond half of
    CJM_WRITE_MEMORY_MB."""
    asked = "SELECT getSetting('max_bytes_before_external_group_by'), getSetting('max_bytes_before_external_sort')"
    reader = store.create_store_engine(SAMPLE_PAIR, read_only=True)
    with store.connect(reader) as conn:
        read = tuple(int(v) for v in conn.exec_driver_sql(asked).one())
    reader.dispose()
    with store.connect(pair[1]) as conn:
        written = tuple(int(v) for v in conn.exec_driver_sql(asked).one())
    share = store.engine.SETTINGS.read_memory_mb // store.engine.PARALLEL_QUERIES
    assert read == (share * 1_000_000 // 2,) * 2 == (768_000_000,) * 2  # the default 3,072 MB, two at a time
    assert written == (store.engine.SETTINGS.write_memory_mb * 1_000_000 // 2,) * 2 == (1_024_000_000,) * 2
