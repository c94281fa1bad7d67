"""The command line's access and alert commands: ``access``, ``audit``, ``alerts`` and ``notify``."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from data_access import access, alerts, store
from data_access.config import StoreLocation
from data_access.filters import Period
from data_access.ops import terminal
from data_access.ops.terminal import EXIT_FAILED, Console, emit, open_store


def access_command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``access grant|revoke|list`` and ``audit``."""
    if args.command == "audit":
        since = Period.parse(args.since, None).start if args.since else None
        engine = open_store(location, read_only=True, console=console)
        with store.connect(engine) as conn:
            sys.stdout.write(emit(access.audit(conn, since), args.format))
        return 0
    if args.verb == "list":
        engine = open_store(location, read_only=True, console=console)
        with store.connect(engine) as conn:
            sys.stdout.write(emit(access.grants(conn), args.format))
        return 0
    access.normal_email(args.email)  # a bad e-mail or role is refused before the store is opened
    access.checked_role(args.role)
    engine = open_store(location, read_only=False, console=console)
    if args.verb == "grant":
        done = access.grant(engine, args.email, args.role, args.segment, terminal.operator())
    else:
        done = access.revoke(engine, args.email, args.role, terminal.operator(), args.segment)
    sys.stdout.write(done + "\n")
    return 0


def alerts_command(args: argparse.Namespace, location: StoreLocation, console: Console) -> int:
    """``alerts add|list|remove|subscribe|unsubscribe|test|log`` and ``notify run|schedule``."""
    from data_access import delivery

    operator = access.Access(terminal.operator(), frozenset({access.ADMIN}))
    config = delivery.NotifyConfig.load()
    if args.verb in ("list", "log"):
        engine = open_store(location, read_only=True, console=console)
        with store.connect(engine) as conn:
            if args.verb == "log":
                frame = delivery.entries(conn)
            else:
                subs = alerts.subscriptions(conn).group_by("rule_id").agg(pl.col("channel").str.join(", "))
                frame = pl.DataFrame(
                    [
                        {
                            "rule_id": r.rule_id,
                            "name": r.name,
                            "condition": r.condition(),
                            "where": r.where(),
                            "period": r.period,
                            "min_n": r.min_n,
                            "enabled": r.enabled,
                            "owner": r.owner,
                        }
                        for r in alerts.rules(conn)
                    ],
                    schema=dict.fromkeys(("rule_id", "name", "condition", "where", "period"), pl.String)
                    | {"min_n": pl.Int64, "enabled": pl.Boolean, "owner": pl.String},
                ).join(subs.rename({"channel": "subscribers"}), on="rule_id", how="left")
        sys.stdout.write(emit(frame, args.format))
        return 0
    if args.verb == "schedule":
        every = alerts.parse_every(args.every)
        engine = open_store(location, read_only=False, console=console)
        sys.stdout.write(f"Evaluating the alert rules every {args.every} (Ctrl+C stops)\n")
        sys.stdout.flush()
        alerts.schedule(engine, config, every, print_outcomes)
        return 0
    if args.verb == "add":
        rule = alerts.Rule(
            rule_id="",
            name=args.name,
            metric=args.metric,
            comparison=args.comparison,
            period=args.period,
            stage_id=args.stage,
            segment=args.segment,
            audience=args.audience,
            threshold=args.threshold,
            min_n=args.min_n,
            enabled=not args.disabled,
        )
        engine = open_store(location, read_only=False, console=console)
        done = alerts.save_rule(engine, rule, operator, channels=args.subscribe, webhooks=config.webhooks)
        sys.stdout.write(f"Rule {done.rule_id}: {done.condition()} ({done.where()}), each {done.period}\n")
        return 0
    engine = open_store(location, read_only=False, console=console)
    if args.verb == "remove":
        alerts.remove_rule(engine, args.rule, operator)
        sys.stdout.write(f"Removed rule {args.rule}\n")
        return 0
    if args.verb == "subscribe":
        channel = alerts.subscribe(engine, args.rule, args.channel, operator, config.webhooks)
        sys.stdout.write(f"{channel} gets {args.rule}\n")
        return 0
    if args.verb == "unsubscribe":
        alerts.unsubscribe(engine, args.rule, alerts.channel_of(args.channel, config.webhooks), operator)
        sys.stdout.write(f"{args.channel} no longer gets {args.rule}\n")
        return 0
    as_of = alerts.as_of_date(args.as_of)
    outcomes = (
        alerts.send_test(engine, config, args.rule, as_of) if args.verb == "test" else alerts.run(engine, config, as_of)
    )
    print_outcomes(outcomes)
    return EXIT_FAILED if any(o.status in ("failed", "error") for o in outcomes) else 0


def print_outcomes(outcomes: list) -> None:
    for o in outcomes:
        where = f" -> {o.channel}" if o.channel else ""
        sys.stdout.write(f"{o.rule_id} {o.period}{where}: {o.status}" + (f" ({o.detail})" if o.detail else "") + "\n")
    if not outcomes:
        sys.stdout.write("No enabled alert rules.\n")
    sys.stdout.flush()
