"""Chart builders, sentences and display tables of the pages Why they leave, Offers and Experiments (result-sized
frames in, Plotly figures and frames out; no Streamlit here)."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

from components.builders.charts import empty, localise
from data_access import i18n, metrics
from data_access.filters import dimension_label
from data_access.i18n import N_, _
from data_access.queries.why import ACCEPTED, DECLINED, NOT_OFFERED

REASON_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999")


def _errors(values: list[float], lo: list[float], hi: list[float]) -> dict:
    return {
        "type": "data",
        "symmetric": False,
        "array": [h - v for h, v in zip(hi, values, strict=True)],
        "arrayminus": [v - low for v, low in zip(values, lo, strict=True)],
        "color": "#333",
    }


def interval(share: float | None, lo: float | None, hi: float | None) -> str:
    """A share with its interval, in percent: "36.9% (34.5–39.4)"."""
    if share is None:
        return "–"
    return f"{i18n.percent(share / 100, 1)} ({i18n.number(lo or 0, 1)}–{i18n.number(hi or 0, 1)})"


def top_reason_sentence(overall: pl.DataFrame) -> str:
    """ "**price** is the top reason: 36.9% of 1,716 exit answers (95% interval 34.5 to 39.4)." """
    if overall.height == 0:
        return _("No exit answers in this selection.")
    top = overall.sort("share", descending=True).row(0, named=True)
    return _("**{reason}** is the top reason: {share} of {n} exit answers (95%\u00a0interval {lo} to {hi}).").format(
        reason=_(top["reason"]),
        share=i18n.percent(top["share"] / 100, 1),
        n=i18n.number(top["of"]),
        lo=i18n.number(top["share_lo"], 1),
        hi=i18n.number(top["share_hi"], 1),
    )


def reasons_by(frame: pl.DataFrame, by: str) -> go.Figure:
    """Each group's share of each reason, with intervals, one bar group per value of ``by``."""
    if frame.height == 0:
        return empty(_("No exit answers in this selection"), 320)
    fig = go.Figure()
    reasons = frame.group_by("reason").agg(pl.col("answers").sum()).sort("answers", descending=True)["reason"]
    for i, reason in enumerate(reasons.to_list()):
        rows = frame.filter(pl.col("reason") == reason).sort("group")
        values = rows["share"].to_list()
        fig.add_bar(
            x=[f"{g}<br>n={i18n.number(n)}" for g, n in zip(rows["group"], rows["of"], strict=True)],
            y=values,
            name=_(reason),
            marker_color=REASON_COLOURS[i % len(REASON_COLOURS)],
            error_y=_errors(values, rows["share_lo"].to_list(), rows["share_hi"].to_list()),
            hovertemplate=_(reason) + ": " + _("%{y:.1f}%\u00a0of the exit answers") + "<extra></extra>",
        )
    return localise(fig).update_layout(
        barmode="group",
        height=380,
        yaxis_title=_("share of exit answers (%)"),
        xaxis_title=dimension_label(by),
        legend_title=_("reason"),
        margin={"t": 30},
    )


def reasons_trend(frame: pl.DataFrame) -> go.Figure:
    """Each reason's share of the month's exit answers."""
    if frame.height == 0:
        return empty(_("No exit answers in this selection"), 300)
    fig = go.Figure()
    reasons = frame.group_by("reason").agg(pl.col("answers").sum()).sort("answers", descending=True)["reason"]
    for i, reason in enumerate(reasons.to_list()):
        rows = frame.filter(pl.col("reason") == reason).sort("group")
        fig.add_scatter(
            x=[date.fromisoformat(g) for g in rows["group"]],
            y=rows["share"].to_list(),
            mode="lines+markers",
            name=_(reason),
            line_color=REASON_COLOURS[i % len(REASON_COLOURS)],
            customdata=list(zip([_month(g) for g in rows["group"]], rows["of"].to_list(), strict=True)),
            hovertemplate="%{customdata[0]}: "
            + _(reason)
            + " "
            + _("%{y:.1f}%\u00a0of %{customdata[1]} answers")
            + "<extra></extra>",
        )
    return localise(fig).update_layout(
        height=320, yaxis_title=_("share of the month's exit answers (%)"), margin={"t": 30}
    )


