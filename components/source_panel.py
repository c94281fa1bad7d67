"""The Data page's "connect a tool's export" panel: drop an export as it comes (Zendesk, PostHog, Stripe...), see the
source recognised from its headers and the column picked for each contract column (changeable), set what the file
does not say (its time zone, the stage of survey answers), read the first mapped rows and the report, then load it
(all or nothing) and save the mapping by name."""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl
import streamlit as st

from components import auth, session, writes
from components.builders import tables
from data_access import access, i18n, schema, sources
from data_access import streamlit_cache as cache
from data_access.i18n import _
from data_access.loading import ingest
from data_access.loading.ingest import LoadRejected, Problems
from data_access.sources import reading, saved
from data_access.sources.mapping import PSEUDO
from data_access.sources.shaping import File, value_table

_DONE = "source_last_load"
_PREPARED = "source_prepared"  # (what it was prepared from, the Prepared or the refusal)
PRESET = ""  # the column choice that keeps the source's own pick
SURVEYS = tuple(schema.SURVEY_RANGES)


def _columns_picked(source: sources.Source, header: list[str], key: str) -> dict[str, str]:
    """A choice per contract column of the file's column that holds it; what differs from the source's pick."""
    table = schema.TABLES_BY_NAME[source.table]
    names = [c.name for c in schema.contract_columns(table) if c.name != "stage_id" or source.family != "events"]
    names += ["email"] + (["event"] if source.family == "events" else [])
    chosen: dict[str, str] = {}
    file = File(pl.DataFrame(schema=dict.fromkeys(header, pl.String)), None)  # matches headers as the load does
    cells = st.columns(3)
    for i, name in enumerate(names):
        field = source.fields.get(PSEUDO.get(name, name))
        present = file.present(*field.aliases) if field else []
        own = (
            _("the source's rule: {note}").format(note=field.note)
            if field is not None and field.derive is not None
            else (present[0] if present else _("(none)"))
        )
        pick = cells[i % 3].selectbox(
            name,
            [PRESET, *header],
            format_func=lambda c, o=own: _("{column} (as the source reads it)").format(column=o) if c == PRESET else c,
            key=f"{key}_col_{name}",
        )
        if pick != PRESET:
            chosen[name] = pick
    return chosen


def _values_translated(source: sources.Source, raw: pl.DataFrame | None, key: str) -> dict[str, dict[str, Any]]:
    """The file's values of each column with a value map, and what each becomes (editable); what the edits change."""
    mapped = [c for c, f in source.fields.items() if f.values and c in schema.TABLES_BY_NAME[source.table].c]
    tables = {c: value_table(raw, source, c) for c in mapped} if raw is not None else {}
    tables = {c: v for c, v in tables.items() if v.height}
    if not tables:
        return {}
    changed: dict[str, dict[str, Any]] = {}
    shown = {"value": _("in the file"), "rows": _("rows"), "becomes": _("becomes")}
    with st.expander(_("Values: how the file's values become the contract's")):
        st.caption(_("An empty cell is a value the map does not know: a category becomes other, a line is refused."))
        for column, before in tables.items():  # every column's editor, so that no edit is lost
            st.markdown(f"`{column}`")
            edited = st.data_editor(
                before.to_pandas().rename(columns=shown),
                key=f"{key}_values_{column}",
                hide_index=True,
                width="stretch",
                disabled=[shown["value"], shown["rows"]],
                column_config={shown["becomes"]: st.column_config.TextColumn()},
            ).rename(columns={v: k for k, v in shown.items()})
            for value, was, now in zip(before["value"], before["becomes"], edited["becomes"], strict=True):
                now = None if now is None or str(now).strip() in ("", "nan", "None") else str(now).strip()
                if now is not None and now != was:
                    changed.setdefault(column, {})[value] = now
    return changed


