"""Support quality by line: where the service adds to churn, and who or what to fix."""

import streamlit as st

from components import live_panel, session, shell
from components.builders import labels, support_view, tables
from data_access import i18n, metrics
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import N_, _
from data_access.queries import overview_words

url, chosen = shell.start("support")
live_panel.live(url, chosen)
left, right = st.columns([1, 1])
verify_days = left.number_input(
    _("Verify a bot resolution for (days)"),
    min_value=0,
    max_value=90,
    value=metrics.VERIFY_DAYS,
    step=1,
    key="support_verify_days",
    help=_("A bot 'resolution' is not counted as contained when the customer opens another ticket within these days."),
)
GRAINS = {"week": N_("week"), "month": N_("month")}
grain = (
    right.segmented_control(
        _("Trends by"), list(GRAINS), format_func=lambda g: _(GRAINS[g]), default="month", key="support_grain"
    )
    or "month"
)
st.caption(
    chosen.caption()
    + " · "
    + _(
        "tickets counted by the day they were opened · figures on fewer than {n} tickets are marked not enough data"
    ).format(n=SETTINGS.min_n)
)

lines = session.guarded(cache.support_lines, url, chosen, int(verify_days), SETTINGS.min_n)
if lines.filter(lines["line"] == "all")["tickets"][0] == 0:
    st.info(_("No tickets in this selection. Widen the period or the filters."))
    st.stop()
fresh = session.guarded(cache.freshness, url)
reference = chosen.period.end if chosen.period.end is not None else fresh
st.subheader(_("Per line"))
st.dataframe(tables.arrow(support_view.lines_table(lines, reference, SETTINGS.min_n)), hide_index=True, width="stretch")
st.markdown(support_view.escalation_sentence(lines))
st.caption(
    _(
        "SLA: first response within 5 min / 1 h / 4 h and resolution within 4 h / 24 h / 72 h on lines 1 / 2 / 3. "
        "FCR = resolved with one contact and not reopened. Escalated = ended above line 1."
    )
)
compared = ["fcr", "ticket_csat", "reopen_rate", "escalation_rate"]
if "support_metric" not in st.session_state:  # a link (an alert's) opens on its metric
    wanted = st.query_params.get("metric")
    st.session_state["support_metric"] = wanted if wanted in compared else "fcr"
metric = (
    st.segmented_control(
        _("Compare lines on"),
        compared,
        format_func=lambda m: _(metrics.METRICS[m].label),
        key="support_metric",
    )
    or "fcr"
)
st.plotly_chart(support_view.rate_by_line(lines, metric, SETTINGS.min_n), width="stretch")
events = session.guarded(cache.business_events, url, chosen.scope)
trend = session.guarded(cache.support_trend, url, chosen, grain, int(verify_days), SETTINGS.min_n, metric)
st.plotly_chart(support_view.trend_figure(trend, metric, events), width="stretch")

st.subheader(_("Problem clusters"))
clusters = session.guarded(cache.support_clusters, url, chosen, grain, SETTINGS.min_n)
for spike in clusters["spikes"].iter_rows(named=True):
    st.warning(
        _(
            "Spike: {tickets} {category} tickets from {segment} customers in the week of {week}, against {baseline} "
            "a week over the 8 weeks before."
        ).format(**overview_words.spike_fields(spike)),
        icon=":material/trending_up:",
    )
st.plotly_chart(support_view.cluster_heatmap(clusters["clusters"], SETTINGS.min_n), width="stretch")
st.caption(_("First contact resolution by problem cluster and support line."))
st.dataframe(
    tables.arrow(support_view.clusters_table(clusters["clusters"], SETTINGS.min_n)), hide_index=True, width="stretch"
)
a, b = st.columns(2)
a.plotly_chart(support_view.cluster_trend_figure(clusters["trend"], events), width="stretch")
b.dataframe(tables.arrow(labels.headers(clusters["sources"])), hide_index=True, width="stretch")
b.caption(_("Where in the journey each cluster's problems arose (the ticket's stage)."))

st.subheader(_("Agents"))
agents = session.guarded(cache.support_agents, url, chosen, SETTINGS.min_n)
flagged = agents.filter(agents["leaves_unresolved"]) if agents.height else agents
if flagged.height:
    st.warning(
        _("Leave requests unresolved more often than the rest of their line (FCR lower, p < 0.05): ")
        + ", ".join(
            _("{agent} (line {line})").format(agent=r["agent_id"], line=r["final_line"])
            for r in flagged.iter_rows(named=True)
        ),
        icon=":material/person_alert:",
    )
st.dataframe(tables.arrow(support_view.agents_table(agents, SETTINGS.min_n)), hide_index=True, width="stretch")

st.subheader(_("Escalation flow"))
effect = session.guarded(cache.support_flow_and_churn, url, chosen)
st.plotly_chart(support_view.sankey(effect["flow"]), width="stretch")

st.subheader(_("Support and churn"))
churn = effect["churn"]
st.dataframe(
    tables.arrow(labels.headers(labels.words(churn.select("group", "customers", "churned", "churn_rate"), "group"))),
    hide_index=True,
)
row = churn.row(0, named=True)
if row["difference"] is not None:

    def signed(value: float) -> str:
        return ("+" if value >= 0 else "") + i18n.number(value, 1)

    st.markdown(
        _(
            "Customers with an unresolved or reopened ticket, or a ticket rated 1-2, churned **{difference} points** "
            "against other customers with a ticket in the period (95%\u00a0interval {lo} to {hi})."
        ).format(difference=signed(row["difference"]), lo=signed(row["difference_lo"]), hi=signed(row["difference_hi"]))
    )
