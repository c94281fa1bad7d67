"""The benchmark's clock: every timed page's queries under each filter case, cold, warm and cached, against the
budgets, on one store or on two taken in turn.

With two stores (``bench --against URL``) each query's cold runs alternate between them, run for run, and so do the
warm and cached ones: a slow minute on a shared machine then falls on both stores alike instead of on whichever was
being timed, and the ratio of the two is what it measures. Timed one store after the other, minutes apart, the same
code's chDB/DuckDB ratio moved by up to 20% from run to run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import sqlalchemy as sa

from data_access import store
from data_access.filters import Filters
from data_access.ops import bench_ratios
from data_access.store import clickhouse

SIDEBAR = "Sidebar (every page)"
CACHED_BUDGET_MS = 50.0
COLD_RUNS = 3  # a query's cold time is the median of this many runs, each on a new engine
FUNNEL_BUDGET_MS = 2000.0  # the funnel's own budget (issue 3): all steps with the previous period, cold
Timings = dict[str, dict[str, dict[str, tuple[float, float, float]]]]  # case > page > query > (cold, warm, cached)


def elapsed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


@contextmanager
def _held(url: str) -> Iterator[None]:
    """chDB's embedded server starts once per process and stops when its last connection closes: held up for the
    timing by one idle connection, as the dashboard's long-lived engine holds it, so that each cold run's new engine
    does not start it again (about 100 ms at 1M, which the first filter case's sidebar paid on every page). Not
    DuckDB's file: a connection held open would keep its database instance, and cold would no longer mean nothing
    cached."""
    if not clickhouse.is_clickhouse(sa.make_url(url).get_backend_name()):
        yield
        return
    keeper = store.create_store_engine(url, read_only=True)
    held = keeper.connect()
    try:
        yield
    finally:
        held.close()
        keeper.dispose()


Three = tuple[float, float, float]


def _query(urls: list[str], cold: Callable, cached: Callable, filters: Filters) -> dict[str, Three]:
    """One query on each store: (cold, warm, cached) ms, the stores taking turns run by run."""
    colds: dict[str, list[float]] = {url: [] for url in urls}
    engines = {}
    for run in range(COLD_RUNS):
        for url in urls:
            engine = store.create_store_engine(url, read_only=True)
            colds[url].append(elapsed_ms(lambda e=engine: cold(e, filters)))
            if run < COLD_RUNS - 1:
                engine.dispose()
            else:
                engines[url] = engine
    warm = {url: elapsed_ms(lambda e=engine: cold(e, filters)) for url, engine in engines.items()}
    for engine in engines.values():
        engine.dispose()
    for url in urls:
        cached(url, filters)  # fill the cache
    cached_ms = {url: elapsed_ms(lambda u=url: cached(u, filters)) for url in urls}
    return {url: (statistics.median(colds[url]), warm[url], cached_ms[url]) for url in urls}


def measure(urls: list[str], timed: dict, cases: dict[str, Filters]) -> dict[str, Timings]:
    """Each store's (cold, warm, cached) ms per filter case, page and query. Cold: the median of :data:`COLD_RUNS`
    runs, each on a new engine; warm: the same call again on the last of them (the database's caches are warm);
    cached: the second call through the dashboard's cache. The stores take turns run by run."""
    found: dict[str, Timings] = {url: {} for url in urls}
    with ExitStack() as holding:
        for url in urls:
            holding.enter_context(_held(url))
        for case, filters in cases.items():
            for page, queries in timed.items():
                for name, cold, cached in queries:
                    for url, ms in _query(urls, cold, cached, filters).items():
                        found[url].setdefault(case, {}).setdefault(page, {})[name] = ms
    return found


def report(timings: Timings, cold_budget: float, out: Callable[[str], object]) -> tuple[int, bench_ratios.Totals]:
    """One store's timings as tables against the budgets: (failures, each page's cold ms with the sidebar, per
    case)."""
    failures, totals = 0, {}
    for case, pages in timings.items():
        out(f"\nqueries, filters: {case}\n")
        totals[case] = {}
        out(f"{'page':<22} {'query':<18} {'cold ms':>9} {'warm ms':>9} {'cached ms':>10}\n")
        sidebar = (0.0, 0.0, 0.0)
        for page, queries in pages.items():
            for name, (cold_ms, warm_ms, cached_ms) in queries.items():
                out(f"{page:<22} {name:<18} {cold_ms:>9.1f} {warm_ms:>9.1f} {cached_ms:>10.2f}\n")
            cold_total, warm_total, cached_total = (sum(t[i] for t in queries.values()) for i in range(3))
            if page == SIDEBAR:
                sidebar = (cold_total, warm_total, cached_total)
                continue
            if page == "Funnel":
                both = sum(queries[n][0] for n in ("steps", "steps, previous"))
                ok = both < FUNNEL_BUDGET_MS
                failures += not ok
                out(
                    f"{page:<22} {'= steps + previous':<18} {both:>9.1f} {'':>9} {'':>10}  "
                    f"{'within' if ok else 'OVER'} the funnel's budget ({FUNNEL_BUDGET_MS:.0f} ms cold)\n"
                )
            cold_total, warm_total, cached_total = (
                a + b for a, b in zip((cold_total, warm_total, cached_total), sidebar, strict=True)
            )
            whole = page == "Funnel"  # judged above on its own budget; every section's total is information
            ok = (whole or cold_total < cold_budget) and cached_total < CACHED_BUDGET_MS
            failures += not ok
            verdict = "within" if ok else "OVER"
            budget = (
                f"{verdict} budget ({CACHED_BUDGET_MS:.0f} ms cached; every section cold, for information)"
                if whole
                else f"{verdict} budget ({cold_budget:.0f} ms cold, {CACHED_BUDGET_MS:.0f} ms cached)"
            )
            shown = f"{cold_total:>9.1f} {warm_total:>9.1f} {cached_total:>10.2f}"
            out(f"{page:<22} {'= with sidebar':<18} {shown}  {budget}\n")
            totals[case][page] = cold_total
    return failures, totals
