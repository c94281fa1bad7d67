"""Where the store is and the settings that shape every query (no magic numbers elsewhere)."""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_URL = "CJM_DATABASE_URL"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Tunable limits. Each can be set by the environment variable named in the README."""

    min_n: int = _env_int("CJM_MIN_N", 30)  # below this a figure is "not enough data"
    first_run_customers: int = _env_int("CJM_SAMPLE_CUSTOMERS", 3000)  # size of the first-run sample store
    cache_ttl_seconds: int = _env_int("CJM_CACHE_TTL", 600)
    cache_max_entries: int = _env_int("CJM_CACHE_MAX_ENTRIES", 64)
    lock_timeout_seconds: float = _env_float("CJM_LOCK_TIMEOUT", 15.0)  # waiting for a DuckDB file lock
    ingest_chunk_rows: int = _env_int("CJM_INGEST_CHUNK_ROWS", 200_000)
    export_row_limit: int = _env_int("CJM_EXPORT_ROW_LIMIT", 100_000)  # rows in a list of customers to download
    max_errors_shown: int = 20  # validation errors listed per load (the total is always given)
    access_ttl_seconds: int = _env_int("CJM_ACCESS_TTL", 30)  # a grant or revoke takes effect within this
    require_login: bool = os.environ.get("CJM_REQUIRE_LOGIN", "") in ("1", "true", "yes")
    upload_max_mb: int = _env_int("CJM_UPLOAD_MAX_MB", 200)  # a larger upload is refused before it is read
    statement_timeout_seconds: float = _env_float("CJM_STATEMENT_TIMEOUT", 60.0)  # a dashboard query is stopped
    live_refresh_seconds: int = _env_int("CJM_LIVE_REFRESH", 30)  # the Support page's live panel redraws this often
    # memory the embedded DuckDB may use for the dashboard's queries; beyond it joins and groupings spill to disk
    read_memory_mb: int = _env_int("CJM_READ_MEMORY_MB", 3072)
    # the same for loads, seeding and the derived tables' builds (an embedded DuckDB or chDB)
    write_memory_mb: int = _env_int("CJM_WRITE_MEMORY_MB", 2048)


SETTINGS = Settings()


@dataclass(frozen=True)
class StoreLocation:
    url: str
    source: str  # "--db", "CJM_DATABASE_URL", ".streamlit/secrets.toml" or "embedded default"

    @property
    def is_default(self) -> bool:
        return self.source == "embedded default"


def default_store_path() -> Path:
    """The embedded store: ``data/cjm.duckdb`` in the project, or in ``CJM_DATA_DIR`` when that is set."""
    return Path(os.environ.get("CJM_DATA_DIR") or ROOT / "data") / "cjm.duckdb"


def default_url() -> str:
    return f"duckdb:///{default_store_path()}"


def secrets_file() -> Path | None:
    """The secrets file Streamlit reads too: ``.streamlit/secrets.toml`` in the working folder, else in the home
    folder (``CJM_SECRETS_FILE`` names another one, for the command line and cron)."""
    named = os.environ.get("CJM_SECRETS_FILE")
    if named:
        return Path(named)
    for path in (Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        if path.is_file():
            return path
    return None


def read_secrets() -> dict:
    """The secrets file's contents ({} without one)."""
    path = secrets_file()
    if path is None or not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _secrets_url() -> tuple[str, str] | None:
    url = read_secrets().get("connections", {}).get("cjm", {}).get("url")
    return (str(url), str(secrets_file())) if url else None


def resolve_store(cli_url: str | None = None) -> StoreLocation:
    """--db, else CJM_DATABASE_URL, else .streamlit/secrets.toml [connections.cjm] url, else the embedded file."""
    if cli_url:
        return StoreLocation(cli_url, "--db")
    env = os.environ.get(ENV_URL)
    if env:
        return StoreLocation(env, ENV_URL)
    found = _secrets_url()
    if found:
        return StoreLocation(found[0], found[1])
    return StoreLocation(default_url(), "embedded default")


def parse_every(text: str) -> timedelta:
    """``15m``, ``1h``, ``30s``, ``1d`` -> a timedelta (at least 1 second)."""
    raw = (text or "").strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(raw) < 2 or raw[-1] not in units or not raw[:-1].isdigit() or int(raw[:-1]) < 1:
        raise ValueError(f"--every takes a number and a unit (s, m, h, d), e.g. 15m; not {text!r}")
    return timedelta(seconds=int(raw[:-1]) * units[raw[-1]])


def run_every(job: Callable[[], None], every: timedelta) -> None:
    """Runs ``job`` now and then every ``every``, in this process, until interrupted (APScheduler): never two runs
    at once, and runs missed while one was slow are folded into one."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=every.total_seconds()),
        next_run_time=datetime.now().astimezone(),
        max_instances=1,
        coalesce=True,
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
