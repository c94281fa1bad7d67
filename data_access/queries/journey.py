"""The live journey map: the CX team's qualitative lanes from ``journey_map`` and metric lanes computed for the
current filters, each metric cell with its n and its status against ``kpi_targets``.

Metric lanes, per stage (in map order):
- customers: distinct customers with a journey event at the stage in the period;
- conversion: for a step of the default funnel (stages marked ``in_funnel``, 90-day window, the Funnel page's
  rules), the share of its customers who reach the next step; drop-off = 100 - conversion; n = customers at the step;
- CSAT, NPS, CES, FCR: the metrics layer's formulas on the stage's answers and tickets;
- FCR, 2nd line: FCR of the stage's tickets whose last line was the second (managers, who are judged by it);
- tickets per 100 customers: tickets opened at the stage in the period per 100 customers at the stage;
- days to the next step: the median time from a funnel step to the next one, for those who made it;
- emotion: the mean CSAT score (1-5), the map's emotion curve.
Targets for the lanes that are not metrics of the metrics layer use their lane key as ``kpi_targets.metric``
(``conversion``, ``dropoff``, ``tickets_per_100``, ``days_to_next``, ``emotion``, ``fcr_line_2``); drop-off without a
target of its own mirrors conversion's (a conversion target of 60 is a drop-off target of 40), and the 2nd line's FCR
without one takes the stage's FCR target.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics, schema
from data_access.filters import Filters
from data_access.i18n import N_
from data_access.queries import funnel, kpis
from data_access.store import fetch_frame, side_by_side

jm = schema.journey_map
tk = schema.tickets


@dataclass(frozen=True)
class Lane:
    key: str
    label: str
    unit: str  # "count", "%", "points", "score", "days", "per 100"
    higher_is_better: bool | None  # None: no good direction (no colour)
    description: str


def _metric_lane(name: str) -> Lane:
    m = metrics.METRICS[name]
    return Lane(name, m.label, m.unit, m.higher_is_better, m.description)


def _figure_lane(key: str, label: str, unit: str) -> Lane:
    return Lane(key, label, unit, metrics.JOURNEY_HIGHER_IS_BETTER[key], metrics.JOURNEY_FIGURES[key])


LIVE_LANES: tuple[Lane, ...] = (
    Lane("customers", N_("Customers"), "count", None, N_("distinct customers with a journey event at the stage")),
    _figure_lane("conversion", N_("Conversion to next step"), "%"),
    _figure_lane("dropoff", N_("Drop-off"), "%"),
    *(_metric_lane(name) for name in metrics.STAGE_METRICS),
    _figure_lane("fcr_line_2", N_("FCR, 2nd line"), "%"),
    _figure_lane("tickets_per_100", N_("Tickets per 100 customers"), "per 100"),
    _figure_lane("days_to_next", N_("Days to next step"), "days"),
    _figure_lane("emotion", N_("Emotion (mean CSAT 1-5)"), "score"),
)
LANES_BY_KEY = {lane.key: lane for lane in LIVE_LANES}
LIVE_SCHEMA = {
    "stage_id": pl.String,
    "lane": pl.String,
    "value": pl.Float64,
    "n": pl.Int64,
    "target": pl.Float64,
    "warn": pl.Float64,
    "status": pl.String,
}


def map_names(conn: Connection) -> list[str]:
    rows = conn.execute(sa.select(jm.c.map).distinct().order_by(jm.c.map))
    return [str(r) for r in rows.scalars()]


def map_cells(conn: Connection, name: str) -> pl.DataFrame:
    """The qualitative cells of one map: stage_id, lane, text."""
    stmt = sa.select(jm.c.stage_id, jm.c.lane, jm.c.text).where(jm.c.map == name)
    return fetch_frame(conn, stmt, {"stage_id": pl.String, "lane": pl.String, "text": pl.String})


def _tickets_per_stage(conn: Connection, filters: Filters) -> pl.DataFrame:
    stmt = (
        sa.select(tk.c.stage_id, sa.func.count().label("tickets"))
        .where(filters.where(tk.c.opened_at, tk.c.customer_id), tk.c.stage_id.is_not(None))
        .group_by(tk.c.stage_id)
    )
    return fetch_frame(conn, stmt, {"stage_id": pl.String, "tickets": pl.Int64})


LINE_LANES = {"fcr_line_2": 2}  # lane -> the support line whose tickets it counts


def line_fcr(conn: Connection, filters: Filters, line: int, min_n: int) -> pl.DataFrame:
    """FCR per stage of the tickets whose last line was ``line``: stage_id, fcr, fcr_n, interval, enough."""
    metric = metrics.METRICS["fcr"]
    stmt = kpis.metric_query(
        tk, [metric], filters, [tk.c.stage_id], tk.c.stage_id.is_not(None), tk.c.final_line == line
    )
    return metrics.finish(fetch_frame(conn, stmt, {"stage_id": pl.String}), metric, min_n)


def _satisfaction(conn: Connection, filters: Filters, min_n: int) -> pl.DataFrame:
    metric = metrics.METRICS["satisfaction"]
    frame = fetch_frame(conn, kpis.metric_per_stage_query(metric.source, [metric], filters), {"stage_id": pl.String})
    return metrics.finish(frame, metric, min_n)


def _funnel_lanes(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Per funnel step but the last: stage_id, customers at it, converted (reached the next step), median seconds
    to the next step and how many that median rests on."""
    steps = funnel.funnel_stages(conn)
    empty = pl.DataFrame(
        schema={"stage_id": pl.String, "entered": pl.Int64, "converted": pl.Int64, "p50_seconds": pl.Float64}
    )
    if len(steps) < funnel.MIN_STEPS:
        return empty
    spec = funnel.FunnelSpec(steps, funnel.parse_window(funnel.DEFAULT_WINDOW))
    reach = funnel.reach_and_time(conn, spec, filters)
    nxt = reach.select(pl.col("step") - 1, pl.col("customers").alias("converted"), "p50_seconds")
    return (
        reach.select("step", "stage_id", pl.col("customers").alias("entered"))
        .join(nxt, on="step", how="inner")
        .select("stage_id", "entered", "converted", "p50_seconds")
    )


