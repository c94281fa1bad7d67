"""The command line, run as a user runs it: ``python -m data_access ...`` in a subprocess."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from data_access import store
from data_access.loading import ingest
from tests.conftest import drop_chdb_database, make_store_url

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if any(a.startswith("chdb:") for a in args) and not env:
        return cli_in_process(*args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CJM_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "data_access", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def cli_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line's own ``main`` in this process: chDB serves one folder per process, and this test run
    holds it (a user's ``python -m data_access`` is the only process on its store)."""
    from data_access.ops import cli as command_line

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = command_line.main(list(args))
        except SystemExit as exc:  # argparse's refusals
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["python", "-m", "data_access", *args], code, out.getvalue(), err.getvalue())


def test_kpis_in_every_format(tiny_duck: str) -> None:
    args = ("kpis", "--db", tiny_duck, "--from", "2025-03-01", "--to", "2025-03-31")
    as_json = json.loads(cli(*args, "--format", "json").stdout)
    assert [r["stage_id"] for r in as_json] == ["a", "b", "c"]
    assert list(as_json[0]) == [
        "stage_id",
        "customers",
        "csat",
        "csat_n",
        "nps",
        "nps_n",
        "ces",
        "ces_n",
        "fcr",
        "fcr_n",
    ]
    assert as_json[0] | {} == {
        "stage_id": "a",
        "customers": 2,
        "csat": 60.0,
        "csat_n": 5,
        "nps": 0.0,
        "nps_n": 5,
        "ces": None,
        "ces_n": 0,
        "fcr": 33.33,
        "fcr_n": 3,
    }
    rows = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv").stdout)))
    assert rows[1]["nps"] == "75.0" and rows[1]["ces"] == "6.0" and rows[2]["csat"] == ""
    table = cli(*args).stdout
    assert "| stage_id" in table and "| a " in table
    b2b = json.loads(cli(*args, "--segment", "B2B", "--format", "json").stdout)
    assert b2b[0]["csat_n"] == 2


