"""The first start: the sample company's store built whole in a file beside the store's, then renamed into place. No
one ever opens a half-built store: a build that stops half-way (a visitor who clicks away, a crash) leaves no store
behind, and a second visitor waits for the build under way instead of starting another or reading its half."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from data_access import store
from data_access.i18n import _
from data_access.loading.ingest import Progress, seed

BUILD_WAIT_SECONDS = 600.0  # how long a second visitor waits for a build under way before giving up


def build_sample_store(path: Path, customers: int, seed_value: int, progress: Progress, lang: str = "en") -> bool:
    """Makes ``path`` an embedded DuckDB store holding the sample company (``customers`` customers, its words in
    ``lang``), with its derived tables, unless it exists. True when this call built it; False when it was there, or
    another visitor built it while this one waited."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def busy() -> store.StoreBusy:
        return store.StoreBusy(
            _("The sample store {path} is still being created by another visitor; try again.").format(path=path)
        )

    # one build at a time, across threads and processes: a second visitor waits for the first one's store
    with store.file_lock(path.with_name(f".{path.name}.building"), BUILD_WAIT_SECONDS, busy):
        if path.exists():
            return False
        building = path.with_name(f".{path.name}.building-{uuid.uuid4().hex[:8]}")
        engine = store.create_store_engine(f"duckdb:///{building}")
        try:
            seed(engine, customers, seed_value, progress, lang)
            with store.connect(engine) as conn:  # every row in the file itself before it becomes the store
                conn.exec_driver_sql("CHECKPOINT")
            engine.dispose()
            os.replace(building, path)  # atomic: the store is missing or whole, never half-built
        finally:
            engine.dispose()
            for leftover in (building, building.with_name(building.name + ".wal")):
                leftover.unlink(missing_ok=True)
            building.with_name(f".{building.name}.writer").unlink(missing_ok=True)
    return True
