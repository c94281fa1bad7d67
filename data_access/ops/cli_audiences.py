"""The command line's audiences: ``audiences add|list|show|members|recompute|remove|subscribe|unsubscribe|pushes``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import polars as pl

from data_access import audiences, delivery, store
from data_access.audiences import push
from data_access.config import StoreLocation, parse_every
from data_access.filters import Period
from data_access.ops import terminal
from data_access.ops.terminal import Console, Parser, emit, open_store


def add_parsers(commands: argparse._SubParsersAction, store_args: Callable[[argparse.ArgumentParser], None]) -> None:
    p = commands.add_parser("audiences", help="groups of customers defined by what they did: add, list, show, members")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=Parser)
    v = verbs.add_parser("add", help="check a rule (JSON) and store the audience (or replace the one with its key)")
    store_args(v)
    v.add_argument("--key", required=True)
    v.add_argument("--name", required=True)
    v.add_argument("--rule", required=True, metavar="FILE.json", help="the rule, as JSON (see README: Audiences)")
    v = verbs.add_parser("list", help="every audience")
    store_args(v)
    v.add_argument("--format", choices=terminal.FORMATS, default="table")
    v = verbs.add_parser("show", help="an audience's name, owner and rule")
    store_args(v)
    v.add_argument("key")
    v = verbs.add_parser("members", help="an audience's members at a time (the newest data by default)")
    store_args(v)
    v.add_argument("key")
    v.add_argument("--as-of", metavar="DATE", help="the time the windows count back from (YYYY-MM-DD: end of day)")
    v.add_argument("--format", choices=terminal.FORMATS, default="table")
    v = verbs.add_parser("recompute", help="bring the audiences' membership up to a time: who entered, who left")
    store_args(v)
    v.add_argument("keys", nargs="*", metavar="KEY", help="these audiences (default: all)")
    v.add_argument("--as-of", metavar="DATE", help="the time the windows count back from (the newest data by default)")
    v = verbs.add_parser("remove", help="remove an audience (refused while another names it)")
    store_args(v)
    v.add_argument("key")
    v = verbs.add_parser("subscribe", help="send the audience's entries and exits to a webhook of [notify.webhooks]")
    store_args(v)
    v.add_argument("key")
    v.add_argument("destination", metavar="DESTINATION", help="the name of a configured webhook")
    v.add_argument("--backfill", action="store_true", help="send the members it has now too (default: new ones)")
    v.add_argument(
        "--cooldown",
        default="1d",
        metavar="INTERVAL",
        help="one who leaves and comes back within it is not sent again (default %(default)s; 0 for none)",
    )
    v = verbs.add_parser("unsubscribe", help="stop sending the audience to a webhook")
    store_args(v)
    v.add_argument("key")
    v.add_argument("destination", metavar="DESTINATION")
    v = verbs.add_parser("pushes", help="the entries and exits sent (or waiting), newest first")
    store_args(v)
    v.add_argument("key", nargs="?", help="this audience's only")
    v.add_argument("--format", choices=terminal.FORMATS, default="table")


def command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    if args.verb == "add":
        path = Path(args.rule)
        if not path.is_file():
            raise FileNotFoundError(f"No such rule file: {args.rule}")
        try:
            rule = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name} is not JSON: {exc}") from None
        engine = open_store(location, read_only=False, console=console)
        audiences.add(engine, audiences.Audience(args.key, args.name, terminal.operator(), rule))
        sys.stdout.write(f"Audience {args.key} stored\n")
        return 0
    if args.verb == "recompute":
        engine = open_store(location, read_only=False, console=console)
        as_of = Period.parse(None, args.as_of).end if args.as_of else store.freshness(engine)
        if as_of is None:
            raise ValueError("the store has no data yet: give --as-of")
        for change in audiences.recompute(engine, as_of, tuple(args.keys)):
            sys.stdout.write(
                f"{change.audience}: {change.members:,} members as of {as_of:%Y-%m-%d %H:%M} UTC "
                f"({change.entered:,} entered, {change.left:,} left)\n"
            )
        return 0
    if args.verb in ("subscribe", "unsubscribe"):
        engine = open_store(location, read_only=False, console=console)
        if args.verb == "unsubscribe":
            push.unsubscribe(engine, args.key, args.destination)
            sys.stdout.write(f"{args.destination} no longer gets {args.key}\n")
            return 0
        cooldown = timedelta(0) if args.cooldown.strip() == "0" else parse_every(args.cooldown)
        done = push.subscribe(
            engine,
            delivery.NotifyConfig.load(),
            args.key,
            args.destination,
            backfill=args.backfill,
            cooldown=cooldown,
            by=terminal.operator(),
        )
        first = "its members now, then " if done.backfill else ""
        sys.stdout.write(
            f"{args.destination} gets {args.key}: {first}each entry and exit from the next recompute on "
            "(notify run sends them)\n"
        )
        return 0
    if args.verb == "remove":
        audiences.remove(open_store(location, read_only=False, console=console), args.key)
        sys.stdout.write(f"Removed audience {args.key}\n")
        return 0
    engine = open_store(location, read_only=True, console=console)
    if args.verb == "list":
        rows = [
            {"key": a.key, "name": a.name, "owner": a.owner, "rule": json.dumps(a.rule, sort_keys=True)}
            for a in audiences.listed(engine)
        ]
        frame = pl.DataFrame(rows, schema=dict.fromkeys(("key", "name", "owner", "rule"), pl.String))
        sys.stdout.write(emit(frame, args.format))
        return 0
    if args.verb == "pushes":
        sys.stdout.write(emit(push.log(engine, args.key), args.format))
        return 0
    if args.verb == "show":
        audience = audiences.get(engine, args.key)
        sys.stdout.write(f"{audience.key}: {audience.name} (owner {audience.owner})\n")
        sys.stdout.write(json.dumps(audience.rule, indent=2, sort_keys=True) + "\n")
        return 0
    as_of = Period.parse(None, args.as_of).end if args.as_of else store.freshness(engine)
    if as_of is None:
        raise ValueError("the store has no data yet: give --as-of")
    frame = audiences.members(engine, args.key, as_of)
    sys.stdout.write(emit(frame, args.format))
    sys.stderr.write(f"{frame.height:,} members of {args.key} as of {as_of:%Y-%m-%d %H:%M} UTC\n")
    return 0