def _what_the_file_lacks(source: sources.Source, stages: list[str], key: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if source.family == "answers":
        left, right = st.columns(2)
        defaults["stage_id"] = left.selectbox(_("The stage the answers are about"), stages, key=f"{key}_stage")
        if source.generic or "survey" not in source.fields:
            defaults["survey"] = right.selectbox(_("The survey"), SURVEYS, key=f"{key}_survey")
    return defaults


def connect(url: str) -> None:
    """The panel, for a viewer who may load data."""
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(done)
    upload = st.file_uploader(
        _("An export file (CSV, JSON lines, Parquet or Excel; zipped or gzipped too)"),
        type=sorted({*(s.lstrip(".") for s in reading.KINDS), "gz", "zip"}),
        key="source_file",
    )
    if upload is None:
        st.caption(_("Sources: {names}.").format(names=", ".join(_(s.title) for s in sources.SOURCES)))
        return
    too_big = ingest.upload_problem(upload.name, upload.size)
    if too_big:
        st.error(_("Nothing was loaded: {reason}.").format(reason=too_big))
        return
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    problems = Problems()
    peek = reading.read(upload.name, data, 1, problems)
    if peek is None:
        st.error("\n\n".join(str(p) for p in problems.shown))
        return
    engine = cache.read_engine(url)
    names = session.guarded(saved.listed, engine)["name"].to_list()
    guess = sources.recognise(peek.columns)
    top = st.columns(2)
    chosen_saved = top[0].selectbox(
        _("A saved mapping"), [PRESET, *names], format_func=lambda n: _("(none)") if n == PRESET else n
    )
    base = session.guarded(saved.resolve, engine, chosen_saved) if chosen_saved else None
    order = list(sources.BY_NAME)
    start = base.source if base else (guess.name if guess else order[0])
    name = top[1].selectbox(
        _("Source"),
        order,
        index=order.index(start),
        format_func=lambda n: _(sources.BY_NAME[n].title),
        disabled=base is not None,
        help=_("Recognised from the file's headers: {source}").format(source=_(guess.title)) if guess else None,
    )
    if guess is None and base is None:
        st.info(_("The file's headers match no source: choose one, and pick its columns below."))
    source = sources.BY_NAME[name]
    key = f"src_{digest}_{name}"
    header = reading.read(upload.name, data, source.header_rows, Problems())
    header_names = header.columns if header is not None else peek.columns
    with st.expander(_("Columns: the file's column for each column of {table}").format(table=source.table)):
        columns = _columns_picked(source, header_names, key)
    values = _values_translated(sources.Mapping(name, columns=columns).effective(), header, key)
    zone = st.text_input(
        _("Time zone of the file's times, where they carry none (e.g. Europe/Berlin)"),
        value=(base.timezone if base and base.timezone else "") or ("" if source.zone is None else source.zone),
        key=f"{key}_zone",
    ).strip()
    stages = session.guarded(cache.stages, url)["stage_id"].to_list()
    defaults = _what_the_file_lacks(source, stages, key)
    try:
        mapping = sources.Mapping(
            name,
            timezone=zone or None,
            columns={**(base.columns if base else {}), **columns},
            values={**(base.values if base else {}), **values},
            defaults={**(base.defaults if base else {}), **defaults},
        )
    except sources.MappingError as exc:
        st.error(str(exc))
        return
    _preview(url, mapping, ingest.Source(upload.name, data), digest)


def _preview(url: str, mapping: sources.Mapping, file: ingest.Source, digest: str) -> None:
    made_from = (digest, mapping.to_toml())
    held = st.session_state.get(_PREPARED)
    if held is None or held[0] != made_from:
        with st.spinner(_("Reading and checking {file}...").format(file=file.name)):
            try:
                result: Any = sources.prepare(cache.read_engine(url), mapping, [file])
            except LoadRejected as exc:
                result = exc
        st.session_state[_PREPARED] = held = (made_from, result)
    result = held[1]
    if isinstance(result, LoadRejected):
        writes.rejected(result, _("As mapped, this file would be refused"))
        return
    st.markdown("\n".join(f"- {line}" for line in result.report.lines()))
    st.caption(_("The first {n} rows as they would be written:").format(n=i18n.number(result.preview.height)))
    st.dataframe(tables.arrow(result.preview), hide_index=True, width="stretch")
    left, right = st.columns(2)
    if left.button(_("Load it"), type="primary", key="source_load"):
        auth.may_or_stop(access.LOAD, _("loading data"))
        bar = st.progress(0.0, text=_("Checking files..."))

        def load(writer: Any) -> writes.Done:
            report = sources.load(
                writer,
                mapping,
                [file],
                job="upload",
                progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
            )
            st.session_state.pop(_PREPARED, None)
            return writes.Done(" ".join(report.lines()), audit_detail=f"{mapping.source}: {report.loaded:,} rows")

        writes.write(
            url,
            load,
            done_key=_DONE,
            forget=cache.forget_results,
            right=(access.LOAD, _("loading data")),
            audited=("upload", file.name),
            audit_refused=True,
            on_refusal=bar.empty,
            nothing_done=_("Nothing was loaded"),
        )
    with right.popover(_("Save this mapping")):
        title = st.text_input(_("Name"), key="source_mapping_name")
        if st.button(_("Save"), key="source_mapping_save"):
            writes.write(
                url,
                lambda w: _save(w, title, mapping),
                done_key=_DONE,
                forget=st.cache_data.clear,
                right=(access.LOAD, _("loading data")),
                audited=("save", f"mapping {title}"),
            )


def _save(writer: Any, title: str, mapping: sources.Mapping) -> str:
    saved.save(writer, title, mapping, auth.current().email or access.LOCAL_USER)
    return _("Saved the mapping {name}.").format(name=title.strip())


def load_log(url: str) -> None:
    """Every load of a source, newest first: what it read, loaded, refused, left unmapped."""
    log = session.guarded(sources.log_rows, cache.read_engine(url))
    if log.height == 0:
        st.caption(_("No export has been loaded yet."))
        return
    shown = log.select("loaded_at", "job", "source", "target", "origin", "rows_read", "loaded", "refused", "unmapped")
    st.dataframe(tables.arrow(shown.with_columns(pl.col("loaded_at").cast(pl.String))), hide_index=True)
