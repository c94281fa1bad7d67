"""Loading files: each kind of bad file is refused with file, row, column and reason, and a refused load
leaves the store exactly as it was; a good load is idempotent. Runs on every supported store."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema, store
from data_access.loading import ingest
from data_access.loading.ingest import LoadRejected, Source

STAGES = b"stage_id,name,position,in_funnel\nawareness,Awareness,1,true\nonboarding,Onboarding,2,yes\n"
CUSTOMERS = (
    b"customer_id,signup_at,segment,persona,channel,region,plan,churned_at\n"
    b"c1,2025-01-01T10:00:00Z,B2C,,ads,EU,basic,\n"
    b"c2,2025-01-02 08:00:00+02:00,B2B,Lead,sales,NA,team,2025-06-01\n"
)
EVENTS = (
    b"customer_id,stage_id,occurred_at,touchpoint,action\n"
    b"c1,awareness,2025-01-01T10:00:00,web,page_view\n"
    b"c1,awareness,2025-01-01T10:00:00,web,page_view\n"
    b"c2,onboarding,2025-01-03,app,\n"
)


def csv(name: str, data: bytes) -> Source:
    return Source(name, data)


def good_sources() -> list[Source]:
    return [csv("stages.csv", STAGES), csv("customers.csv", CUSTOMERS), csv("journey_events.csv", EVENTS)]


def rejected(engine: Engine, sources: list[Source]) -> list[str]:
    with pytest.raises(LoadRejected) as info:
        ingest.ingest(engine, sources)
    return [str(p) for p in info.value.problems.shown]


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    out = {}
    with store.connect(engine) as conn:
        for table in schema.TABLES:
            keys = [table.c[k] for k in schema.key_columns(table)]
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*keys))]
    return out


def test_good_files_load_with_types_and_utc(engine: Engine) -> None:
    written = ingest.ingest(engine, good_sources())
    assert written == {"stages": 2, "customers": 2, "journey_events": 3}
    rows = snapshot(engine)
    customers = {r[0]: r for r in rows["customers"]}
    assert customers["c1"][1] == datetime(2025, 1, 1, 10, 0)  # Z
    assert customers["c2"][1] == datetime(2025, 1, 2, 6, 0)  # +02:00 converted to UTC
    assert customers["c2"][7] == datetime(2025, 6, 1)  # a date alone is midnight UTC
    assert customers["c1"][3] is None and customers["c1"][7] is None  # empty optional cells are null
    assert [bool(r[3]) for r in rows["stages"]] == [True, True]  # "true" and "yes"
    events = rows["journey_events"]
    assert len(events) == 3  # two identical rows stay two events
    assert len({e[0] for e in events}) == 3 and all(e[0].startswith("h") for e in events)


def test_reloading_the_same_files_duplicates_nothing(engine: Engine) -> None:
    ingest.ingest(engine, good_sources())
    first = snapshot(engine)
    ingest.ingest(engine, good_sources())
    assert snapshot(engine) == first


def test_append_replaces_rows_with_the_same_key_and_replace_empties(engine: Engine) -> None:
    ingest.ingest(engine, good_sources())
    changed = CUSTOMERS.replace(b"c1,2025-01-01T10:00:00Z,B2C", b"c1,2025-01-01T10:00:00Z,VIP")
    ingest.ingest(engine, [csv("customers.csv", changed)])
    segments = {r[0]: r[2] for r in snapshot(engine)["customers"]}
    assert segments == {"c1": "VIP", "c2": "B2B"}
    # replace mode: the events table is emptied first, then gets the one row given
    one = b"event_id,customer_id,stage_id,occurred_at\nx1,c2,awareness,2025-02-01\n"
    ingest.ingest(engine, [csv("journey_events.csv", one)], mode="replace")
    assert [r[0] for r in snapshot(engine)["journey_events"]] == ["x1"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("customers.csv", b"", "customers.csv: the file is empty"),
        ("customers.csv", b"customer_id,signup_at,segment,channel,region,plan\n", "has a header but no rows"),
        ("clients.csv", b"a\n1\n", "clients.csv: the file name names no table"),
        ("customers.txt", b"a\n1\n", "unsupported file type"),
        (
            "customers.csv",
            "customer_id,signup_at,segment,channel,region,plan\nc1,2025-01-01,Bär,ads,EU,x\n".encode("latin-1"),
            "customers.csv, row 1: not UTF-8 text",
        ),
        (
            "customers.csv",
            b"customer_id,signup_at,segment,channel,region\nc1,2025-01-01,B2C,ads,EU\n",
            "customers.csv, column plan: required column is missing",
        ),
        (
            "customers.csv",
            b"customer_id,signup_at,segment,channel,region,plan,age\nc1,2025-01-01,B2C,ads,EU,x,3\n",
            "customers.csv, column age: unknown column",
        ),
        (
            "customers.csv",
            b"customer_id,signup_at,segment,channel,region,plan\nc1,yesterday,B2C,ads,EU,x\n",
            "customers.csv, row 1, column signup_at: 'yesterday' is not a valid timestamp",
        ),
        (
            "customers.csv",
            b"customer_id,signup_at,segment,channel,region,plan\nc1,2025-02-30,B2C,ads,EU,x\n",
            "column signup_at: '2025-02-30' is not a valid timestamp",
        ),
        (
            "customers.csv",
            b"customer_id,signup_at,segment,channel,region,plan\nc1,2025-01-01,,ads,EU,x\n",
            "customers.csv, row 1, column segment: required value is missing",
        ),
        (
            "customers.csv",
            b"customer_id,signup_at,segment,channel,region,plan\nc1,2025-01-01,B2C,ads,EU,x\nc1,2025-01-01,B,a,E,x\n",
            "customers.csv, row 2, column customer_id: duplicate key: same as row 1",
        ),
        (
            "stages.csv",
            b"stage_id,name,position,in_funnel\nx,X,first,true\n",
            "stages.csv, row 1, column position: 'first' is not a valid integer",
        ),
        (
            "stages.csv",
            b"stage_id,name,position,in_funnel\nx,X,1,maybe\n",
            "stages.csv, row 1, column in_funnel: 'maybe' is not a valid boolean",
        ),
        (
            "orders.csv",
            b"order_id,customer_id,ordered_at,amount\no1,c1,2025-01-01,-5\n",
            "orders.csv, row 1, column amount: -5.0 is not >= 0",
        ),
        (
            "tickets.csv",
            b"ticket_id,customer_id,opened_at,entry_channel,final_line,bot_resolved,contacts,reopened,category\n"
            b"t1,c1,2025-01-01,bot,4,false,1,false,technical\n",
            "tickets.csv, row 1, column final_line: 4 is not one of 1, 2, 3",
        ),
        (
            "tickets.csv",
            b"ticket_id,customer_id,opened_at,entry_channel,final_line,bot_resolved,contacts,reopened,category\n"
            b"t1,c1,2025-01-01,bot,1,false,0,false,legal\n",
            "tickets.csv, row 1, column contacts: 0 is not >= 1",
        ),
        (
            "survey_responses.csv",
            b"response_id,customer_id,stage_id,survey,score,responded_at\nr1,c1,awareness,csat,9,2025-01-01\n",
            "survey_responses.csv, row 1, column score: 9 is outside the csat range 1-5",
        ),
        (
            "survey_responses.csv",
            b"response_id,customer_id,stage_id,survey,score,responded_at\nr1,c1,awareness,star,3,2025-01-01\n",
            "column survey: 'star' is not one of csat, nps, ces",
        ),
        (
            "kpi_targets.csv",
            b"stage_id,metric,target,warn\n*,happiness,80,70\n",
            "kpi_targets.csv, row 1, column metric: 'happiness' is not a known metric",
        ),
        (
            "kpi_targets.csv",
            b"stage_id,metric,target,warn\n*,csat,high,70\n",
            "column target: 'high' is not a valid number",
        ),
    ],
)
def test_each_kind_of_bad_file_is_refused(engine: Engine, name: str, data: bytes, expected: str) -> None:
    before = snapshot(engine)
    problems = rejected(engine, [csv(name, data)])
    assert any(expected in p for p in problems), problems
    assert snapshot(engine) == before


def test_references_to_unknown_customers_and_stages(engine: Engine) -> None:
    ingest.ingest(engine, good_sources())
    before = snapshot(engine)
    bad = b"customer_id,stage_id,occurred_at\nc1,awareness,2025-01-05\nc9,awareness,2025-01-05\nc1,nowhere,2025-01-05\n"
    problems = rejected(engine, [csv("journey_events.csv", bad)])
    assert "journey_events.csv, row 2, column customer_id: 'c9' is not in customers.customer_id" in problems
    assert "journey_events.csv, row 3, column stage_id: 'nowhere' is not in stages.stage_id" in problems
    assert snapshot(engine) == before
    # a "*" target needs no stage; an unknown stage does
    ok = b"stage_id,metric,target,warn\n*,csat,80,70\nonboarding,fcr,75,65\n"
    assert ingest.ingest(engine, [csv("kpi_targets.csv", ok)]) == {"kpi_targets": 2}
    problems = rejected(engine, [csv("kpi_targets.csv", b"stage_id,metric,target,warn\nghost,csat,80,70\n")])
    assert "kpi_targets.csv, row 1, column stage_id: 'ghost' is not in stages.stage_id" in problems


def test_a_load_is_all_or_nothing(engine: Engine) -> None:
    ingest.ingest(engine, good_sources()[:2])
    before = snapshot(engine)
    more_customers = CUSTOMERS + b"c3,2025-01-05,B2C,,ads,EU,basic,\n"
    broken_events = b"customer_id,stage_id,occurred_at\nc3,awareness,2025-01-06\nc3,awareness,not a date\n"
    problems = rejected(engine, [csv("customers.csv", more_customers), csv("journey_events.csv", broken_events)])
    assert problems == ["journey_events.csv, row 2, column occurred_at: 'not a date' is not a valid timestamp"]
    assert snapshot(engine) == before
    # replacing customers with a file that drops c2 would orphan c2's events: refused, store untouched
    ingest.ingest(engine, good_sources())
    before = snapshot(engine)
    only_c1 = b"customer_id,signup_at,segment,channel,region,plan\nc1,2025-01-01,B2C,ads,EU,basic\n"
    with pytest.raises(LoadRejected) as info:
        ingest.ingest(engine, [csv("customers.csv", only_c1)], mode="replace")
    assert "journey_events value(s) would lose their customers row" in str(info.value.problems.shown[0])
    assert snapshot(engine) == before


def test_reference_problems_count_every_row(engine: Engine) -> None:
    ingest.ingest(engine, good_sources())
    rows = "".join(f"x{i},awareness,2025-01-05\n" for i in range(30))  # 30 unknown customers, one row each
    with pytest.raises(LoadRejected) as info:
        ingest.ingest(engine, [csv("journey_events.csv", ("customer_id,stage_id,occurred_at\n" + rows).encode())])
    assert info.value.problems.total == 30
    assert len(info.value.problems.shown) == 20


def test_error_report_shows_the_first_problems_and_the_total(engine: Engine) -> None:
    rows = "".join(f"c{i},someday,B2C,ads,EU,basic\n" for i in range(45))
    data = ("customer_id,signup_at,segment,channel,region,plan\n" + rows).encode()
    with pytest.raises(LoadRejected) as info:
        ingest.ingest(engine, [csv("customers.csv", data)])
    assert info.value.problems.total == 45
    assert len(info.value.problems.shown) == 20
    assert "... and 25 more" in info.value.report()


def test_parquet_and_excel_files(engine: Engine, tmp_path) -> None:
    stages = pl.DataFrame({"stage_id": ["a"], "name": ["A"], "position": [1], "in_funnel": [True]})
    buf = io.BytesIO()
    stages.write_parquet(buf)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer_id", "signup_at", "segment", "channel", "region", "plan"])
    sheet.append(["c1", datetime(2025, 1, 1, 9, 30), "B2C", "ads", "EU", "basic"])
    sheet.append(["c2", "2025-01-02T00:00:00+01:00", "B2B", "sales", "NA", "team"])
    xlsx = tmp_path / "customers.xlsx"
    book.save(xlsx)
    written = ingest.ingest(engine, [Source("stages.parquet", buf.getvalue()), Source.from_path(xlsx)])
    assert written == {"stages": 1, "customers": 2}
    signups = {r[0]: r[1] for r in snapshot(engine)["customers"]}
    assert signups == {"c1": datetime(2025, 1, 1, 9, 30), "c2": datetime(2025, 1, 1, 23, 0)}


def test_progress_is_reported_to_the_end(engine: Engine) -> None:
    seen: list[float] = []
    ingest.ingest(engine, good_sources(), progress=lambda fraction, _message: seen.append(fraction))
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_a_store_made_before_the_phase_column_is_upgraded_by_its_next_load(engine: Engine) -> None:
    from data_access.queries import kpis

    with store.connect(engine, write=True) as conn:  # the stages table as an earlier version made it
        conn.execute(sa.DDL("ALTER TABLE stages DROP COLUMN phase"))
    with store.connect(engine) as conn:
        assert not store.has_column(conn, schema.stages, "phase")
    ingest.ingest(engine, good_sources())
    assert kpis.stage_list(engine)["phase"].to_list() == [None, None]  # read, empty, before the upgrade too
    with store.connect(engine) as conn:
        assert store.has_column(conn, schema.stages, "phase")  # the load added it
    phased = (
        b"stage_id,name,position,in_funnel,phase\n"
        b"awareness,Awareness,1,true,Before\nonboarding,Onboarding,2,yes,After\n"
    )
    ingest.ingest(engine, [csv("stages.csv", phased)])
    assert kpis.stage_list(engine)["phase"].to_list() == ["Before", "After"]
    with store.connect(engine, write=True) as conn:
        assert store.upgrade(conn) == []  # nothing left to add


EXIT_HEADER = b"response_id,customer_id,stage_id,survey,score,responded_at,comment,reason\n"
WHY_GOOD = [
    (
        "survey_responses.csv",
        EXIT_HEADER + b"x1,c2,onboarding,exit,2,2025-06-02,Too expensive,price\nr1,c1,awareness,csat,4,2025-01-02,,\n",
    ),
    (
        "offers.csv",
        b"offer_id,customer_id,offered_at,offer_type,accepted,channel\n"
        b"f1,c2,2025-05-30,success call,true,phone\nf2,c1,2025-03-01,discount,no,\n",
    ),
    (
        "experiment_info.csv",
        b"experiment,hypothesis,primary_metric,stage_id,start_at,end_at,owner\n"
        b"checklist,A checklist helps,conversion,onboarding,2025-01-01,2025-12-31,Product\n"
        b"pricing,A simpler page,retention_90d,,2025-01-01,,\n",
    ),
    (
        "experiments.csv",
        b"experiment,customer_id,variant,assigned_at\nchecklist,c1,treatment,2025-01-03\nchecklist,c2,control,2025-01-03\n",
    ),
]


def test_exit_answers_offers_and_experiments_load(engine: Engine) -> None:
    ingest.ingest(engine, good_sources())
    written = ingest.ingest(engine, [csv(n, d) for n, d in WHY_GOOD])
    assert written == {"survey_responses": 2, "offers": 2, "experiment_info": 2, "experiments": 2}
    with store.connect(engine) as conn:
        o = schema.offers.c
        rows = conn.execute(sa.select(o.offer_id, o.accepted, o.channel).order_by(o.offer_id)).all()
        assert [tuple(r) for r in rows] == [("f1", True, "phone"), ("f2", False, None)]
        r = schema.survey_responses.c
        reasons = conn.execute(sa.select(r.response_id, r.reason).order_by(r.response_id)).all()
        assert [tuple(x) for x in reasons] == [("r1", None), ("x1", "price")]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "survey_responses.csv",
            EXIT_HEADER + b"x1,c2,onboarding,exit,2,2025-06-02,,\n",
            "survey_responses.csv, row 1, column reason: an exit answer needs a reason",
        ),
        (
            "survey_responses.csv",
            EXIT_HEADER + b"x1,c2,onboarding,exit,2,2025-06-02,,too pricey\n",
            "column reason: 'too pricey' is not one of price, missing feature",
        ),
        (
            "survey_responses.csv",
            EXIT_HEADER + b"r1,c1,awareness,csat,4,2025-01-02,,price\n",
            "column reason: a reason belongs to exit answers only, not to csat",
        ),
        (
            "survey_responses.csv",
            EXIT_HEADER + b"x1,c2,onboarding,exit,7,2025-06-02,,price\n",
            "column score: 7 is outside the exit range 1-5",
        ),
        (
            "offers.csv",
            b"offer_id,customer_id,offered_at,offer_type,accepted\nf1,c1,2025-05-30,discount,perhaps\n",
            "offers.csv, row 1, column accepted: 'perhaps' is not a valid boolean",
        ),
        (
            "offers.csv",
            b"offer_id,customer_id,offered_at,offer_type,accepted\nf1,c9,2025-05-30,discount,yes\n",
            "offers.csv, row 1, column customer_id: 'c9' is not in customers.customer_id",
        ),
        (
            "experiment_info.csv",
            b"experiment,hypothesis,primary_metric,stage_id,start_at\nx,H,revenue,,2025-01-01\n",
            "column primary_metric: 'revenue' is not one of retention_90d, conversion, csat",
        ),
        (
            "experiment_info.csv",
            b"experiment,hypothesis,primary_metric,stage_id,start_at\nx,H,conversion,,2025-01-01\n",
            "column stage_id: a conversion experiment needs the stage it is measured at",
        ),
        (
            "experiment_info.csv",
            b"experiment,hypothesis,primary_metric,start_at,end_at\nx,H,retention_90d,2025-02-01,2025-01-01\n",
            "column end_at: the experiment ends before it starts",
        ),
        (
            "experiments.csv",
            b"experiment,customer_id,variant,assigned_at\nghost,c1,control,2025-01-03\n",
            "experiments.csv, row 1, column experiment: 'ghost' is not in experiment_info.experiment",
        ),
        (
            "experiments.csv",
            b"experiment,customer_id,variant,assigned_at\nchecklist,c1,control,2025-01-03\n"
            b"checklist,c1,treatment,2025-01-04\n",
            "experiments.csv, row 2, column experiment, customer_id: duplicate key: same as row 1",
        ),
    ],
)
def test_bad_exit_answers_offers_and_experiments_store_nothing(
    engine: Engine, name: str, data: bytes, expected: str
) -> None:
    ingest.ingest(engine, [*good_sources(), csv(*WHY_GOOD[2])])
    before = snapshot(engine)
    problems = rejected(engine, [csv(name, data)])
    assert any(expected in p for p in problems), problems
    assert snapshot(engine) == before
