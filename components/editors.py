"""Editors for the journey maps and the targets: a table editor each, saved through
``data_access.loading.editing`` (checked, one transaction); a refused save shows why and keeps the edits in the
editor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import polars as pl
import streamlit as st

from components import downloads, session, writes
from components.builders.journey_view import lane_label, stage_labels
from data_access import access, i18n, metrics, schema, sources
from data_access import streamlit_cache as cache
from data_access.i18n import _, ngettext
from data_access.loading import editing, ingest

_DONE = "editors_done"  # what the last save did
NEW_MAP = ""  # the option of a new map (a map's name is never empty)


def write(url: str, action: Callable[[Any], str], audited: tuple[str, str]) -> None:
    """One save of a map, the targets or a review (only for a role that may edit), audited as ``audited`` (the
    action and what it was done to); every cached figure is forgotten."""
    writes.write(
        url,
        action,
        done_key=_DONE,
        forget=cache.forget_results,
        right=(access.EDIT, _("editing maps, targets or reviews")),
        audited=audited,
    )


def _wide(stages: pl.DataFrame, cells: pl.DataFrame) -> pd.DataFrame:
    """Lanes down, stage names across: the map as the CX team draws it."""
    text = {(r["stage_id"], r["lane"]): r["text"] for r in cells.iter_rows(named=True)}
    names = list(stage_labels(stages).values())
    rows = {lane_label(lane): [text.get((s, lane), "") for s in stages["stage_id"]] for lane in schema.MAP_LANES}
    return pd.DataFrame.from_dict(rows, orient="index", columns=names)


def _long(stages: pl.DataFrame, wide: pd.DataFrame) -> pl.DataFrame:
    lane_of = {lane_label(lane): lane for lane in schema.MAP_LANES}
    stage_of = {label: stage for stage, label in stage_labels(stages).items()}
    rows = [
        (stage_of[column], lane_of[label], None if pd.isna(value) else str(value))
        for label, row in wide.iterrows()
        for column, value in row.items()
    ]
    return pl.DataFrame(rows, schema={"stage_id": pl.String, "lane": pl.String, "text": pl.String}, orient="row")


def _cells(words: str, n: int, name: str) -> str:
    return words.format(n=i18n.number(n), map=name.strip())


def last_save() -> None:
    """What the last save did (shown until the next save: the reruns that follow a save keep it)."""
    done = st.session_state.get(_DONE)
    if done:
        st.success(done)


def map_editor(url: str, stages: pl.DataFrame) -> None:
    names = session.guarded(cache.journey_maps, url)
    choice = st.selectbox(_("Map"), [*names, NEW_MAP], format_func=lambda n: n or "➕ " + _("New map"), key="edit_map")
    new = choice == NEW_MAP
    name = st.text_input(_("Name of the new map"), key="edit_new_name") if new else choice
    cells = (
        session.guarded(editing.map_rows, cache.read_engine(url), choice)
        if not new
        else pl.DataFrame(schema=editing.MAP_COLUMNS)
    )
    st.caption(_("One row per lane, one column per stage; an emptied cell is removed when you save."))
    edited = st.data_editor(_wide(stages, cells), key=f"edit_grid_{choice}", width="stretch", height=440)
    if st.button(_("Save the map"), type="primary", key="edit_save"):
        write(
            url,
            lambda w: _cells(_("Saved {n} cells of {map}."), editing.save_map(w, name, _long(stages, edited)), name),
            ("edit", f"map {name.strip()}"),
        )
    if new:
        return
    rename, copy, delete = st.columns(3)
    with rename:
        to = st.text_input(_("Rename to"), key="edit_rename_to")
        if st.button(_("Rename"), key="edit_rename"):
            write(
                url,
                lambda w: _("Renamed {old} to {new} ({n} cells).").format(
                    old=choice, new=to.strip(), n=i18n.number(editing.rename_map(w, choice, to))
                ),
                ("edit", f"map {choice}"),
            )
    with copy:
        suggested = choice.replace("current", "ideal") if "current" in choice else _("{map} (ideal)").format(map=choice)
        as_name = st.text_input(_("Copy as"), value=suggested, key=f"edit_copy_to_{choice}")
        if st.button(_("Copy"), key="edit_copy", help=_("Start an ideal map from this one")):
            write(
                url,
                lambda w: _("Copied {old} to {new} ({n} cells).").format(
                    old=choice, new=as_name.strip(), n=i18n.number(editing.copy_map(w, choice, as_name))
                ),
                ("edit", f"map {as_name.strip()}"),
            )
    with delete:
        sure = st.checkbox(_("Yes, delete {map}").format(map=choice), key="edit_delete_sure")
        if st.button(_("Delete"), key="edit_delete", disabled=not sure):
            write(
                url,
                lambda w: _("Deleted {map} ({n} cells).").format(
                    map=choice, n=i18n.number(editing.delete_map(w, choice))
                ),
                ("edit", f"map {choice}"),
            )


def targets_editor(url: str, stages: pl.DataFrame) -> None:
    current = session.guarded(editing.target_rows, cache.read_engine(url)).to_pandas()
    st.caption(
        _(
            "A stage's own target wins over the `*` one. Warn is the amber line on the worse side of the target "
            "(below it where higher is better). Add a row at the bottom; select rows to delete them."
        )
    )
    shown = {"stage_id": _("stage"), "metric": _("metric"), "target": _("target"), "warn": _("warn")}  # headers
    edited = st.data_editor(
        current.rename(columns=shown),
        key="edit_targets",
        num_rows="dynamic",
        width="stretch",
        hide_index=True,
        column_config={
            shown["stage_id"]: st.column_config.SelectboxColumn(
                options=[schema.ALL_STAGES, *stages["stage_id"]], required=True
            ),
            shown["metric"]: st.column_config.SelectboxColumn(options=list(metrics.TARGET_NAMES), required=True),
            shown["target"]: st.column_config.NumberColumn(required=True),
            shown["warn"]: st.column_config.NumberColumn(required=True),
        },
    ).rename(columns={v: k for k, v in shown.items()})
    if st.button(_("Save the targets"), type="primary", key="edit_targets_save"):
        frame = pl.from_pandas(edited.astype({"stage_id": "string", "metric": "string"}))
        write(
            url,
            lambda w: ngettext(
                "Saved {n} target.", "Saved {n} targets.", count := editing.save_targets(w, frame)
            ).format(n=i18n.number(count)),
            ("edit", "targets"),
        )


def rules_editor(url: str, stages: pl.DataFrame) -> None:
    """The stage rules: which product events (PostHog, Amplitude, Mixpanel, Segment) are which journey stage."""
    engine = cache.read_engine(url)
    current = session.guarded(editing.rule_rows, engine).to_pandas()
    st.caption(
        _(
            "A product event loaded from an analytics tool becomes a journey event at the stage its rule names. "
            "An event is its exact name or a pattern (`onboarding_*`); a property and value narrow it "
            "(`plan` = `trial`). The most specific rule wins; an event named like a stage's key is that stage; "
            "events no rule maps are not loaded and the load report counts them."
        )
    )
    unmapped = session.guarded(sources.unmapped_lately, engine)
    if unmapped:
        st.info(
            _("Not mapped in the latest load of product events: {names}").format(
                names=", ".join(f"`{name}` ({i18n.number(n)})" for name, n in unmapped)
            ),
            icon=":material/help:",
        )
    shown = {"event": _("event"), "property": _("property"), "value": _("value"), "stage_id": _("stage")}
    edited = st.data_editor(
        current.rename(columns=shown),
        key="edit_rules",
        num_rows="dynamic",
        width="stretch",
        hide_index=True,
        column_config={
            shown["event"]: st.column_config.TextColumn(required=True),
            shown["stage_id"]: st.column_config.SelectboxColumn(options=list(stages["stage_id"]), required=True),
        },
    ).rename(columns={v: k for k, v in shown.items()})
    if st.button(_("Save the stage rules"), type="primary", key="edit_rules_save"):
        frame = pl.from_pandas(edited.astype("string"))
        write(
            url,
            lambda w: ngettext(
                "Saved {n} stage rule.", "Saved {n} stage rules.", count := editing.save_rules(w, frame)
            ).format(n=i18n.number(count)),
            ("edit", "stage rules"),
        )


def files(url: str) -> None:
    """CSV export of the maps, the targets and the stage rules, and import of any (checked, one transaction)."""
    engine = cache.read_engine(url)
    left, middle, right = st.columns(3)
    with left:
        downloads.csv_button(
            _("Download every map (journey_map.csv)"),
            session.guarded(editing.map_rows, engine),
            "journey_map.csv",
            "edit_maps_csv",
        )
    with middle:
        downloads.csv_button(
            _("Download the targets (kpi_targets.csv)"),
            session.guarded(editing.target_rows, engine),
            "kpi_targets.csv",
            "edit_targets_csv",
        )
    with right:
        downloads.csv_button(
            _("Download the stage rules (stage_rules.csv)"),
            session.guarded(editing.rule_rows, engine),
            "stage_rules.csv",
            "edit_rules_csv",
        )
    upload = st.file_uploader(
        _(
            "Import journey_map.csv (replaces the maps it names), kpi_targets.csv (replaces every target) or "
            "stage_rules.csv (replaces every rule)"
        ),
        type=["csv"],
        key="edit_import",
    )
    if upload is not None and st.button(_("Check and import"), key="edit_import_go"):
        too_big = ingest.upload_problem(upload.name, upload.size)
        if too_big:
            st.error(_("Nothing was imported: {reason}.").format(reason=too_big))
            return
        write(
            url,
            lambda w: _("Imported {what}.").format(
                what=editing.import_file(w, ingest.Source(upload.name, upload.getvalue()))
            ),
            ("edit", upload.name),
        )
