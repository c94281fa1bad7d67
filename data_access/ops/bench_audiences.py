"""``bench --audiences``: recomputing an audience of three leaves over the generated company, and every page with
that audience as its filter against the same page without it, as ratios measured in one run on one machine.

The audience: customers with a ticket in the last 90 days, no promoter answer (NPS 9-10) in the last 180, and no
journey event or order for 7 days or more, as of the end of the sample data. Each timing is cold: a new engine per
query, the same queries the pages run (``bench.QUERIES``)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from data_access import audiences, schema, store
from data_access.audiences import Audience
from data_access.config import StoreLocation
from data_access.filters import Filters
from data_access.ops import bench

KEY = "bench-three-leaves"
RULE = {
    "all": [
        {"tickets": {}, "window": {"last_days": 90}},
        {"not": {"answers": {"survey": "nps", "score": {"op": "gte", "value": 9}}, "window": {"last_days": 180}}},
        {"last_seen": {"days_ago": {"op": "gte", "value": 7}}},
    ]
}
RUNS = 3  # cold runs of each page with and without the audience, interleaved; the median of each is compared


def _page_ms(url: str, queries: list, filters: Filters) -> float:
    total = 0.0
    for _name, cold, _cached in queries:
        engine = store.create_store_engine(url, read_only=True)
        total += bench._time(lambda c=cold, e=engine: c(e, filters))
        engine.dispose()
    return total


def main(
    location: StoreLocation, customers: int, seed: int, *, reuse: bool, progress: Callable[[float, str], None]
) -> int:
    url = bench.seeded_store(location, customers, seed, reuse=reuse, progress=progress, title="Audiences benchmark")
    out = sys.stdout.write
    import scipy.stats  # noqa: F401 - loaded before the clock starts, as a server process has it

    engine = store.create_store_engine(url)
    audiences.add(engine, Audience(KEY, "Bench: three leaves", "bench", RULE))
    as_of = bench._AS_OF
    with store.connect(engine, write=True) as conn:  # start from no members: the first recompute enters them all
        for table in (schema.audience_members, schema.audience_state):
            if store.has_table(conn, table):
                store.delete_where(conn, table, table.c.audience == KEY)
    progress(0.3, "recomputing the audience")
    audiences.preview(engine, RULE, as_of)  # once before the clock: the store's file and the rule's tables read in
    count_ms = bench._time(lambda: audiences.preview(engine, RULE, as_of))
    first_ms = bench._time(lambda: audiences.recompute(engine, as_of, (KEY,)))
    again_ms = bench._time(lambda: audiences.recompute(engine, as_of, (KEY,)))
    chosen = audiences.choice(engine, KEY)
    engine.dispose()
    out(
        f"\naudience: {chosen.members:,} of {customers:,} customers ({chosen.members / customers:.1%})\n"
        f"{'count its members (one statement)':<44} {count_ms:>9.1f} ms\n"
        f"{'first recompute (every member enters)':<44} {first_ms:>9.1f} ms  "
        f"{first_ms / count_ms:.2f}x the count\n"
        f"{'recompute again (no change)':<44} {again_ms:>9.1f} ms  {again_ms / count_ms:.2f}x the count\n"
    )
    case, whole = next(iter(bench.FILTER_CASES.items()))
    narrowed = whole.with_audience(chosen)
    out(f"\npages over {case}\n")
    out(f"{'page (cold, with sidebar)':<24} {'all customers ms':>17} {'the audience ms':>16} {'ratio':>7}\n")
    sidebar = bench.PAGES[bench.SIDEBAR]
    ratios = []
    for i, (page, queries) in enumerate(bench.PAGES.items()):
        if page == bench.SIDEBAR:
            continue
        progress(0.4 + 0.6 * i / len(bench.PAGES), f"timing {page}")
        plain, filtered = [], []
        for _ in range(RUNS):
            plain.append(_page_ms(url, sidebar + queries, whole))
            filtered.append(_page_ms(url, sidebar + queries, narrowed))
        a, b = sorted(plain)[RUNS // 2], sorted(filtered)[RUNS // 2]
        ratios.append(b / a)
        out(f"{page:<24} {a:>17.1f} {b:>16.1f} {b / a:>6.2f}x\n")
    worst = max(ratios)
    out(f"\nan audience filter costs {min(ratios):.2f}x to {worst:.2f}x the same page over every customer\n")
    out(f"peak memory of the query process: {bench._peak_mb():,.0f} MB\n")
    progress(1.0, "audiences benchmark done")
    return 0