def live_lanes(engine: Engine, filters: Filters, min_n: int) -> pl.DataFrame:
    """One row per stage and metric lane: stage_id, lane, value, n, target, warn, status (see the module)."""

    def the_rest(c: Connection) -> dict[str, pl.DataFrame]:  # on one connection: each new one costs ~20 ms cold
        return {
            "kpis": kpis.stage_kpis_on(c, filters, min_n),
            "tickets": _tickets_per_stage(c, filters),
            "satisfaction": _satisfaction(c, filters, min_n),
            "line_2": line_fcr(c, filters, LINE_LANES["fcr_line_2"], min_n),
            "targets": kpis.target_list(c),
        }

    # the funnel pass and the stage KPIs' distinct count take about as long: one on each connection
    both = side_by_side(engine, {"funnel": lambda c: _funnel_lanes(c, filters), "rest": the_rest})
    done = {"funnel": both["funnel"], **both["rest"]}
    stages, targets = done["kpis"], done["targets"]
    rows: list[pl.DataFrame] = []

    def lane(key: str, frame: pl.DataFrame, value: pl.Expr, n: pl.Expr) -> None:
        rows.append(frame.select("stage_id", pl.lit(key).alias("lane"), value.alias("value"), n.alias("n")))

    lane("customers", stages, pl.col("customers").cast(pl.Float64), pl.col("customers"))
    for name in metrics.STAGE_METRICS:
        lane(name, stages, pl.col(name), pl.col(f"{name}_n"))
    flow = done["funnel"]
    share = metrics.percent(pl.col("converted"), pl.col("entered"))
    lane("conversion", flow, share, pl.col("entered"))
    lane("dropoff", flow, 100 - share, pl.col("entered"))
    lane("days_to_next", flow, pl.col("p50_seconds") / 86_400, pl.col("converted"))
    per_100 = stages.select("stage_id", "customers").join(done["tickets"], on="stage_id", how="left")
    lane(
        "tickets_per_100",
        per_100,
        metrics.percent(pl.col("tickets").fill_null(0), pl.col("customers")),
        pl.col("customers"),
    )
    lane("emotion", done["satisfaction"], pl.col("satisfaction"), pl.col("satisfaction_n"))
    lane("fcr_line_2", done["line_2"].filter(pl.col("fcr_n") > 0), pl.col("fcr"), pl.col("fcr_n"))
    frame = pl.concat([r.cast({"value": pl.Float64, "n": pl.Int64}) for r in rows])
    return with_lane_status(frame, targets, min_n)


def with_lane_status(frame: pl.DataFrame, targets: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """Target, warn and status of each (stage, lane) row; a stage's own target wins over the ``*`` one, and a lane
    of :data:`metrics.TARGET_FALLBACK` without one takes its fallback's."""
    frame = metrics.with_targets_long(frame, targets, "lane")
    for lane_key, fallback in metrics.TARGET_FALLBACK.items():
        theirs = frame.filter(pl.col("lane") == fallback).select(
            "stage_id", pl.col("target").alias("f_target"), pl.col("warn").alias("f_warn")
        )
        mine = pl.col("lane") == lane_key
        frame = (
            frame.join(theirs, on="stage_id", how="left")
            .with_columns(
                pl.when(mine & pl.col("target").is_null()).then("f_target").otherwise("target").alias("target"),
                pl.when(mine & pl.col("target").is_null()).then("f_warn").otherwise("warn").alias("warn"),
            )
            .drop("f_target", "f_warn")
        )
    # drop-off is the other side of conversion: without a target of its own it takes conversion's, mirrored
    conversion = frame.filter(pl.col("lane") == "conversion").select(
        "stage_id", (100 - pl.col("target")).alias("c_target"), (100 - pl.col("warn")).alias("c_warn")
    )
    frame = (
        frame.join(conversion, on="stage_id", how="left")
        .with_columns(
            pl.when((pl.col("lane") == "dropoff") & pl.col("target").is_null())
            .then(pl.struct(target=pl.col("c_target"), warn=pl.col("c_warn")))
            .otherwise(pl.struct(target=pl.col("target"), warn=pl.col("warn")))
            .struct.unnest()
        )
        .drop("c_target", "c_warn")
    )
    parts = []
    for lane in LIVE_LANES:
        part = frame.filter(pl.col("lane") == lane.key)
        if lane.higher_is_better is None:
            part = part.with_columns(pl.lit(metrics.STATUS_NO_TARGET).alias("status"))
        else:
            part = part.with_columns(
                metrics.status_expr(
                    pl.col("value"), pl.col("n") >= min_n, pl.col("target"), pl.col("warn"), lane.higher_is_better
                ).alias("status")
            )
        parts.append(part)
    return pl.concat(parts).select(list(LIVE_SCHEMA))
