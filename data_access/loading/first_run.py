"""The first start: the sample company's store built whole in a file beside the store's, then renamed into place. No
one ever opens a half-built store: a build that stops half-way (a visitor who clicks away, a crash) leaves no store
behind, and a second visitor waits for the build under way instead of starting another or reading its half."""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from data_access import store
from data_access.i18n import _
from data_access.loading.ingest import Progress, seed

BUILD_WAIT_SECONDS = 600.0  # how long a second visitor waits for a build under way before giving up


@contextmanager
def _one_builder(path: Path) -> Iterator[None]:
    """One build of ``path`` at a time, across threads and processes (a lock file beside it)."""
    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    with open(path.with_name(f".{path.name}.building"), "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise store.StoreBusy(
                        _("The sample store {path} is still being created by another visitor; try again.").format(
                            path=path
                        )
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_sample_store(path: Path, customers: int, seed_value: int, progress: Progress, lang: str = "en") -> bool:
    """Makes ``path`` an embedded DuckDB store holding the sample company (``customers`` customers, its words in
    ``lang``), with its derived tables, unless it exists. True when this call built it; False when it was there, or
    another visitor built it while this one waited."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _one_builder(path):
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
