"""Editing maps and targets: saved whole, checked against the contract, in one transaction, on every store."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access.loading import editing
from data_access.loading.ingest import LoadRejected, Source
from tests.conftest import put


@pytest.fixture
def maps(tiny: Engine) -> Engine:
    put(
        tiny,
        journey_map=[
            {"map": "Current", "stage_id": "a", "lane": "pains", "text": "Too many steps"},
            {"map": "Current", "stage_id": "b", "lane": "actions", "text": "Buys"},
            {"map": "Other", "stage_id": "a", "lane": "pains", "text": "Kept"},
        ],
    )
    return tiny


def cells(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"stage_id": pl.String, "lane": pl.String, "text": pl.String}, orient="row")


def stored(engine: Engine, name: str) -> list[tuple[str, str, str]]:
    return sorted(editing.map_rows(engine, name).drop("map").rows())


def reasons(exc: pytest.ExceptionInfo[LoadRejected]) -> str:
    return " | ".join(str(p) for p in exc.value.problems.shown)


def test_a_map_is_saved_whole_and_emptied_cells_go(maps: Engine) -> None:
    kept = editing.save_map(
        maps, "Current", cells([("a", "pains", " Fewer steps "), ("b", "actions", "  "), ("c", "jtbd", "x")])
    )
    assert kept == 2
    assert stored(maps, "Current") == [("a", "pains", "Fewer steps"), ("c", "jtbd", "x")]
    assert stored(maps, "Other") == [("a", "pains", "Kept")]  # other maps untouched


def test_a_refused_save_changes_nothing(maps: Engine) -> None:
    before = stored(maps, "Current")
    with pytest.raises(LoadRejected) as refused:
        editing.save_map(maps, "Current", cells([("a", "pains", "ok"), ("zz", "pains", "no such stage")]))
    assert "'zz' is not in stages.stage_id" in reasons(refused)
    with pytest.raises(LoadRejected) as refused:
        editing.save_map(maps, "Current", cells([("a", "moods", "no such lane")]))
    assert "'moods' is not one of actions" in reasons(refused)
    with pytest.raises(LoadRejected, match="problem"):
        editing.save_map(maps, "  ", cells([("a", "pains", "no name")]))
    assert stored(maps, "Current") == before


def test_rename_copy_and_delete(maps: Engine) -> None:
    editing.rename_map(maps, "Current", "B2C current")
    assert editing.map_names(maps) == ["B2C current", "Other"]
    with pytest.raises(LoadRejected) as refused:
        editing.rename_map(maps, "B2C current", "Other")
    assert "already a map called 'Other'" in reasons(refused)
    assert editing.copy_map(maps, "B2C current", "B2C ideal") == 2
    assert stored(maps, "B2C ideal") == stored(maps, "B2C current")
    with pytest.raises(LoadRejected):
        editing.copy_map(maps, "Other", "B2C ideal")
    assert editing.delete_map(maps, "Other") == 1
    assert editing.map_names(maps) == ["B2C current", "B2C ideal"]


def targets(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"stage_id": pl.String, "metric": pl.String, "target": pl.String, "warn": pl.String}, orient="row"
    )


def test_targets_are_checked_and_replaced_in_one_go(maps: Engine) -> None:
    assert (
        editing.save_targets(
            maps, targets([("*", "csat", "85", "75"), ("a", "dropoff", "30", "45"), (None, None, None, None)])
        )
        == 2
    )
    assert editing.target_rows(maps).rows() == [("*", "csat", 85.0, 75.0), ("a", "dropoff", 30.0, 45.0)]
    bad = [
        ("a", "csat", "eighty", "70"),  # not a number
        ("*", "nps", "30", "40"),  # warn better than the target (higher is better)
        ("a", "days_to_next", "10", "5"),  # warn better than the target (lower is better)
        ("zz", "csat", "80", "70"),  # no such stage
        ("*", "happiness", "1", "0"),  # no such metric
    ]
    for row in bad:
        with pytest.raises(LoadRejected):
            editing.save_targets(maps, targets([("*", "fcr", "75", "65"), row]))
    with pytest.raises(LoadRejected) as refused:
        editing.save_targets(maps, targets([bad[1]]))
    assert "warn 40 is better than the target 30 (nps: higher is better)" in reasons(refused)
    assert editing.target_rows(maps).rows() == [("*", "csat", 85.0, 75.0), ("a", "dropoff", 30.0, 45.0)]


def test_a_data_page_load_of_targets_checks_the_warn_side_too(maps: Engine) -> None:
    from data_access.loading import ingest

    with pytest.raises(LoadRejected) as refused:
        ingest.ingest(maps, [Source("kpi_targets.csv", b"stage_id,metric,target,warn\n*,dropoff,30,20\n")])
    assert "warn 20 is better than the target 30 (dropoff: lower is better)" in reasons(refused)


def test_csv_import_and_export(maps: Engine) -> None:
    exported = editing.map_rows(maps, "Current").write_csv().encode()
    editing.delete_map(maps, "Current")
    assert editing.import_file(maps, Source("journey_map.csv", exported)) == "2 cells of Current"
    assert stored(maps, "Current") == [("a", "pains", "Too many steps"), ("b", "actions", "Buys")]
    assert stored(maps, "Other") == [("a", "pains", "Kept")]  # a map the file does not name stays
    one = b"map,stage_id,lane,text\nCurrent,a,pains,Only this\n"
    editing.import_file(maps, Source("journey_map.csv", one))
    assert stored(maps, "Current") == [("a", "pains", "Only this")]
    csv = b"stage_id,metric,target,warn\n*,fcr,75,65\n"
    assert editing.import_file(maps, Source("kpi_targets.csv", csv)) == "1 target (all replaced)"
    assert editing.target_rows(maps).rows() == [("*", "fcr", 75.0, 65.0)]
    with pytest.raises(LoadRejected) as refused:
        editing.import_file(maps, Source("kpi_targets.csv", b"stage_id,metric,target,warn\n*,fcr,high,65\n"))
    assert "'high' is not a valid" in reasons(refused)
    with pytest.raises(LoadRejected, match="problem"):
        editing.import_file(maps, Source("customers.csv", b"customer_id\nx\n"))
    assert editing.target_rows(maps).rows() == [("*", "fcr", 75.0, 65.0)]
