"""The command line's sources: ``ingest --source NAME [--mapping FILE|NAME] PATH...`` and ``mappings
save|list|show|remove``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from data_access import schema, sources
from data_access.config import StoreLocation
from data_access.loading import ingest
from data_access.ops import terminal
from data_access.ops.terminal import Console, Parser, emit, files_in, open_store
from data_access.sources import reading, saved


def ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        choices=list(sources.BY_NAME),
        metavar="NAME",
        help="read the files as this tool exports them: " + ", ".join(sources.BY_NAME),
    )
    p.add_argument(
        "--mapping",
        metavar="FILE|NAME",
        help="a mapping over the source: a TOML file, or one saved with `mappings save`",
    )
    p.add_argument("--timezone", metavar="ZONE", help="the zone of times that carry none (e.g. Europe/Berlin)")
    p.add_argument(
        "--default",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="a value for what the file lacks, e.g. stage_id=support (repeat for several)",
    )


def add_parsers(commands: argparse._SubParsersAction, store_args: Callable[[argparse.ArgumentParser], None]) -> None:
    p = commands.add_parser("mappings", help="mappings saved in the store: save, list, show, remove")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=Parser)
    v = verbs.add_parser("save", help="check a mapping file and save it by name")
    store_args(v)
    v.add_argument("name")
    v.add_argument("file", metavar="FILE.toml")
    v = verbs.add_parser("list", help="every saved mapping")
    store_args(v)
    v.add_argument("--format", choices=terminal.FORMATS, default="table")
    for verb, words in (("show", "print a saved mapping's TOML"), ("remove", "remove a saved mapping")):
        v = verbs.add_parser(verb, help=words)
        store_args(v)
        v.add_argument("name")
    p = commands.add_parser("sync", help="run the sync jobs ([sync.jobs.NAME] in the secrets): new files, new rows")
    store_args(p)
    p.add_argument("--job", action="append", default=[], metavar="NAME", help="only this job (repeat for several)")
    p.add_argument("--every", metavar="INTERVAL", help="run now and then every INTERVAL (15m, 1h) until stopped")
    p.add_argument("--config", metavar="FILE.toml", help="read the jobs from this file instead of the secrets")


def defaults_of(given: Sequence[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in given:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise ValueError(f"--default takes COLUMN=VALUE, not {item!r}")
        out[column.strip()] = value.strip()
    return out


def ingest_command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``ingest --source`` / ``--mapping``: one source's export files, all or nothing, with the load's report."""
    if args.mode != "append":
        raise ValueError("--mode replace loads contract files only; a source's load replaces rows by their id")
    defaults = defaults_of(args.default)
    problem = sources.zone_problem(args.timezone)
    if problem:
        raise ValueError(problem)
    engine = open_store(location, read_only=False, console=console)
    mapping = saved.resolve(engine, args.mapping or args.source)
    if args.source and mapping.source != args.source:
        raise ValueError(f"the mapping starts from {mapping.source}, not {args.source}")
    unknown = set(defaults) - {c.name for c in schema.contract_columns(schema.TABLES_BY_NAME[mapping.preset.table])}
    if unknown:
        raise ValueError(f"--default: {mapping.preset.table} has no column {', '.join(sorted(unknown))}")
    report = sources.load(
        engine,
        mapping,
        [ingest.Source.from_path(p) for p in files_in(args.paths, reading.readable)],
        job="command line",
        zone=args.timezone,
        defaults=defaults,
        progress=console,
    )
    sys.stdout.write("\n".join(report.lines()) + "\n")
    return 0


def mappings_command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    if args.verb == "list":
        engine = open_store(location, read_only=True, console=console)
        sys.stdout.write(emit(saved.listed(engine), args.format))
        return 0
    if args.verb == "show":
        engine = open_store(location, read_only=True, console=console)
        text = saved.body(engine, args.name)
        if text is None:
            raise ValueError(f"no saved mapping named {args.name!r}")
        sys.stdout.write(text)
        return 0
    if args.verb == "save":
        path = Path(args.file)
        if not path.is_file():
            raise FileNotFoundError(f"No such mapping file: {args.file}")
        mapping = sources.Mapping.parse(path.read_text(encoding="utf-8"), path.name)
        engine = open_store(location, read_only=False, console=console)
        saved.save(engine, args.name, mapping, terminal.operator())
        sys.stdout.write(f"Saved mapping {args.name} ({mapping.source})\n")
        return 0
    engine = open_store(location, read_only=False, console=console)
    removed = saved.remove(engine, args.name)
    if not removed:
        raise ValueError(f"no saved mapping named {args.name!r}")
    sys.stdout.write(f"Removed mapping {args.name}\n")
    return 0


def sync_command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``sync``: each job once, or every ``--every`` until stopped; a line per job and run."""
    from data_access.config import parse_every
    from data_access.sources import sync

    jobs = sync.configured(args.config)
    if not jobs:
        raise ValueError("no sync job is configured: add [sync.jobs.NAME] to .streamlit/secrets.toml (see README)")
    every = parse_every(args.every) if args.every else None
    engine = open_store(location, read_only=False, console=console)

    def show(outcomes: list[sync.Outcome]) -> None:
        sys.stdout.write("".join(o.line() + "\n" for o in outcomes))
        sys.stdout.flush()

    if every is None:
        outcomes = sync.run(engine, jobs, tuple(args.job))
        show(outcomes)
        return terminal.EXIT_FAILED if any(o.error or o.refused_items for o in outcomes) else 0
    jobs = sync.chosen(jobs, tuple(args.job))
    sys.stdout.write(f"Running {len(jobs)} sync job(s) every {args.every} (Ctrl+C stops)\n")
    sync.schedule(engine, jobs, every, show)
    return 0
