"""``bench --sources``: loading product events through a source and the stage rules, against the plain contract
ingest of the same rows, in one run on one machine.

The generated company's journey events are written twice: as the contract's ``journey_events.csv`` and as a
PostHog export (``uuid``, ``event`` named by the product, ``distinct_id``, ``timestamp``) that the sample's stage
rules turn back into the same stages. Each is loaded, in a process of its own, into a copy of the same store (the
stages, the customers and the rules already in it); the two stores must then hold the same events."""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from data_access import schema, sources, store
from data_access.loading import ingest
from data_access.ops.bench import _in_child, _ingest_files

# the product's name for an event at each stage (the sample's stage rules map them back; a stage without a rule is
# named by its key, which is that stage)
PRODUCT_EVENTS = {
    "awareness": "ad_clicked",
    "consideration": "pricing_viewed",
    "decision": "checkout_completed",
    "onboarding": "onboarding_started",
    "regular_use": "report_exported",
    "support": "support_chat_opened",
    "churn_attempt": "cancel_flow_opened",
    "loyalty": "review_written",
}


def _contract_load(url: str, path: str, took: Any) -> None:
    started = time.perf_counter()  # the load alone: the process's start and imports are not the load's
    ingest.ingest(store.create_store_engine(url), [ingest.Source.from_path(Path(path))])
    took.value = time.perf_counter() - started


def _source_load(url: str, path: str, took: Any) -> None:
    started = time.perf_counter()
    engine = store.create_store_engine(url)
    sources.load(engine, sources.Mapping("posthog"), [ingest.Source.from_path(Path(path))], job="bench")
    took.value = time.perf_counter() - started


def _timed(target: Callable[..., None], url: str, path: str) -> tuple[float, float]:
    """(seconds of the load, peak MB of its process), run in a fresh process."""
    took = multiprocessing.get_context("spawn").Value("d", 0.0)
    _seconds, peak = _in_child(target, url, path, took)
    return took.value, peak


def _posthog_export(contract: Path, out: Path) -> int:
    events = pl.read_csv(contract, infer_schema=False)
    events.select(
        pl.col("event_id").alias("uuid"),
        pl.col("stage_id").replace(PRODUCT_EVENTS).alias("event"),
        pl.col("customer_id").alias("distinct_id"),
        (pl.col("occurred_at").str.replace(" ", "T") + "Z").alias("timestamp"),
    ).write_csv(out)
    return events.height


def _stage_counts(url: str) -> dict[str, int]:
    je = schema.journey_events
    with store.connect(store.create_store_engine(url, read_only=True)) as conn:
        rows = conn.execute(sa.select(je.c.stage_id, sa.func.count()).group_by(je.c.stage_id)).all()
    return {str(s): int(n) for s, n in rows}


def main(events: int, seed: int, progress: Callable[[str], None]) -> int:
    from sample_data import story

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        progress(f"generating about {events:,} journey events")
        _ingest_files(folder, seed, events)
        contract = folder / "journey_events.csv"
        pl.read_csv(contract, infer_schema=False).head(events).write_csv(contract)
        vendor = folder / "posthog_events.csv"
        rows = _posthog_export(contract, vendor)
        rules = pl.DataFrame(story.STAGE_RULES, schema=["event", "property", "value", "stage_id"], orient="row")
        rules.write_csv(folder / "stage_rules.csv")
        base = folder / "base.duckdb"
        ingest.ingest(
            store.create_store_engine(f"duckdb:///{base}"),
            [ingest.Source.from_path(folder / f"{t}.csv") for t in ("stages", "customers", "stage_rules")],
        )
        plain, through = folder / "plain.duckdb", folder / "source.duckdb"
        shutil.copyfile(base, plain)
        shutil.copyfile(base, through)
        progress(f"plain contract ingest of {rows:,} journey events")
        plain_s, plain_mb = _timed(_contract_load, f"duckdb:///{plain}", str(contract))
        progress(f"the same {rows:,} events as a PostHog export, through the source and the stage rules")
        source_s, source_mb = _timed(_source_load, f"duckdb:///{through}", str(vendor))
        same = _stage_counts(f"duckdb:///{plain}") == _stage_counts(f"duckdb:///{through}")
    ratio = source_s / plain_s
    sys.stdout.write(
        f"| load of {rows:,} journey events (DuckDB) | seconds | peak MB |\n|---|---:|---:|\n"
        f"| contract CSV, `ingest` | {plain_s:.1f} | {plain_mb:,.0f} |\n"
        f"| PostHog CSV, `ingest --source posthog` with stage rules | {source_s:.1f} | {source_mb:,.0f} |\n"
        f"| ratio (target at most 1.5x) | **{ratio:.2f}x** | |\n"
        f"\nthe same events per stage in both stores: {'yes' if same else 'NO'}\n"
    )
    return 0 if same else 1
