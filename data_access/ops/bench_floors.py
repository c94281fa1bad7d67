"""The benchmark's floors for the funnel: its counts with a window other than the stored one, timed against two
hand-written DuckDB queries for the same counts (see the comment below), with their ratio."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa

from data_access import store
from data_access.filters import Filters
from data_access.queries import funnel

# Hand-written floors for the funnel's counts with a window other than the stored one (DuckDB SQL, the sample's six
# funnel steps, values bound): the least a query can do for the same counts, written once by hand and not built by
# the code it measures. Range join: each step keeps the attempts still going, by a join and a MIN. ASOF: each step
# takes the next event of its stage at or after the last one by an ASOF join.
_FLOOR_STEP_EVENTS = """WITH
s0 AS (SELECT customer_id, epoch_ms(occurred_at) AS ms FROM journey_events
       WHERE stage_id = :s0 AND occurred_at >= :start AND occurred_at < :end),
s1 AS (SELECT customer_id, epoch_ms(occurred_at) AS ms FROM journey_events
       WHERE stage_id = :s1 AND occurred_at >= :start AND occurred_at < :end),
s2 AS (SELECT customer_id, epoch_ms(occurred_at) AS ms FROM journey_events
       WHERE stage_id = :s2 AND occurred_at >= :start AND occurred_at < :end),
s3 AS (SELECT customer_id, epoch_ms(occurred_at) AS ms FROM journey_events
       WHERE stage_id = :s3 AND occurred_at >= :start AND occurred_at < :end),
s4 AS (SELECT customer_id, epoch_ms(occurred_at) AS ms FROM journey_events
       WHERE stage_id = :s4 AND occurred_at >= :start AND occurred_at < :end),
s5 AS (SELECT customer_id, epoch_ms(occurred_at) AS ms FROM journey_events
       WHERE stage_id = :s5 AND occurred_at >= :start AND occurred_at < :end),
"""
FLOOR_RANGE_JOIN = (
    _FLOOR_STEP_EVENTS
    + """a0 AS (SELECT customer_id, ms AS t0, ms AS last FROM s0),
a1 AS (SELECT a.customer_id, a.t0, min(s.ms) AS last FROM a0 a JOIN s1 s
       ON s.customer_id = a.customer_id AND s.ms >= a.last AND s.ms <= a.t0 + :window GROUP BY a.customer_id, a.t0),
a2 AS (SELECT a.customer_id, a.t0, min(s.ms) AS last FROM a1 a JOIN s2 s
       ON s.customer_id = a.customer_id AND s.ms >= a.last AND s.ms <= a.t0 + :window GROUP BY a.customer_id, a.t0),
a3 AS (SELECT a.customer_id, a.t0, min(s.ms) AS last FROM a2 a JOIN s3 s
       ON s.customer_id = a.customer_id AND s.ms >= a.last AND s.ms <= a.t0 + :window GROUP BY a.customer_id, a.t0),
a4 AS (SELECT a.customer_id, a.t0, min(s.ms) AS last FROM a3 a JOIN s4 s
       ON s.customer_id = a.customer_id AND s.ms >= a.last AND s.ms <= a.t0 + :window GROUP BY a.customer_id, a.t0),
a5 AS (SELECT a.customer_id, a.t0, min(s.ms) AS last FROM a4 a JOIN s5 s
       ON s.customer_id = a.customer_id AND s.ms >= a.last AND s.ms <= a.t0 + :window GROUP BY a.customer_id, a.t0)
SELECT (SELECT count(DISTINCT customer_id) FROM a0), (SELECT count(DISTINCT customer_id) FROM a1),
       (SELECT count(DISTINCT customer_id) FROM a2), (SELECT count(DISTINCT customer_id) FROM a3),
       (SELECT count(DISTINCT customer_id) FROM a4), (SELECT count(DISTINCT customer_id) FROM a5)"""
)
FLOOR_ASOF = (
    _FLOOR_STEP_EVENTS
    + """b0 AS (SELECT customer_id, ms AS t0, ms AS last, 1 AS depth FROM s0),
b1 AS (SELECT b.customer_id, b.t0, CASE WHEN s.ms <= b.t0 + :window THEN s.ms END AS last,
       b.depth + CASE WHEN s.ms <= b.t0 + :window THEN 1 ELSE 0 END AS depth
       FROM b0 b ASOF LEFT JOIN s1 s ON s.customer_id = b.customer_id AND s.ms >= b.last),
b2 AS (SELECT b.customer_id, b.t0, CASE WHEN s.ms <= b.t0 + :window THEN s.ms END AS last,
       b.depth + CASE WHEN s.ms <= b.t0 + :window THEN 1 ELSE 0 END AS depth
       FROM b1 b ASOF LEFT JOIN s2 s ON s.customer_id = b.customer_id AND s.ms >= b.last),
