"""The command line: ``python -m data_access init|seed|ingest|refresh|kpis|funnel|...|access|audit|bench|contract``.

Every failure the user can cause (a bad argument, an unreachable store, a refused load) ends in one clear line
on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import access, alerts, audiences, metrics, schema, store
from data_access.config import SETTINGS, StoreLocation, resolve_store
from data_access.filters import FilterError, Filters, Period
from data_access.loading import ingest
from data_access.ops import cli_admin, cli_audiences, cli_digest, cli_sources
from data_access.ops.terminal import EXIT_FAILED, EXIT_USAGE, FORMATS, Console, Parser, emit, files_in, open_store
from data_access.queries import funnel, kpis, retention, review, risk, support
from data_access.store import attributes, clickhouse
from data_access.store.dialect import GRAINS


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy URL of the store (default: CJM_DATABASE_URL, "
        ".streamlit/secrets.toml, else the embedded DuckDB file)",
    )


def _filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="DATE", help="start, inclusive (YYYY-MM-DD: start of day)")
    parser.add_argument(
        "--to",
        dest="end",
        metavar="DATE",
        help="end, inclusive (YYYY-MM-DD: the whole day; an ISO date-time: that instant)",
    )
    for dim in schema.FILTER_DIMENSIONS:
        parser.add_argument(
            f"--{dim}",
            action="append",
            default=[],
            metavar=dim.upper(),
            help=f"only customers with this {dim} (repeat for several)",
        )
    _audience_arg(parser)
    parser.add_argument("--format", choices=FORMATS, default="table")


def _audience_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audience", metavar="KEY", help="only the audience's members, as of its last recompute (see audiences)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m data_access", description="CJM retention dashboard: the store and its data.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = commands.add_parser("init", help="create the tables of the data contract (existing rows are kept)")
    _store_args(p)
    p.add_argument(
        "--cluster",
        metavar="NAME",
        help="ClickHouse server only: create the tables on this existing cluster (replicated, sharded by customer)",
    )
    p.add_argument("--print", dest="print_only", action="store_true", help="with --cluster: print the DDL, run nothing")

    p = commands.add_parser("seed", help="replace the store's contents with the generated sample company")
    _store_args(p)
    p.add_argument("--customers", type=int, default=10_000, metavar="N")
    p.add_argument("--seed", type=int, default=42, metavar="S")
    p.add_argument(
        "--lang",
        choices=("en", "ru"),
        default="en",
        help="the sample company's words (stage names, channels, comments...): English or Russian; the same rows",
    )

    p = commands.add_parser(
        "ingest", help="load files named after the tables, or a tool's exports as they come (--source, --mapping)"
    )
    _store_args(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders holding them")
    p.add_argument(
        "--mode",
        choices=ingest.MODES,
        default="append",
        help="append: add rows, replacing rows with the same key; replace: empty those tables first",
    )
    cli_sources.ingest_args(p)

    p = commands.add_parser("kpis", help="per-stage customers, CSAT, NPS, CES and FCR")
    _store_args(p)
    _filter_args(p)

    p = commands.add_parser("funnel", help="ordered funnel from journey events, one row per step")
    _store_args(p)
    p.add_argument("--stages", metavar="A,B,C", help="the steps in order (default: the map's funnel stages)")
    p.add_argument(
        "--window",
        default=funnel.DEFAULT_WINDOW,
        metavar="W",
        help="conversion window: 15s, 90m, 12h, 30d, 2w (default %(default)s)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="X:i:j",
        help="drop customers who hit stage X between step i and step j (0-based); repeatable",
    )
    _filter_args(p)

    p = commands.add_parser("support", help="support quality per line (1, 2, 3, bot, all)")
    _store_args(p)
    p.add_argument(
        "--verify-days",
        type=int,
        default=metrics.VERIFY_DAYS,
        metavar="D",
        help="a bot resolution counts as verified when no new ticket follows within D days (default 7)",
    )
    _filter_args(p)

    p = commands.add_parser("retention", help="retention by signup cohort and age")
    _store_args(p)
    p.add_argument("--period", choices=GRAINS, default="month", help="cohort and age unit (default month)")
    p.add_argument(
        "--mode",
        choices=retention.MODES,
        default="in",
        help="in: active in that period; or_later: active in it or any later one",
    )
    _filter_args(p)

    p = commands.add_parser("at-risk", help="customers at risk of churning, with their score and reasons")
    _store_args(p)
    p.add_argument(
        "--as-of",
        dest="as_of",
        metavar="D",
        help="look back from the end of this day (default: the newest activity in the store)",
    )
    _filter_args(p)

    p = commands.add_parser("review", help="the KPI review: every stage's KPIs in period A against period B")
    _store_args(p)
    for side in ("a", "b"):
        for end, words in (("from", "first day"), ("to", "last day")):
            p.add_argument(f"--{side}-{end}", metavar="DATE", help=f"{words} of period {side.upper()} (needed)")
    for dim in schema.FILTER_DIMENSIONS:
        p.add_argument(f"--{dim}", action="append", default=[], metavar=dim.upper(), help=f"only this {dim}")
    _audience_arg(p)
    p.add_argument("--format", choices=(*FORMATS, "xlsx", "pdf"), default="table")
    p.add_argument("--out", metavar="FILE", help="write to this file instead of printing (needed for xlsx and pdf)")
    p.add_argument(
        "--saved",
        metavar="NAME",
        help="pdf: the saved review NAME with its frozen figures and notes (no periods or filters then)",
    )
    p.add_argument("--lang", choices=("en", "ru"), help="pdf: the report's language (default: CJM_LANGUAGE)")

    p = commands.add_parser("bench", help="time each page's queries, cold and cached, on generated data")
    _store_args(p)
    p.add_argument("--customers", type=int, default=100_000, metavar="N")
    p.add_argument("--seed", type=int, default=42, metavar="S")
    p.add_argument("--reuse", action="store_true", help="do not re-seed when the store already has N customers")
    p.add_argument(
        "--page",
        action="append",
        metavar="NAME",
        help="time only this page's queries (repeatable; the sidebar is always timed) and skip the ingest step",
    )
    p.add_argument(
        "--sources",
        action="store_true",
        help="instead: load --events product events through a source and the stage rules, against the plain ingest",
    )
    p.add_argument("--events", type=int, default=1_000_000, metavar="N", help="with --sources: how many events")
    p.add_argument(
        "--against",
        metavar="URL",
        help="time a second store the same way (seeded alike, e.g. chdb:///data/bench-chdb) and print its ratios",
    )
    p.add_argument(
        "--audiences",
        action="store_true",
        help="instead: recompute an audience of three leaves, and time every page filtered by it against no filter",
    )
    p.add_argument(
        "--statements",
        action="store_true",
        help="instead: each page's five slowest statements, cold (on ClickHouse with EXPLAIN indexes = 1)",
    )
    p.add_argument("--save", metavar="FILE", help="write each page's cold times of this run to FILE (JSON)")
    p.add_argument(
        "--compare",
        metavar="FILE",
        help="print each page's time against the run saved in FILE, with the growth in customers as the target "
        "(e.g. this run at 10M against a saved run at 1M: at most 10x)",
    )

    p = commands.add_parser(
        "loadtest", help="start the dashboard and time every page for one session, then for many at once"
    )
    _store_args(p)
    p.add_argument("--sessions", type=int, default=20, metavar="N", help="sessions at once (default %(default)s)")
    p.add_argument("--replicas", type=int, default=1, metavar="N", help="app processes to start (default 1)")
    p.add_argument("--rounds", type=int, default=2, metavar="N", help="walks through every page per session")
    p.add_argument("--think", type=float, default=3.0, metavar="S", help="seconds on a page between clicks, on average")
    p.add_argument("--app", metavar="URL", help="drive the dashboard already running here (e.g. behind a proxy)")

    p = commands.add_parser(
        "refresh",
        help="copy the customers' attributes onto their rows and rebuild the derived tables (funnel attempts, stage "
        "customers) after the store was filled by other means",
    )
    _store_args(p)

    p = commands.add_parser("access", help="who may see what: grant, revoke and list roles")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=Parser)
    for verb, words in (("grant", "give EMAIL a role"), ("revoke", "take a role from EMAIL")):
        v = verbs.add_parser(verb, help=words)
        v.add_argument("email", metavar="EMAIL")
        v.add_argument("role", metavar="ROLE", help="one of: " + ", ".join(access.ROLES))
        v.add_argument("--segment", metavar="VALUE", help="limit to the customers of this segment")
        _store_args(v)
    v = verbs.add_parser("list", help="every grant")
    _store_args(v)
    v.add_argument("--format", choices=FORMATS, default="table")

    p = commands.add_parser("audit", help="print the audit log: sign-ins, grants, uploads, edits, exports")
    _store_args(p)
    p.add_argument("--since", metavar="DATE", help="from this day (or ISO date-time) on, inclusive")
    p.add_argument("--format", choices=FORMATS, default="table")

    p = commands.add_parser("alerts", help="alert rules and who gets them: add, list, remove, test, subscribe")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=Parser)
    v = verbs.add_parser("add", help="make a rule (checked, stored with its subscriptions or not at all)")
    v.add_argument("--name", required=True, help="what the rule watches, in words")
    v.add_argument("--metric", required=True, help="one of: " + ", ".join(alerts.METRIC_CHOICES))
    v.add_argument(
        "--comparison", required=True, help="; ".join(f"{k}: {w}" for k, w in alerts.COMPARISON_WORDS.items())
    )
    v.add_argument("--threshold", type=float, help="points of a drop, or the count of customers at risk to exceed")
    v.add_argument("--stage", metavar="STAGE_ID", help="the journey stage (default: every stage)")
    v.add_argument("--segment", metavar="VALUE", help="only this segment's customers (default: every segment)")
    v.add_argument("--audience", metavar="KEY", help="only this audience's members (default: every customer)")
    v.add_argument("--period", choices=alerts.PERIODS, default="month", help="judge each complete week or month")
    v.add_argument("--min-n", type=int, default=SETTINGS.min_n, help="fewest answers or tickets a period needs")
    v.add_argument("--subscribe", action="append", default=[], metavar="CHANNEL", help="an e-mail or webhook name")
    v.add_argument("--disabled", action="store_true", help="store it switched off")
    _store_args(v)
    v = verbs.add_parser("list", help="every rule and its subscriptions")
    _store_args(v)
    v.add_argument("--format", choices=FORMATS, default="table")
    v = verbs.add_parser("remove", help="remove a rule and its subscriptions")
    v.add_argument("rule", metavar="RULE")
    _store_args(v)
    for verb, words in (("subscribe", "send a rule to an e-mail or webhook"), ("unsubscribe", "stop sending it")):
        v = verbs.add_parser(verb, help=words)
        v.add_argument("rule", metavar="RULE")
        v.add_argument("channel", metavar="CHANNEL", help="an e-mail address or the name of a configured webhook")
        _store_args(v)
    v = verbs.add_parser("test", help="send one test message of a rule to its subscribers")
    v.add_argument("rule", metavar="RULE")
    v.add_argument("--as-of", metavar="DATE", help="judge the last complete period before this day")
    _store_args(v)
    v = verbs.add_parser("log", help="the deliveries, newest first")
    _store_args(v)
    v.add_argument("--format", choices=FORMATS, default="table")

    p = commands.add_parser("notify", help="evaluate the alert rules and deliver what fires (once per period)")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=Parser)
    v = verbs.add_parser("run", help="evaluate every enabled rule once (for cron or any scheduler)")
    v.add_argument(
        "--as-of",
        metavar="DATE",
        help="judge the last complete periods before this day (default: now, "
        "or the day after the newest data when it ends earlier)",
    )
    _store_args(v)
    v = verbs.add_parser("schedule", help="run now and then every --every, in this process, until stopped")
    v.add_argument("--every", required=True, metavar="INTERVAL", help="e.g. 15m, 1h, 30s")
    _store_args(v)

    cli_sources.add_parsers(commands, _store_args)
    cli_audiences.add_parsers(commands, _store_args)
    cli_digest.add_parsers(commands, _store_args)
    commands.add_parser("contract", help="print the data contract as Markdown")
    commands.add_parser("sources", help="print each source's column table as Markdown")
    return parser


def filters_from(args: argparse.Namespace) -> Filters:
    return Filters(
        period=Period.parse(args.start, args.end),
        **{dim: tuple(getattr(args, dim)) for dim in schema.FILTER_DIMENSIONS},
    )


def with_audience(args: argparse.Namespace, engine: Engine, filters: Filters) -> Filters:
    """The filters narrowed to ``--audience``'s members (its last recompute, said on stderr)."""
    if not args.audience:
        return filters
    chosen = audiences.choice(engine, args.audience)
    sys.stderr.write(chosen.caption() + " UTC\n")
    return filters.with_audience(chosen)


