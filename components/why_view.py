"""Chart builders, sentences and display tables of the pages Why they leave, Offers and Experiments (result-sized
frames in, Plotly figures and frames out; no Streamlit here)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from components.charts import empty
from data_access import metrics

REASON_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999")


def _errors(values: list[float], lo: list[float], hi: list[float]) -> dict:
    return {
        "type": "data",
        "symmetric": False,
        "array": [h - v for h, v in zip(hi, values, strict=True)],
        "arrayminus": [v - low for v, low in zip(values, lo, strict=True)],
        "color": "#333",
    }


def top_reason_sentence(overall: pl.DataFrame) -> str:
    """ "**price** is the top reason: 36.9% of 1,716 exit answers (95% interval 34.5 to 39.4)." """
    if overall.height == 0:
        return "No exit answers in this selection."
    top = overall.sort("share", descending=True).row(0, named=True)
    return (
        f"**{top['reason']}** is the top reason: {top['share']:.1f}% of {top['of']:,} exit answers "
        f"(95% interval {top['share_lo']:.1f} to {top['share_hi']:.1f})."
    )


def reasons_by(frame: pl.DataFrame, by: str) -> go.Figure:
    """Each group's share of each reason, with intervals, one bar group per value of ``by``."""
    if frame.height == 0:
        return empty("No exit answers in this selection", 320)
    fig = go.Figure()
    reasons = frame.group_by("reason").agg(pl.col("answers").sum()).sort("answers", descending=True)["reason"]
    for i, reason in enumerate(reasons.to_list()):
        rows = frame.filter(pl.col("reason") == reason).sort("group")
        values = rows["share"].to_list()
        fig.add_bar(
            x=[f"{g}<br>n={n:,}" for g, n in zip(rows["group"], rows["of"], strict=True)],
            y=values,
            name=reason,
            marker_color=REASON_COLOURS[i % len(REASON_COLOURS)],
            error_y=_errors(values, rows["share_lo"].to_list(), rows["share_hi"].to_list()),
            hovertemplate=reason + ": %{y:.1f}% of the exit answers<extra></extra>",
        )
    return fig.update_layout(
        barmode="group",
        height=380,
        yaxis_title="share of exit answers (%)",
        xaxis_title=by,
        legend_title="reason",
        margin={"t": 30},
    )


def reasons_trend(frame: pl.DataFrame) -> go.Figure:
    """Each reason's share of the month's exit answers."""
    if frame.height == 0:
        return empty("No exit answers in this selection", 300)
    fig = go.Figure()
    reasons = frame.group_by("reason").agg(pl.col("answers").sum()).sort("answers", descending=True)["reason"]
    for i, reason in enumerate(reasons.to_list()):
        rows = frame.filter(pl.col("reason") == reason).sort("group")
        fig.add_scatter(
            x=rows["group"].to_list(),
            y=rows["share"].to_list(),
            mode="lines+markers",
            name=reason,
            line_color=REASON_COLOURS[i % len(REASON_COLOURS)],
            customdata=rows["of"].to_list(),
            hovertemplate=reason + " %{y:.1f}% of %{customdata} answers<extra></extra>",
        )
    return fig.update_layout(height=320, yaxis_title="share of the month's exit answers (%)", margin={"t": 30})


def bad_stage_table(frame: pl.DataFrame, stages: dict[str, str]) -> pl.DataFrame:
    """Per stage of the last bad score: answers, and the top reason with its share."""
    if frame.height == 0:
        return pl.DataFrame(schema={"last bad score at": pl.String, "exit answers": pl.Int64})
    top = frame.sort("answers", descending=True).group_by("stage_id", maintain_order=True).first()
    return top.select(
        pl.col("stage_id").replace(stages).alias("last bad score at"),
        pl.col("of").alias("exit answers"),
        pl.col("reason").alias("top reason"),
        pl.format("{}% ({}–{})", pl.col("share").round(1), pl.col("share_lo").round(1), pl.col("share_hi").round(1))
        .alias("its share (95% interval)"),
    ).sort("exit answers", descending=True)  # fmt: skip


def offers_figure(frame: pl.DataFrame) -> go.Figure:
    """Customers kept 90 days after the offer, per offer type: accepted, declined, and those not offered."""
    if frame.height == 0:
        return empty("No retention offers in this selection", 340)
    fig = go.Figure()
    colours = {"accepted": "#009E73", "declined": "#D55E00", "not offered": "#999999"}
    for outcome in ("accepted", "declined", "not offered"):
        rows = frame.filter(pl.col("outcome") == outcome)
        if rows.height == 0:
            continue
        values = rows["kept_share"].to_list()
        fig.add_bar(
            x=[f"{t}<br>n={n:,}" for t, n in zip(rows["offer_type"], rows["customers"], strict=True)],
            y=values,
            name=outcome,
            marker_color=colours[outcome],
            error_y=_errors(values, rows["kept_lo"].to_list(), rows["kept_hi"].to_list()),
            hovertemplate=outcome + ": %{y:.1f}% kept 90 days<extra></extra>",
        )
    return fig.update_layout(barmode="group", height=380, yaxis_title="kept 90 days after (%)", margin={"t": 30})


