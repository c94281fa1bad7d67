"""KPI review: every stage's KPIs in two periods side by side, against the targets, with what changed and whether the
change is real (the tests are in the README), and the report to hand round."""

from datetime import date

import streamlit as st

from components import auth, downloads, editors, review_notes, session, shell
from components.builders import journey_view, review_pdf, review_view
from data_access import access, i18n, reviews
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.filters import Period
from data_access.i18n import _
from data_access.queries import review

url, chosen = shell.start("review")
span = session.guarded(cache.data_range, url)
stages = session.guarded(cache.stages, url)
if span is None or stages.height == 0:
    st.info(_("No journey events yet: load your data on the Data page, then review two periods here."))
    st.stop()
default_a, default_b = review.half_years(span[1].date())
NEW = ""  # the option of a new review (a saved review's name is never empty)
saved = session.guarded(cache.saved_reviews, url, chosen.scope)
opened_name = st.selectbox(
    _("Review"),
    [NEW, *saved["name"].to_list()],
    format_func=lambda n: n or _("A new review of the data as it is now"),
    key="review_open",
)
opened = None if opened_name == NEW else session.guarded(cache.saved_review, url, opened_name, chosen.scope)
editors.last_save()


def two_days(label: str, default: Period, key: str) -> tuple[date, date] | None:
    picked = st.date_input(label, value=(default.start.date(), default.last_day), key=key, format="YYYY-MM-DD")
    return picked if isinstance(picked, tuple) and len(picked) == 2 else None


if opened is None:
    left, right = st.columns(2)
    with left:
        a_days = two_days(_("Period A (before)"), default_a, "review_a")
    with right:
        b_days = two_days(_("Period B (after)"), default_b, "review_b")
    if a_days is None or b_days is None:
        st.info(_("Pick the first and the last day of both periods."))
        st.stop()
    a, b = Period.days(*a_days), Period.days(*b_days)
    customers = chosen.with_period(Period())  # the two periods replace the sidebar's
    frame = session.guarded(cache.review, url, customers, a, b, SETTINGS.min_n)
else:  # the figures as they were when it was saved; the sidebar's filters do not apply to it
    a, b, customers, frame = opened.a, opened.b, opened.filters, opened.frame
    st.info(
        _("Saved on {moment} UTC: its figures as they were then, whatever has arrived since.").format(
            moment=i18n.moment(opened.saved_at)
        )
    )
names = dict(stages.select("stage_id", "name").iter_rows())
fresh = session.guarded(cache.freshness, url) if opened is None else opened.data_as_of
about = review_view.about(a, b, customers, fresh, SETTINGS.min_n, opened.name if opened else None)
st.caption(" · ".join(about))

said = review.callouts(frame, names)
better, worse = st.columns(2)
with better:
    st.markdown("**" + _("Clearest improvements") + "**")
    for line in said[review.IMPROVED] or [_("No significant improvement.")]:
        st.markdown(f"- {line}")
with worse:
    st.markdown("**" + _("Clearest declines") + "**")
    for line in said[review.DECLINED] or [_("No significant decline.")]:
        st.markdown(f"- {line}")

st.subheader(_("Period B's journey, coloured by the change against A"))
text, colours = review_view.change_grid(frame, stages)
st.dataframe(journey_view.styled(text, colours), width="stretch", key="review_grid")
st.markdown(review_view.legend(), unsafe_allow_html=True)

st.subheader(_("Every stage and KPI"))
st.dataframe(review_view.styled_table(frame, names), hide_index=True, width="stretch", key="review_table")
st.plotly_chart(review_view.changes_chart(frame, names), width="stretch")

st.subheader(_("Experiments"))
judged = session.guarded(cache.experiment_results, url, customers.with_period(Period()), b.end, SETTINGS.min_n)
tested = review_view.experiment_lines(judged)
for line in tested:
    st.markdown(f"- {line}")
if not judged:
    st.caption(_("No experiments in the store."))
else:
    st.caption(_("Each experiment judged on its assignments as of period B's end; see the Experiments page."))
report_about = review_view.report_lines(about, tested)

st.subheader(_("Notes: what was done, what is planned"))
tried = session.guarded(cache.notes_before, url, opened.name if opened else None, chosen.scope)
if tried.height:
    st.caption(_("Tried last time: the notes of the saved review {name}.").format(name=tried["review"][0]))
if auth.current().may(access.EDIT):
    notes_key = "review_notes" if opened is None else f"review_notes_{saved['name'].to_list().index(opened_name)}"
    notes = review_notes.editor(frame, names, tried, key=notes_key)
    reported = reviews.with_notes(frame, notes)  # what is saved and what the reports show
    suggested = opened.name if opened else _("{a} against {b}").format(a=a.caption(), b=b.caption())
    review_notes.save_form(url, reported, a, b, customers.with_scope(chosen.scope), suggested)
else:  # leadership reads the review and its notes; the analysts write them
    reported = reviews.with_notes(frame)
    review_notes.read_only(reported, names, tried)

# built when a button is clicked, not on every rerun (the HTML carries plotly.js, about 5 MB)
xlsx_col, html_col, pdf_col, _rest = st.columns([1, 1, 1, 2])
with xlsx_col:
    downloads.file_button(
        _("Report as XLSX"),
        lambda: review_view.to_xlsx(reported, stages, report_about, said),
        f"kpi_review_{b.last_day}.xlsx",
        downloads.XLSX,
        "review_xlsx",
        about[0],
    )
with html_col:
    downloads.file_button(
        _("Report as HTML"),
        lambda: review_view.to_html(reported, stages, report_about, said),
        f"kpi_review_{b.last_day}.html",
        downloads.HTML,
        "review_html",
        about[0],
    )
with pdf_col:
    downloads.file_button(
        _("Report as PDF"),
        lambda: review_pdf.to_pdf(reported, stages, report_about, said),
        f"kpi_review_{b.last_day}.pdf",
        downloads.PDF,
        "review_pdf",
        about[0],
    )