def test_bad_arguments_give_one_line_and_a_non_zero_exit(tiny_duck: str) -> None:
    for args in (
        ("kpis", "--db", tiny_duck, "--from", "yesterday"),
        ("kpis", "--bogus"),
        ("kpis", "--db", tiny_duck, "--format", "xml"),
        ("seed", "--customers", "many"),
    ):
        done = cli(*args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_unreachable_or_empty_store_is_one_clear_line(tmp_path: Path) -> None:
    for url, words in (
        ("postgresql+psycopg://nobody@127.0.0.1:9/nowhere", "Cannot reach the store"),
        ("mysql+pymysql://nobody@127.0.0.1:9/nowhere", "Cannot reach the store"),
        (f"duckdb:///{tmp_path / 'missing.duckdb'}", "No store at"),
        ("not a url", "Not a database URL"),
    ):
        done = cli("kpis", "--db", url)
        assert done.returncode == 1, url
        assert "Traceback" not in done.stderr
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    Path(tmp_path / "empty.sqlite").touch()
    done = cli("kpis", "--db", empty)
    assert done.returncode == 1 and "has no stages" in done.stderr and "init" in done.stderr


def test_init_seed_ingest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    assert cli("init", "--db", url).returncode == 0
    done = cli("seed", "--db", url, "--customers", "300", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert "customers: 300 rows" in done.stdout
    assert "100%" in done.stderr  # progress was shown
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "kpi_targets.csv").write_text("stage_id,metric,target,warn\n*,csat,90,80\n")
    done = cli("ingest", str(folder), "--db", url)
    assert done.returncode == 0 and "kpi_targets: 1 rows" in done.stdout
    (folder / "orders.csv").write_text("order_id,customer_id,ordered_at,amount\no1,nobody,2025-01-01,5\n")
    done = cli("ingest", str(folder / "orders.csv"), "--db", url)
    assert done.returncode == 1
    assert "orders.csv, row 1, column customer_id: 'nobody' is not in customers.customer_id" in done.stderr
    assert cli("ingest", str(tmp_path / "nope.csv"), "--db", url).returncode == 1


def test_first_run_creates_the_sample_store(tmp_path: Path) -> None:
    env = {"CJM_DATA_DIR": str(tmp_path), "CJM_SAMPLE_CUSTOMERS": "400", "HOME": str(tmp_path)}
    done = cli("kpis", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert "creating the sample store" in done.stderr
    assert (tmp_path / "cjm.duckdb").exists()
    stages = [r["stage_id"] for r in json.loads(done.stdout)]
    assert stages[:3] == ["awareness", "consideration", "decision"] and len(stages) == 10
    again = cli("kpis", "--format", "json", env=env)
    assert "creating" not in again.stderr and again.stdout == done.stdout


def test_store_url_precedence(tmp_path: Path, tiny_duck: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from data_access.config import resolve_store

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CJM_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_store(None).is_default
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[connections.cjm]\nurl = "sqlite:///s.sqlite"\n')
    assert resolve_store(None).url == "sqlite:///s.sqlite"
    monkeypatch.setenv("CJM_DATABASE_URL", tiny_duck)
    assert resolve_store(None).url == tiny_duck
    assert resolve_store("sqlite://").source == "--db"


def test_kpis_cli_agrees_with_the_library(tiny: Engine, store_url: str) -> None:
    """The same figures from every store through the command line."""
    done = cli("kpis", "--db", store_url, "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json")
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)[0]
    assert (first["csat"], first["csat_n"], first["fcr"], first["customers"]) == (60.0, 5, 33.33, 2)


def test_bench_times_only_the_pages_asked_for(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'bench.duckdb'}"
    done = cli("bench", "--db", db, "--customers", "300", "--page", "Retention")
    assert done.returncode in (0, 1), done.stderr  # 1 would only mean a page over budget
    assert "seed:" in done.stdout and "ingest:" not in done.stdout
    timed = {line.split("  ")[0] for line in done.stdout.splitlines() if line.startswith(("Retention", "Funnel"))}
    assert timed == {"Retention"}
    wrong = cli("bench", "--db", db, "--customers", "300", "--page", "Nope")
    assert wrong.returncode == 2 and "unknown page 'Nope'" in wrong.stderr


def test_bench_sets_the_funnel_against_its_hand_written_floors(tmp_path: Path) -> None:
    """The funnel with a window other than the stored one, timed cold, warm and cached, then against the two
    hand-written floors: all three count the same customers per step, or the run says COUNTS DIFFER."""
    db = f"duckdb:///{tmp_path / 'bench.duckdb'}"
    done = cli("bench", "--db", db, "--customers", "400", "--page", "Funnel")
    assert done.returncode in (0, 1), done.stderr
    out = done.stdout
    assert "cold ms   warm ms  cached ms" in out
    assert "steps, 30d window" in out
    floors = out[out.index("funnel counts, 30d window") :]
    for name in ("the dashboard's query", "floor: range join", "floor: ASOF join"):
        assert name in floors
    assert "COUNTS DIFFER" not in floors
    assert re.search(r"the faster floor: \d+\.\d\dx", floors)
    assert re.search(r"the pages of each store: [\d,]+ MB \((within|OVER) the 4,096 MB budget\)", out)
    assert re.search(r"peak memory of the funnel's floors: [\d,]+ MB \(information\)", out)  # not the pages'


def test_bench_prints_its_ratios_filtered_and_against_a_second_store(tmp_path: Path) -> None:
    """The ratios issue 30 is judged on, printed by the run itself: each page filtered against all data, and with
    --against each page on the second store against the first; each ratio is the two times beside it."""
    first, second = (f"duckdb:///{tmp_path / name}" for name in ("first.duckdb", "second.duckdb"))
    done = cli("bench", "--db", first, "--against", second, "--customers", "300", "--page", "Retention")
    assert done.returncode in (0, 1), done.stderr
    out = done.stdout
    assert "Against: 300 customers" in out
    assert re.search(r"the pages of each store: [\d,]+ and [\d,]+ MB \((within|OVER) the", out)  # a peak each
    tables = {
        "each page filtered against all data, cold": ("B2C, 2026-H1", 1),
        "the second store against the first, cold": ("2025-01-01 to 2026-10-31", 2),
        "the second store: filtered against all data, cold": ("B2C, 2026-H1", 1),
    }
    for title, (case, rows) in tables.items():
        table = out[out.index(title) :].split("\n\n")[0].splitlines()[2:]
        lines = [line for line in table if line.startswith((case, "B2C"))][:rows]
        assert len(lines) == rows and "Retention" in lines[0], (title, table)
        a, b, shown = re.search(r"Retention\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", lines[0]).groups()
        assert float(shown) == pytest.approx(float(b) / float(a), abs=0.006)


def test_the_ratio_tables_worked_by_hand() -> None:
    from data_access.ops import bench_ratios

    totals = {"all": {"A": 200.0, "B": 100.0}, "B2C": {"A": 100.0, "B": 150.0}}
    assert bench_ratios.filtered_rows(totals) == [("B2C", "A", 200.0, 100.0, 0.5), ("B2C", "B", 100.0, 150.0, 1.5)]
    other = {"all": {"A": 300.0, "B": 0.0}, "B2C": {"A": 50.0}}
    assert bench_ratios.store_rows(totals, other) == [
        ("all", "A", 200.0, 300.0, 1.5),
        ("all", "B", 100.0, 0.0, 0.0),
        ("B2C", "A", 100.0, 50.0, 0.5),
    ]
    lines: list[str] = []
    assert bench_ratios.write(lines.append, "t", ("x", "y"), bench_ratios.filtered_rows(totals)) == 1  # B is over
    assert bench_ratios.ratio(1.0, 0.0) is None


def test_a_run_against_a_saved_run_worked_by_hand(tmp_path: Path) -> None:
    """--compare: each page against the saved run's, with the growth in customers as the target (10x customers:
    at most 10x the time); per store, only the stores both runs have."""
    from data_access.ops import bench_ratios

    saved = tmp_path / "small.json"
    bench_ratios.save(saved, 1000, {"first": {"all": {"A": 10.0, "B": 20.0}}, "second": {}})
    lines: list[str] = []
    now = {"first": {"all": {"A": 90.0, "B": 250.0}}, "second": {"all": {"A": 1.0}}}
    assert bench_ratios.compare(lines.append, 10_000, now, saved) == 1  # B grew 12.5x, A 9x
    text = "".join(lines)
    assert "the first store at 10,000 customers against the saved run at 1,000, cold (target: at most 10.0x)" in text
    assert re.search(r"A\s+10\.0\s+90\.0\s+9\.00x  within", text)
    assert re.search(r"B\s+20\.0\s+250\.0\s+12\.50x  OVER", text)
    assert "second store" not in text  # the saved run has none
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a benchmark run saved with --save"):
        bench_ratios.load(bad)


def test_bench_saves_a_run_and_compares_the_next_with_it(tmp_path: Path) -> None:
    db, saved = f"duckdb:///{tmp_path / 'bench.duckdb'}", tmp_path / "run.json"
    first = cli("bench", "--db", db, "--customers", "300", "--page", "Retention", "--save", str(saved))
    assert first.returncode in (0, 1), first.stderr
    assert f"cold times saved to {saved}" in first.stdout
    again = cli("bench", "--db", db, "--customers", "300", "--reuse", "--page", "Retention", "--compare", str(saved))
    assert again.returncode in (0, 1), again.stderr
    table = again.stdout[again.stdout.index("against the saved run at 300, cold (target: at most 1.0x)") :]
    assert re.search(r"Retention\s+[\d.]+\s+[\d.]+\s+[\d.]+x", table)
    wrong = cli("bench", "--db", db, "--customers", "300", "--compare", str(tmp_path / "none.json"))
    assert wrong.returncode == 2 and "is not a benchmark run saved with --save" in wrong.stderr


def test_bench_statements_lists_each_pages_slowest(tmp_path: Path) -> None:
    """bench --statements: each page's five slowest statements, cold, slowest first, under each filter case; on
    ClickHouse each with what EXPLAIN says it reads."""
    # chDB serves one folder per process: the test run's, with a database of this test's own, seeded here (the
    # benchmark seeds in a process of its own, which could not open the folder) and reused by the benchmark
    chdb = make_store_url("chdb", tmp_path)
    ingest.seed(store.create_store_engine(chdb), 300, 42)
    try:
        for db in (f"duckdb:///{tmp_path / 'bench.duckdb'}", chdb):
            done = cli("bench", "--statements", "--db", db, "--customers", "300", "--reuse", "--page", "Stage KPIs")
            assert done.returncode == 0, done.stderr
            out = done.stdout
            for case in ("2025-01-01 to 2026-10-31 (all data)", "B2C, 2026-H1"):
                section = out[out.index(f"== Stage KPIs, {case}") :].split("\n== ")[0]
                times = [float(m) for m in re.findall(r"^ +([\d.]+) ms  SELECT", section, flags=re.MULTILINE)]
                assert 1 <= len(times) <= 5 and times == sorted(times, reverse=True), section
                assert ("reads survey_responses" in section) is (db == chdb), section
            assert "Journey map" not in out
    finally:
        drop_chdb_database(chdb)


def test_a_floor_the_store_stops_is_reported_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 10M on a busy machine a hand-written floor can pass the statement timeout: it is reported as stopped and
    left out of the ratio, and the benchmark goes on."""
    from data_access.ops import bench, bench_floors

    url = f"duckdb:///{tmp_path / 'floors.duckdb'}"
    ingest.seed(store.create_store_engine(url), 300, 42)
    real = bench_floors._floor_counts

    def slow_asof(url_: str, sql: str, *args: object) -> list[int]:
        if sql == bench_floors.FLOOR_ASOF:
            raise store.StoreError("The query ran longer than 60 s and was stopped")
        return real(url_, sql, *args)

    monkeypatch.setattr(bench_floors, "_floor_counts", slow_asof)
    lines: list[str] = []
    bench_floors.against_floors(
        url, bench._spec(url, bench.OTHER_WINDOW), next(iter(bench.FILTER_CASES.values())), lines.append
    )
    text = "".join(lines)
    assert "floor: ASOF join         stopped: The query ran longer than 60 s and was stopped" in text
    assert re.search(r"floor: range join +[\d.]+ ms", text) and "COUNTS DIFFER" not in text
    assert re.search(r"the dashboard's query / the faster floor: [\d.]+x", text)