def _month(first_day: str) -> str:
    """A month's first day as the queries give it ("2026-03-01"), as a month in the current language."""
    return i18n.short_month(date.fromisoformat(first_day))


def bad_stage_table(frame: pl.DataFrame, stages: dict[str, str]) -> pl.DataFrame:
    """Per stage of the last bad score: answers, and the top reason with its share."""
    if frame.height == 0:
        return pl.DataFrame(schema={_("last bad score at"): pl.String, _("exit answers"): pl.Int64})
    top = frame.sort("answers", descending=True).group_by("stage_id", maintain_order=True).first()
    top = top.sort("of", descending=True)
    return pl.DataFrame(
        {
            _("last bad score at"): top["stage_id"].replace(stages).to_list(),
            _("exit answers"): top["of"].to_list(),
            _("top reason"): [_(r) for r in top["reason"]],
            _("its share (95%\u00a0interval)"): [
                interval(*r) for r in top.select("share", "share_lo", "share_hi").iter_rows()
            ],
        }
    )


def offers_figure(frame: pl.DataFrame) -> go.Figure:
    """Customers kept 90 days after the offer, per offer type: accepted, declined, and those not offered."""
    if frame.height == 0:
        return empty(_("No retention offers in this selection"), 340)
    fig = go.Figure()
    colours = {ACCEPTED: "#009E73", DECLINED: "#D55E00", NOT_OFFERED: "#999999"}
    for outcome in (ACCEPTED, DECLINED, NOT_OFFERED):
        rows = frame.filter(pl.col("outcome") == outcome)
        if rows.height == 0:
            continue
        values = rows["kept_share"].to_list()
        fig.add_bar(
            x=[f"{t}<br>n={i18n.number(n)}" for t, n in zip(rows["offer_type"], rows["customers"], strict=True)],
            y=values,
            name=_(outcome),
            marker_color=colours[outcome],
            error_y=_errors(values, rows["kept_lo"].to_list(), rows["kept_hi"].to_list()),
            hovertemplate=_(outcome) + ": " + _("%{y:.1f}% kept 90 days") + "<extra></extra>",
        )
    return localise(fig).update_layout(
        barmode="group", height=380, yaxis_title=_("kept 90 days after (%)"), margin={"t": 30}
    )


def best_offer_sentence(frame: pl.DataFrame, min_n: int) -> str:
    """Which accepted offer keeps the most customers, against the one that keeps the fewest."""
    taken = frame.filter((pl.col("outcome") == ACCEPTED) & (pl.col("customers") >= min_n))
    if taken.height < 2:
        return _("Too few accepted offers of each type (fewer than {n}) to compare them.").format(n=min_n)
    ranked = taken.sort("kept_share", descending=True)
    best, worst = ranked.row(0, named=True), ranked.row(-1, named=True)
    apart = best["kept_lo"] > worst["kept_hi"]
    return _(
        "Of the customers who accepted, the **{best}** kept {best_share} for 90 days (95%\u00a0interval {best_lo} to "
        "{best_hi}, n = {best_n}) against {worst_share} for the **{worst}** ({worst_lo} to {worst_hi}, n = "
        "{worst_n})"
    ).format(
        best=best["offer_type"],
        best_share=i18n.percent(best["kept_share"] / 100, 1),
        best_lo=i18n.number(best["kept_lo"], 1),
        best_hi=i18n.number(best["kept_hi"], 1),
        best_n=i18n.number(best["customers"]),
        worst=worst["offer_type"],
        worst_share=i18n.percent(worst["kept_share"] / 100, 1),
        worst_lo=i18n.number(worst["kept_lo"], 1),
        worst_hi=i18n.number(worst["kept_hi"], 1),
        worst_n=i18n.number(worst["customers"]),
    ) + (_(": the intervals do not overlap.") if apart else _("; the intervals overlap, so this may be chance."))


