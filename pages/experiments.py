"""Experiments: each experiment's variants on its primary metric with intervals, the lift and its interval, the
p-value, a sample-ratio-mismatch check, the minimum detectable effect and a plain verdict."""

import streamlit as st

from components import session, shell
from components.builders import labels, tables, why_view
from data_access import i18n, metrics
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _

url, chosen = shell.start("experiments")
newest = session.guarded(cache.freshness, url)
results = session.guarded(cache.experiment_results, url, chosen, newest, SETTINGS.min_n)
st.caption(
    chosen.customer_caption()
    + " · "
    + _(
        "every assignment of each experiment; a 90-day metric judges only assignments at least 90 days before the "
        "newest data · tests from scipy.stats: chi-square for the lift and the sample ratio, 95%\u00a0intervals, the "
        "minimum detectable effect at 80% power; fewer than {n} per variant: not enough data"
    ).format(n=SETTINGS.min_n)
)
if not results:
    st.info(_("No experiments yet. Load experiment_info and experiments on the Data page."))
    st.stop()
shown = {metrics.WINNER: st.success, metrics.NO_DIFFERENCE: st.info, metrics.NOT_ENOUGH: st.info}
for info, variants, verdicts in results:
    st.subheader(info["experiment"])
    metric = _(why_view.METRIC_WORDS[info["primary_metric"]])
    if info["stage_id"]:
        metric = _("{metric} at {stage}").format(metric=metric, stage=info["stage_id"])
    span = (
        _("{start} to {end}").format(start=i18n.day(info["start_at"]), end=i18n.day(info["end_at"]))
        if info["end_at"]
        else _("from {start} (running)").format(start=i18n.day(info["start_at"]))
    )
    st.caption(
        f"{info['hypothesis']} · "
        + _("primary metric: {metric}").format(metric=metric)
        + f" · {span}"
        + (" · " + _("owner {owner}").format(owner=info["owner"]) if info["owner"] else "")
    )
    if not verdicts:
        st.info(_("Fewer than two variants assigned in this selection."))
        continue
    for v in verdicts:
        shown.get(v.verdict, st.error)(why_view.verdict_line(v))
    left, right = st.columns([2, 3])
    left.plotly_chart(why_view.variants_figure(variants, info["primary_metric"]), width="stretch")
    right.dataframe(tables.arrow(labels.headers(why_view.variants_table(variants))), hide_index=True, width="stretch")
    right.caption(
        _("assigned: customers given the variant; judged: those the metric judges; successes: those it counts.")
    )
