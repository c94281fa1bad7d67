"""The first start builds the sample store whole: a build stopped half-way leaves no store, two visitors at once get
one store, and a visitor who clicks away while it is made still leaves a whole store behind."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

from components import session
from data_access import schema, store
from data_access.loading import first_run

CUSTOMERS = 400


class Away(BaseException):
    """What Streamlit raises in a script when its visitor goes elsewhere (a BaseException, as its own are)."""


def _whole(path: Path) -> dict[str, int]:
    engine = store.create_store_engine(f"duckdb:///{path}", read_only=True)
    try:
        counts = store.row_counts(engine)
        with store.connect(engine) as conn:
            built = conn.execute(schema.derived_state.select()).all()
    finally:
        engine.dispose()
    assert counts["customers"] == CUSTOMERS and counts["journey_events"] > CUSTOMERS
    assert {row.name for row in built} == {t.name for t in schema.DERIVED_TABLES} - {"derived_state"}
    return counts


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name)


def test_the_sample_store_is_built_whole(tmp_path: Path) -> None:
    path = tmp_path / "cjm.duckdb"
    seen: list[float] = []
    assert first_run.build_sample_store(path, CUSTOMERS, 42, lambda f, _m: seen.append(f)) is True
    _whole(path)
    assert seen[-1] == 1.0 and _leftovers(tmp_path) == []
    assert first_run.build_sample_store(path, CUSTOMERS, 42, lambda f, _m: None) is False  # there already


def test_a_build_stopped_half_way_leaves_no_store(tmp_path: Path) -> None:
    path = tmp_path / "cjm.duckdb"
    calls = {"n": 0}

    def away_on_the_second_block(_fraction: float, _message: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Away

    with pytest.raises(Away):
        first_run.build_sample_store(path, CUSTOMERS, 42, away_on_the_second_block)
    assert not path.exists()
    assert _leftovers(tmp_path) == []
    assert first_run.build_sample_store(path, CUSTOMERS, 42, lambda f, _m: None) is True  # the next start builds it
    _whole(path)


def test_two_visitors_at_once_get_one_store(tmp_path: Path) -> None:
    path = tmp_path / "cjm.duckdb"
    results: list[bool] = []

    def visit() -> None:
        results.append(first_run.build_sample_store(path, CUSTOMERS, 42, lambda f, _m: None))

    visitors = [threading.Thread(target=visit) for _ in range(2)]
    for v in visitors:
        v.start()
    for v in visitors:
        v.join()
    assert sorted(results) == [False, True]  # one built it, the other waited for it
    _whole(path)
    assert _leftovers(tmp_path) == []


class _Bar:
    """A progress bar whose visitor clicks away at its second update, as Streamlit's does (RerunException)."""

    def __init__(self) -> None:
        self.updates = 0

    def progress(self, _value: float, text: str = "") -> None:
        self.updates += 1
        if self.updates >= 2:
            raise RerunException(RerunData())

    def empty(self) -> None:
        pass


def test_a_click_away_during_the_first_start_still_leaves_a_whole_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bar = _Bar()
    monkeypatch.setattr(session.st, "progress", lambda *_a, **_k: bar)
    monkeypatch.setattr(session, "SETTINGS", dataclasses.replace(session.SETTINGS, first_run_customers=CUSTOMERS))
    path = tmp_path / "cjm.duckdb"
    with pytest.raises(RerunException):  # the click goes through, after the build
        session.first_start(path)
    assert bar.updates == 2  # nothing drawn after the click
    _whole(path)
    assert _leftovers(tmp_path) == []