def best_offer_sentence(frame: pl.DataFrame, min_n: int) -> str:
    """Which accepted offer keeps the most customers, against the one that keeps the fewest."""
    taken = frame.filter((pl.col("outcome") == "accepted") & (pl.col("customers") >= min_n))
    if taken.height < 2:
        return f"Too few accepted offers of each type (fewer than {min_n}) to compare them."
    ranked = taken.sort("kept_share", descending=True)
    best, worst = ranked.row(0, named=True), ranked.row(-1, named=True)
    apart = best["kept_lo"] > worst["kept_hi"]
    return (
        f"Of the customers who accepted, the **{best['offer_type']}** kept {best['kept_share']:.1f}% for 90 days "
        f"(95% interval {best['kept_lo']:.1f} to {best['kept_hi']:.1f}, n = {best['customers']:,}) against "
        f"{worst['kept_share']:.1f}% for the **{worst['offer_type']}** ({worst['kept_lo']:.1f} to "
        f"{worst['kept_hi']:.1f}, n = {worst['customers']:,})"
        + (": the intervals do not overlap." if apart else "; the intervals overlap, so this may be chance.")
    )


def outcomes_table(frame: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    return frame.select(
        *([by] if by else []),
        pl.col("offer_type").alias("offer"),
        "outcome",
        "customers",
        pl.col("kept").alias("kept 90 days"),
        pl.format("{}% ({}–{})", pl.col("kept_share").round(1), pl.col("kept_lo").round(1), pl.col("kept_hi").round(1))
        .alias("kept share (95% interval)"),
        pl.col("revenue").round(2).alias("revenue in the 90 days"),
    )  # fmt: skip


def acceptance_table(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col("offer_type").alias("offer"),
        "offers",
        "accepted",
        pl.format(
            "{}% ({}–{})", pl.col("acceptance").round(1), pl.col("acceptance_lo").round(1),
            pl.col("acceptance_hi").round(1),
        ).alias("accepted share (95% interval)"),
    )  # fmt: skip


METRIC_WORDS = {
    "retention_90d": "not churned 90 days after assignment",
    "conversion": "reached the next funnel step within 90 days",
    "csat": "CSAT answers scoring 4-5 at the stage after assignment",
}


def verdict_line(v: metrics.Verdict) -> str:
    if v.verdict == metrics.SRM:
        return (
            f"**SRM: do not trust.** The assignment counts are too uneven for an even split (chi-square p = "
            f"{v.srm_p:.2g} < {metrics.SRM_ALPHA}): something in the assignment is broken."
        )
    if v.verdict == metrics.NOT_ENOUGH:
        return "**Not enough data** to judge yet."
    lift = (
        f"{v.variant} {v.variant_rate:.1f}% against {v.control} {v.control_rate:.1f}%: lift {v.lift:+.1f} points "
        f"(95% interval {v.lift_lo:+.1f} to {v.lift_hi:+.1f}), p = {v.p_value:.2g}; this sample detects a lift of "
        f"{v.mde:.1f} points with 80% power"
    )
    if v.verdict == metrics.WINNER:
        return f"**Winner: {v.winner}.** {lift}."
    return f"**No difference detected.** {lift}."


def variants_figure(variants: pl.DataFrame, metric_name: str) -> go.Figure:
    rows = variants.filter(pl.col("n") > 0)
    if rows.height == 0:
        return empty("Nothing to judge yet", 260)
    k, n = rows["k"].cast(pl.Float64), rows["n"].cast(pl.Float64)
    rate = (100 * k / n).to_list()
    lo, hi = (
        pl.DataFrame({"k": k, "n": n})
        .select(*[e.alias(a) for e, a in zip(metrics.wilson(pl.col("k"), pl.col("n")), ("lo", "hi"), strict=True)])
        .get_columns()
    )
    fig = go.Figure()
    fig.add_bar(
        x=[f"{v}<br>n={c:,}" for v, c in zip(rows["variant"], rows["n"], strict=True)],
        y=rate,
        marker_color=["#999999" if v == metrics.control_of(rows["variant"].to_list()) else "#0072B2"
                      for v in rows["variant"]],
        error_y=_errors(rate, lo.to_list(), hi.to_list()),
        hovertemplate="%{y:.1f}%<extra></extra>",
    )  # fmt: skip
    return fig.update_layout(height=280, yaxis_title="share (%)", margin={"t": 20})
