"""What every command of the command line shares: its argument parser, progress on stderr, opening the store,
printing a table, and who a change from the command line is recorded as."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import polars as pl
from sqlalchemy.engine import Engine

from data_access import exports, store
from data_access.config import SETTINGS, StoreLocation
from data_access.loading import ingest

FORMATS = ("table", "json", "csv")
EXIT_USAGE, EXIT_FAILED = 2, 1


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")


class Console:
    """Progress on stderr: one updating line on a terminal, a line per tenth otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, fraction: float, message: str) -> None:
        step = int(fraction * 10)
        if self.tty:
            sys.stderr.write(f"\r{fraction:5.0%}  {message[:90]:<90}")
            if fraction >= 1:
                sys.stderr.write("\n")
        elif step != self.last or fraction >= 1:
            sys.stderr.write(f"{fraction:5.0%}  {message}\n")
        self.last = step
        sys.stderr.flush()


def open_store(location: StoreLocation, *, read_only: bool, console: Console) -> Engine:
    """The engine; on first use of the embedded default, the store is created and filled with sample data."""
    path = store.file_path(location.url)
    if location.is_default and path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if read_only:
            sys.stderr.write(f"No store configured: creating the sample store at {path}\n")
            ingest.seed(store.create_store_engine(location.url), SETTINGS.first_run_customers, 42, console)
    engine = store.create_store_engine(location.url, read_only=read_only)
    if read_only:
        missing = store.missing_tables(engine)
        if missing:
            raise store.StoreError(
                f"The store {store.safe_url(location.url)} has no {', '.join(missing)} table(s); "
                f"create them with: python -m data_access init --db URL"
            )
        outdated = store.outdated_tables(engine)
        if outdated:
            raise store.StoreError(
                f"The store {store.safe_url(location.url)} was made by an earlier version ({', '.join(outdated)} "
                f"lack the customers' attributes on their rows); bring it up to date with: "
                f"python -m data_access init --db URL"
            )
    return engine


def emit(frame: pl.DataFrame, fmt: str) -> str:
    frame = frame.with_columns(pl.col(pl.Float64).round(2))
    if fmt == "json":
        return json.dumps(frame.to_dicts(), default=str, indent=2) + "\n"
    if fmt == "csv":
        return exports.csv_text(frame)
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=400,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        float_precision=2,
    ):
        return f"{frame}\n"


def files_in(paths: Sequence[str], readable: Callable[[str], bool]) -> list[Path]:
    """The files named, and the ``readable`` files of the folders named (in name order)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and readable(p.name))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or folder: {raw}")
    return files


def operator() -> str:
    """Who the audit log names for a change made from the command line."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "command line"