REPORTS = ("kpis", "funnel", "support", "retention", "at-risk")


def report(args: argparse.Namespace, engine: Engine, filters: Filters) -> pl.DataFrame:
    """The table a read command prints."""
    if args.command == "kpis":
        return kpis.stage_kpis(engine, filters).select(kpis.CLI_COLUMNS)
    if args.command == "funnel":
        chosen = tuple(s.strip() for s in args.stages.split(",") if s.strip()) if args.stages else None
        spec = funnel.checked_spec(engine, chosen, args.window, tuple(args.exclude))
        return funnel.report(engine, spec, filters).select(funnel.CLI_COLUMNS)
    with store.connect(engine) as conn:
        if args.command == "support":
            return support.cli_rows(conn, filters, args.verify_days)
        if args.command == "at-risk":
            as_of = Period.parse(None, args.as_of).end if args.as_of else store.freshness(engine)
            if as_of is None:
                return pl.DataFrame(schema=dict.fromkeys(risk.CLI_COLUMNS, pl.String))
            return risk.at_risk(conn, filters, as_of).select(risk.CLI_COLUMNS)
        return retention.cohorts(conn, filters, args.period, args.mode)


def _init_cluster(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``init --cluster NAME``: the tables on an existing ClickHouse cluster, or with ``--print`` their DDL."""
    database = store.parse_url(location.url).database if store.backend_name(location.url) == "clickhousedb" else None
    statements = clickhouse.cluster_ddl(args.cluster, database=database or None)
    if args.print_only:
        sys.stdout.write(";\n\n".join(statements) + ";\n")
        return 0
    if store.backend_name(location.url) != "clickhousedb":
        raise ValueError("--cluster needs a ClickHouse server URL: clickhousedb://user:password@host:8123/database")
    engine = open_store(location, read_only=False, console=console)
    with store.connect(engine, write=True) as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    sys.stdout.write(f"{len(statements)} statements run on cluster {args.cluster} ({store.safe_url(location.url)})\n")
    return 0


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.command == "contract":
        sys.stdout.write(schema.contract_markdown())
        return 0
    if args.command == "sources":
        from data_access.sources import docs

        sys.stdout.write(docs.markdown())
        return 0
    location = resolve_store(args.db)
    if args.command in REPORTS:
        filters = filters_from(args)  # bad dates are refused before the store is opened
        if getattr(args, "verify_days", 0) < 0:
            raise ValueError("--verify-days must be 0 or more")
        engine = open_store(location, read_only=True, console=console)
        filters = with_audience(args, engine, filters)
        sys.stdout.write(emit(report(args, engine, filters), args.format))
        return 0
    if args.command == "review":
        return _review(args, location, console)
    if args.command in ("access", "audit"):
        return cli_admin.access_command(args, location, console)
    if args.command == "ingest" and (args.source or args.mapping):
        return cli_sources.ingest_command(args, location, console)
    if args.command == "mappings":
        return cli_sources.mappings_command(args, location, console)
    if args.command == "sync":
        return cli_sources.sync_command(args, location, console)
    if args.command == "audiences":
        return cli_audiences.command(args, location, console)
    if args.command == "digest":
        return cli_digest.command(args, location, console)
    if args.command in ("alerts", "notify"):
        return cli_admin.alerts_command(args, location, console)
    if args.command == "bench" and args.sources:
        from data_access.ops import bench_sources

        return bench_sources.main(args.events, args.seed, lambda line: print(line, file=sys.stderr, flush=True))
    if args.command == "bench" and args.audiences:
        from data_access.ops import bench_audiences

        return bench_audiences.main(location, args.customers, args.seed, reuse=args.reuse, progress=console)
    if args.command == "bench" and args.statements:
        from data_access.ops import bench_statements

        return bench_statements.run(location, args.customers, args.seed, args.page, reuse=args.reuse, progress=console)
    if args.command == "bench":
        from data_access.ops import bench

        against = StoreLocation(args.against, "--against") if args.against else None
        return bench.main(
            location,
            args.customers,
            args.seed,
            reuse=args.reuse,
            pages=args.page,
            against=against,
            progress=console,
            save=Path(args.save) if args.save else None,
            compare=Path(args.compare) if args.compare else None,
        )
    if args.command == "loadtest":
        from data_access.ops import loadtest

        return loadtest.main(
            location.url,
            sessions=args.sessions,
            replicas=args.replicas,
            rounds=args.rounds,
            think=args.think,
            app=args.app,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    if args.command == "init" and args.cluster:
        return _init_cluster(args, location, console)
    engine = open_store(location, read_only=False, console=console)
    if args.command == "init":
        store.init_store(engine)
        sys.stdout.write(f"Store ready at {store.safe_url(location.url)} ({location.source})\n")
        return 0
    if args.command == "refresh":
        with store.load_transaction(engine) as conn:
            stamped = attributes.stamp(conn, schema.ATTRIBUTE_FACTS)
            built = ingest.refresh_derived(conn)
        for table, rows in stamped.items():
            sys.stdout.write(f"{table}: {rows:,} rows given their customer's attributes\n")
        for table, rows in built.items():
            sys.stdout.write(f"{table}: {rows:,} rows\n")
        return 0
    if args.command == "seed":
        if args.customers < 1:
            raise ValueError("--customers must be at least 1")
        written = ingest.seed(engine, args.customers, args.seed, console, args.lang)
    else:
        sources = [
            ingest.Source.from_path(p)
            for p in files_in(args.paths, lambda name: Path(name).suffix.lower() in ingest.SUFFIXES)
        ]
        written = ingest.ingest(engine, sources, mode=args.mode, progress=console)
    for table, rows in written.items():
        sys.stdout.write(f"{table}: {rows:,} rows\n")
    return 0


def _review(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``review``: one row per stage and KPI, printed or written (``--out``; an XLSX needs it)."""
    if args.format in ("xlsx", "pdf") and not args.out:
        raise ValueError(f"--format {args.format} writes a file: give --out FILE")
    if args.saved and args.format != "pdf":
        raise ValueError("--saved makes a PDF: add --format pdf")
    chosen = [args.a_from, args.a_to, args.b_from, args.b_to, args.audience]
    if args.saved and (any(chosen) or any(getattr(args, dim) for dim in schema.FILTER_DIMENSIONS)):
        raise ValueError("a saved review keeps its own periods and customers: give --saved NAME alone")
    if args.format == "pdf":
        return _review_pdf(args, location, console)
    if not (args.a_from and args.a_to and args.b_from and args.b_to):
        raise ValueError("give both periods: --a-from, --a-to, --b-from and --b-to")
    a, b = Period.parse(args.a_from, args.a_to), Period.parse(args.b_from, args.b_to)
    filters = Filters(**{dim: tuple(getattr(args, dim)) for dim in schema.FILTER_DIMENSIONS})
    engine = open_store(location, read_only=True, console=console)
    filters = with_audience(args, engine, filters)
    frame = review.cli_rows(engine, filters, a, b, SETTINGS.min_n)
    if args.format == "xlsx":
        Path(args.out).write_bytes(review.to_xlsx(frame))
        sys.stdout.write(f"{args.out}: {frame.height:,} rows\n")
        return 0
    text = emit(frame, args.format)
    if args.out:
        Path(args.out).write_text(text)
        sys.stdout.write(f"{args.out}: {frame.height:,} rows\n")
    else:
        sys.stdout.write(text)
    return 0


def _review_pdf(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``review --format pdf``: the report the KPI review page hands out, of two periods or of a saved review."""
    from components.builders import review_pdf, review_view  # the interface's report, made by the page's builders
    from data_access import i18n, reviews
    from data_access.queries import why

    engine = open_store(location, read_only=True, console=console)
    with i18n.using(args.lang or i18n.default_language()):
        if args.saved:
            with store.connect(engine) as conn:
                kept = reviews.opened(conn, args.saved)
            if kept is None:
                raise ValueError(f"no saved review named {args.saved!r}")
            a, b, customers, fresh, frame = kept.a, kept.b, kept.filters, kept.data_as_of, kept.frame
        else:
            if not (args.a_from and args.a_to and args.b_from and args.b_to):
                raise ValueError("give both periods: --a-from, --a-to, --b-from and --b-to (or --saved NAME)")
            a, b = Period.parse(args.a_from, args.a_to), Period.parse(args.b_from, args.b_to)
            customers = Filters(**{dim: tuple(getattr(args, dim)) for dim in schema.FILTER_DIMENSIONS})
            customers = with_audience(args, engine, customers)
            frame, fresh = review.load(engine, customers, a, b, SETTINGS.min_n), store.freshness(engine)
        stages = kpis.stage_list(engine)
        with store.connect(engine) as conn:
            judged = why.experiment_results(conn, customers.with_period(Period()), b.end, SETTINGS.min_n)
        about = review_view.about(a, b, customers, fresh, SETTINGS.min_n, args.saved, sidebar=False)
        said = review.callouts(frame, dict(stages.select("stage_id", "name").iter_rows()))
        lines = review_view.report_lines(about, review_view.experiment_lines(judged))
        Path(args.out).write_bytes(review_pdf.to_pdf(reviews.with_notes(frame), stages, lines, said))
    sys.stdout.write(f"{args.out}: {frame.height:,} rows\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ingest.LoadRejected as exc:
        sys.stderr.write(exc.report() + "\n")
        return EXIT_FAILED
    except (store.StoreError, FilterError, ValueError, FileNotFoundError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE if isinstance(exc, FilterError | ValueError) else EXIT_FAILED
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        sys.stderr.write(f"error: the store {store.safe_url(location_of(args))} failed: {detail}\n")
        return EXIT_FAILED


def location_of(args: argparse.Namespace) -> str:
    return resolve_store(getattr(args, "db", None)).url
