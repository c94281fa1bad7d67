"""The command line's digest: ``digest subscribe|unsubscribe|list|preview`` (sent by ``notify run``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from data_access import access, delivery, digest, i18n, store
from data_access.config import StoreLocation
from data_access.filters import EVERYONE, Filters
from data_access.ops import terminal
from data_access.ops.terminal import Console, Parser, emit, open_store


def add_parsers(commands: argparse._SubParsersAction, store_args: Callable[[argparse.ArgumentParser], None]) -> None:
    p = commands.add_parser("digest", help="the Overview by e-mail every week or month: subscribe, list, preview")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=Parser)
    v = verbs.add_parser("subscribe", help="send the Overview to EMAIL every week or month (notify run sends it)")
    store_args(v)
    v.add_argument("email")
    v.add_argument("--every", choices=digest.EVERY, required=True)
    v.add_argument("--segment", default="", metavar="S", help="only this segment (default: every segment)")
    v.add_argument("--lang", choices=tuple(i18n.LANGUAGES), default="en")
    v = verbs.add_parser("unsubscribe", help="stop EMAIL's digests (only those of --every / --segment when given)")
    store_args(v)
    v.add_argument("email")
    v.add_argument("--every", choices=digest.EVERY)
    v.add_argument("--segment", metavar="S", help="only the digest of this segment")
    v = verbs.add_parser("list", help="every digest subscription")
    store_args(v)
    v.add_argument("--format", choices=terminal.FORMATS, default="table")
    v = verbs.add_parser("preview", help="the digest as it would be sent now: its text, or its HTML with --out")
    store_args(v)
    v.add_argument("--segment", default="", metavar="S")
    v.add_argument("--every", choices=digest.EVERY, default="month")
    v.add_argument("--lang", choices=tuple(i18n.LANGUAGES), default="en")
    v.add_argument("--out", metavar="FILE.html", help="write the HTML part (the month lines inlined) to this file")


def command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    operator = access.Access(terminal.operator(), frozenset({access.ADMIN}))
    if args.verb == "list":
        engine = open_store(location, read_only=True, console=console)
        with store.connect(engine) as conn:
            sys.stdout.write(emit(digest.listed(conn), args.format))
        return 0
    if args.verb == "preview":
        return _preview(args, location, console)
    engine = open_store(location, read_only=False, console=console)
    if args.verb == "subscribe":
        digest.subscribe(engine, args.email, args.every, args.segment, args.lang, operator)
        who = args.segment or "every segment"
        sys.stdout.write(f"{args.email.strip().lower()} gets the Overview every {args.every} ({who}, {args.lang})\n")
        return 0
    gone = digest.unsubscribe(engine, args.email, operator, args.every, args.segment)
    sys.stdout.write(f"{args.email.strip().lower()}: {gone} digest subscription(s) removed\n")
    return 0


def _preview(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    import base64

    engine = open_store(location, read_only=True, console=console)
    span = store.time_range(engine)
    if span is None:
        raise ValueError("the store has no journey events yet: nothing to digest")
    config = delivery.NotifyConfig.load()
    filters = Filters(segment=(args.segment,) if args.segment else (), scope=EVERYONE)
    with i18n.using(args.lang):
        made = digest.compose(engine, filters, span[1].date(), config.base_url, args.every)
    if not args.out:
        sys.stdout.write(f"{made.subject}\n\n{made.text}\n")
        return 0
    html = made.html
    for cid, png in made.images.items():  # a file on its own: the images as data URLs
        html = html.replace(f"cid:{cid}", "data:image/png;base64," + base64.b64encode(png).decode())
    Path(args.out).write_text(html, encoding="utf-8")
    sys.stdout.write(f"{args.out}: {made.subject}\n")
    return 0