b3 AS (SELECT b.customer_id, b.t0, CASE WHEN s.ms <= b.t0 + :window THEN s.ms END AS last,
       b.depth + CASE WHEN s.ms <= b.t0 + :window THEN 1 ELSE 0 END AS depth
       FROM b2 b ASOF LEFT JOIN s3 s ON s.customer_id = b.customer_id AND s.ms >= b.last),
b4 AS (SELECT b.customer_id, b.t0, CASE WHEN s.ms <= b.t0 + :window THEN s.ms END AS last,
       b.depth + CASE WHEN s.ms <= b.t0 + :window THEN 1 ELSE 0 END AS depth
       FROM b3 b ASOF LEFT JOIN s4 s ON s.customer_id = b.customer_id AND s.ms >= b.last),
b5 AS (SELECT b.customer_id, b.t0, CASE WHEN s.ms <= b.t0 + :window THEN s.ms END AS last,
       b.depth + CASE WHEN s.ms <= b.t0 + :window THEN 1 ELSE 0 END AS depth
       FROM b4 b ASOF LEFT JOIN s5 s ON s.customer_id = b.customer_id AND s.ms >= b.last),
d AS (SELECT customer_id, max(depth) AS depth FROM b5 GROUP BY customer_id)
SELECT count(*) FILTER (WHERE depth >= 1), count(*) FILTER (WHERE depth >= 2), count(*) FILTER (WHERE depth >= 3),
       count(*) FILTER (WHERE depth >= 4), count(*) FILTER (WHERE depth >= 5), count(*) FILTER (WHERE depth >= 6)
FROM d"""
)
FLOOR_STEPS = 6
FLOOR_RUNS = 3  # interleaved cold runs per formulation; the median of each is compared


def _floor_counts(url: str, sql: str, spec: funnel.FunnelSpec, filters: Filters) -> list[int]:
    engine = store.create_store_engine(url, read_only=True)
    values: dict[str, object] = {f"s{k}": stage for k, stage in enumerate(spec.steps)}
    values |= {"start": filters.period.start, "end": filters.period.end, "window": spec.window_seconds * 1000}
    try:
        with store.connect(engine) as conn:
            return [int(v) for v in conn.execute(sa.text(sql), values).one()]
    finally:
        engine.dispose()


def against_floors(url: str, spec: funnel.FunnelSpec, filters: Filters, out: Callable[[str], object]) -> None:
    """The funnel's counts with ``spec`` (a window other than the stored one), cold, against the hand-written floors:
    medians of interleaved runs (``filters``: all data, no customer filter, as the floors have none), and their
    ratio. The counts must agree."""
    window = funnel.format_window(spec.window_seconds)
    out(f"\nfunnel counts, {window} window (not the stored one), all data, cold, median of {FLOOR_RUNS} runs\n")

    def ours() -> list[int]:
        engine = store.create_store_engine(url, read_only=True)
        with store.connect(engine) as conn:
            counts = funnel.steps(conn, spec, filters)["customers"].to_list()
        engine.dispose()
        return counts

    mine = "the dashboard's query"
    runs: dict[str, Callable[[], list[int]]] = {mine: ours}
    duckdb = sa.engine.make_url(url).get_backend_name() == "duckdb"
    if duckdb and len(spec.steps) == FLOOR_STEPS and filters.period.end is not None:
        runs["floor: range join"] = lambda: _floor_counts(url, FLOOR_RANGE_JOIN, spec, filters)
        runs["floor: ASOF join"] = lambda: _floor_counts(url, FLOOR_ASOF, spec, filters)
    else:
        out("  (the hand-written floors are DuckDB SQL for the sample's six funnel steps: not run here)\n")
    times: dict[str, list[float]] = {name: [] for name in runs}
    counts: dict[str, list[int]] = {}
    stopped: dict[str, str] = {}  # a formulation the store stopped (its statement timeout) is not run again
    for _ in range(FLOOR_RUNS):
        for name, run in runs.items():
            if name in stopped:
                continue
            started = time.perf_counter()
            try:
                counts[name] = run()
            except store.StoreError as exc:
                stopped[name] = str(exc).splitlines()[0]
                continue
            times[name].append((time.perf_counter() - started) * 1000)
    for name, why in stopped.items():
        out(f"  {name:<24} stopped: {why}\n")
        times.pop(name)
    if mine not in times:
        return
    medians = {name: statistics.median(t) for name, t in times.items()}
    floors = [m for name, m in medians.items() if name.startswith("floor")]
    for name, median in medians.items():
        agree = "" if counts[name] == counts[mine] else "  COUNTS DIFFER"
        out(f"  {name:<24} {median:>9.1f} ms  ({', '.join(f'{t:.0f}' for t in times[name])}){agree}\n")
    if floors:
        out(f"  {mine} / the faster floor: {medians[mine] / min(floors):.2f}x\n")