def outcomes_table(frame: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    columns: dict[str, list] = {dimension_label(by): frame[by].to_list()} if by else {}
    columns |= {
        _("offer"): frame["offer_type"].to_list(),
        _("outcome"): [_(o) for o in frame["outcome"]],
        _("customers"): frame["customers"].to_list(),
        _("kept 90 days"): frame["kept"].to_list(),
        _("kept share (95%\u00a0interval)"): [
            interval(*r) for r in frame.select("kept_share", "kept_lo", "kept_hi").iter_rows()
        ],
        _("revenue in the 90 days"): frame["revenue"].round(2).to_list(),
    }
    return pl.DataFrame(columns)


def acceptance_table(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(
        {
            _("offer"): frame["offer_type"].to_list(),
            _("offers"): frame["offers"].to_list(),
            _("accepted"): frame["accepted"].to_list(),
            _("accepted share (95%\u00a0interval)"): [
                interval(*r) for r in frame.select("acceptance", "acceptance_lo", "acceptance_hi").iter_rows()
            ],
        }
    )


METRIC_WORDS = {
    "retention_90d": N_("not churned 90 days after assignment"),
    "conversion": N_("reached the next funnel step within 90 days"),
    "csat": N_("CSAT answers scoring 4-5 at the stage after assignment"),
}


def verdict_line(v: metrics.Verdict) -> str:
    if v.verdict == metrics.SRM:
        return _(
            "**SRM: do not trust.** The assignment counts are too uneven for an even split (chi-square p = {p} < "
            "{alpha}): something in the assignment is broken."
        ).format(p=_significant(v.srm_p), alpha=i18n.number(metrics.SRM_ALPHA, 3, least=0))
    if v.verdict == metrics.NOT_ENOUGH:
        return _("**Not enough data** to judge yet.")
    lift = _(
        "{variant} {variant_rate} against {control} {control_rate}: lift {lift} points "
        "(95%\u00a0interval {lo} to {hi}), p = {p}; this sample detects a lift of {mde} points with 80% power"
    ).format(
        variant=v.variant,
        variant_rate=i18n.percent(v.variant_rate / 100, 1),
        control=v.control,
        control_rate=i18n.percent(v.control_rate / 100, 1),
        lift=_signed(v.lift),
        lo=_signed(v.lift_lo),
        hi=_signed(v.lift_hi),
        p=_significant(v.p_value),
        mde=i18n.number(v.mde, 1),
    )
    if v.verdict == metrics.WINNER:
        return _("**Winner: {winner}.** {lift}.").format(winner=v.winner, lift=lift)
    return _("**No difference detected.** {lift}.").format(lift=lift)


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "") + i18n.number(value, 1)


def _significant(p: float) -> str:
    """A p-value to two significant digits, as ``:.2g`` writes it, with the language's decimal mark."""
    text = f"{p:.2g}".replace(".", i18n.separators()[0])
    if "e" not in text:
        return text
    mantissa, power = text.split("e")  # 1.2e-05: 1.2·10⁻⁵, with no English letter in it
    return f"{mantissa}·10{str(int(power)).translate(_SUPERSCRIPTS)}"


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def variants_figure(variants: pl.DataFrame, metric_name: str) -> go.Figure:
    rows = variants.filter(pl.col("n") > 0)
    if rows.height == 0:
        return empty(_("Nothing to judge yet"), 260)
    k, n = rows["k"].cast(pl.Float64), rows["n"].cast(pl.Float64)
    rate = (100 * k / n).to_list()
    lo, hi = (
        pl.DataFrame({"k": k, "n": n})
        .select(*[e.alias(a) for e, a in zip(metrics.wilson(pl.col("k"), pl.col("n")), ("lo", "hi"), strict=True)])
        .get_columns()
    )
    fig = go.Figure()
    fig.add_bar(
        x=[f"{v}<br>n={i18n.number(c)}" for v, c in zip(rows["variant"], rows["n"], strict=True)],
        y=rate,
        marker_color=["#999999" if v == metrics.control_of(rows["variant"].to_list()) else "#0072B2"
                      for v in rows["variant"]],
        error_y=_errors(rate, lo.to_list(), hi.to_list()),
        hovertemplate="%{y:.1f}%<extra></extra>",
    )  # fmt: skip
    return localise(fig).update_layout(height=280, yaxis_title=_("share (%)"), margin={"t": 20})


def variants_table(variants: pl.DataFrame) -> pl.DataFrame:
    """An experiment's variants as the table shows them: ``n`` and ``k`` named in words (a bare "k" reads as
    "thousand" in some languages)."""
    return variants.rename({"n": "judged", "k": "successes"})
