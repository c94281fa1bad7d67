"""Sources: vendor exports in their real shapes loaded onto the contract, and the KPIs on them worked out by hand.

The store holds three customers: k1 (Ann@Example.com), k2 (bob@example.com), k3 (no e-mail), and the stages
awareness, decision, onboarding (the funnel, in that order) and support.

Zendesk (times in Europe/Berlin, UTC+1 in March; a UTF-8 BOM; ";" as the separator):
  z1 ann@example.com  Tier 1  1 reply   solved  Good          -> line 1, first contact, CSAT 5
  z2 bob@example.com  Tier 2  3 replies solved  Bad           -> line 2, not first contact (3 contacts), CSAT 1
  z3 new@x.io         Tier 2  1 reply   solved  reopened once -> line 2, not first contact; a new customer
  z4 k1 (by id)       Tier 2  1 reply   solved  Good          -> line 2, first contact, CSAT 5
  z5 bob@example.com  Tier 1  0 replies open    Not Offered   -> line 1, open (not counted by FCR), no rating
  line 1: FCR 1 of 1 = 100 %, CSAT 1 of 1 = 100 %; line 2: FCR 1 of 3 = 33.3 %, CSAT 1 of 2 = 50 %.
Delighted NPS at onboarding: 10, 9, 9, 7, 3 -> 3 promoters, 1 detractor of 5 = +40.
PostHog through the stage rules: k1 ad_clicked, signed_up(plan=pro), onboarding_started; k2 ad_clicked, signed_up;
  k3 ad_clicked, signed_up(plan=trial: a rule sends it to awareness), pageview x2 (no rule) -> the funnel 3, 2, 1.
Stripe: 100.00 less 20.00 refunded, a failed 50.00 (left out), 1,234.50 -> revenue 1,314.50.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema, sources, store
from data_access.filters import Filters, Period
from data_access.loading.ingest import LoadRejected, Problems, Source
from data_access.queries import funnel, kpis, support
from data_access.sources import catalogue, reading, saved, shaping
from tests.conftest import put

MARCH = Filters(period=Period.parse("2026-03-01", "2026-03-31"))
ALL = Filters()

ZENDESK = (
    "\ufeffId;Requester email;Requester external id;Created at;Solved at;Via;Group;Assignee;Reopens;Replies;"
    "Satisfaction Score;Ticket type;Tags;First reply time in minutes\n"
    "z1;Ann@Example.com;;2026-03-02 10:00;2026-03-02 12:00;Mail;Tier 1;Bob;0;1;Good;question;billing vip;30\n"
    "z2;bob@example.com;;2026-03-03 09:00;2026-03-04 09:00;Chat;Tier 2;Sue;0;3;Bad;incident;;\n"
    "z3;new@x.io;;2026-03-04 09:00;2026-03-05 09:00;Web form;Tier 2;Sue;1;1;Offered;;;5\n"
    "z4;;k1;2026-03-05 09:00;2026-03-05 11:00;Mail;Tier 2;Sue;0;1;Good;;complaint;\n"
    "z5;bob@example.com;;2026-03-06 09:00;;Chat;Tier 1;;0;0;Not Offered;;;\n"
)
BILLING = ZENDESK.replace("Chat;Tier 2", "Chat;Billing")  # z2's group, which no line map knows
DELIGHTED = (
    "Response ID,Email,Score,Comment,Created At,Survey Type\n"
    "d1,ann@example.com,10,Great,2026-03-02T10:00:00Z,nps\n"
    "d2,bob@example.com,9,,2026-03-02T11:00:00Z,nps\n"
    "d3,new@x.io,9,,2026-03-03T10:00:00Z,nps\n"
    "d4,ann@example.com,7,meh,2026-03-04T10:00:00Z,nps\n"
    "d5,k3,3,Too slow,2026-03-05T10:00:00Z,nps\n"
)
STAGE_RULES = (
    "event,property,value,stage_id\n"
    "ad_clicked,,,awareness\n"
    "signed_up,,,decision\n"
    "signed_up,plan,trial,awareness\n"
    "onboarding_*,,,onboarding\n"
)
STRIPE = (
    "id,Customer ID,Customer Email,Created date (UTC),Amount,Amount Refunded,Currency,Status,Captured\n"
    "ch_1,,ann@example.com,2026-03-02 10:00,100.00,20.00,eur,Paid,true\n"
    "ch_2,,bob@example.com,2026-03-03 10:00,50.00,0,eur,Failed,false\n"
    'ch_3,k2,,2026-03-04 10:00,"1,234.50",0.00,eur,Paid,true\n'
)


CUSTOMERS = [
    {
        "customer_id": c,
        "signup_at": datetime(2026, 1, 1),
        "segment": "B2C",
        "channel": "web",
        "region": "EU",
        "plan": "p",
        "email": email,
    }
    for c, email in (("k1", "Ann@Example.com"), ("k2", "bob@example.com"), ("k3", None))
]


def posthog_lines() -> bytes:
    rows = [
        ("p1", "ad_clicked", "k1", "2026-03-01T10:00:00Z", {}),
        ("p2", "signed_up", "k1", "2026-03-02T10:00:00Z", {"plan": "pro"}),
        ("p3", "onboarding_started", "k1", "2026-03-03T10:00:00Z", {}),
        ("p4", "ad_clicked", "k2", "2026-03-01T10:00:00Z", {}),
        ("p5", "signed_up", "k2", "2026-03-02T10:00:00Z", {}),
        ("p6", "ad_clicked", "k3", "2026-03-01T10:00:00Z", {}),
        ("p7", "signed_up", "k3", "2026-03-02T10:00:00Z", {"plan": "trial"}),
        ("p8", "pageview", "k3", "2026-03-02T10:01:00Z", {"$current_url": "/"}),
        ("p9", "pageview", "k3", "2026-03-02T10:02:00Z", {}),
    ]
    return "\n".join(
        json.dumps({"uuid": u, "event": e, "distinct_id": d, "timestamp": t, "properties": p}) for u, e, d, t, p in rows
    ).encode()


@pytest.fixture
def company(engine: Engine) -> Engine:
    put(
        engine,
        stages=[
            {"stage_id": s, "name": s.title(), "position": i, "in_funnel": s != "support"}
            for i, s in enumerate(("awareness", "decision", "onboarding", "support"), 1)
        ],
        customers=CUSTOMERS,
    )
    return engine


def load(engine: Engine, source: str, name: str, data: str | bytes, **kw: object) -> sources.Report:
    body = data.encode() if isinstance(data, str) else data
    return sources.load(engine, sources.Mapping(source), [Source(name, body)], job="test", **kw)


def count(engine: Engine, table: sa.Table, where: sa.ColumnElement[bool] | None = None) -> int:
    with store.connect(engine) as conn:
        query = sa.select(sa.func.count()).select_from(table)
        return conn.execute(query if where is None else query.where(where)).scalar_one()


def test_zendesk_fcr_and_csat_per_line_by_hand(company: Engine) -> None:
    report = load(company, "zendesk", "tickets.csv", ZENDESK, zone="Europe/Berlin")
    assert (report.rows_read, report.loaded, report.new_customers) == (5, 5, 1)
    with store.connect(company) as conn:
        rows = {r["line"]: r for r in support.lines(conn, MARCH, 7, min_n=1).iter_rows(named=True)}
        z1 = conn.execute(sa.select(schema.tickets).where(schema.tickets.c.ticket_id == "z1")).mappings().one()
        new = conn.execute(sa.select(schema.customers).where(schema.customers.c.segment == "unknown")).mappings().all()
    assert (rows["1"]["tickets"], rows["1"]["fcr"], rows["1"]["fcr_n"]) == (2, 100.0, 1)
    assert (rows["1"]["ticket_csat"], rows["1"]["ticket_csat_n"]) == (100.0, 1)
    assert (rows["2"]["tickets"], rows["2"]["fcr"], rows["2"]["fcr_n"]) == (3, pytest.approx(100 / 3), 3)
    assert (rows["2"]["ticket_csat"], rows["2"]["ticket_csat_n"]) == (50.0, 2)
    assert z1["customer_id"] == "k1"  # by e-mail, whatever its case
    assert (z1["opened_at"], z1["first_response_at"]) == (datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 9, 30))
    assert (z1["entry_channel"], z1["category"], z1["csat"]) == ("email", "financial", 5)
    assert [(c["customer_id"], c["email"], c["signup_at"], c["channel"]) for c in new] == [
        ("new@x.io", "new@x.io", datetime(2026, 3, 4, 8), "unknown")
    ]
    again = load(company, "zendesk", "tickets.csv", ZENDESK, zone="Europe/Berlin")
    assert again.new_customers == 0
    assert (count(company, schema.tickets), count(company, schema.customers)) == (5, 4)  # a re-load changes nothing
    assert sources.log_rows(company)["loaded"].to_list() == [5, 5]  # each load in the log, ClickHouse too


def test_delighted_nps_by_hand(company: Engine) -> None:
    report = load(company, "delighted", "responses.csv", DELIGHTED, defaults={"stage_id": "onboarding"})
    assert (report.loaded, report.new_customers) == (5, 1)
    row = kpis.stage_kpis(company, MARCH, min_n=1).filter(pl.col("stage_id") == "onboarding").row(0, named=True)
    assert (row["nps"], row["nps_n"]) == (40.0, 5)


def test_posthog_events_become_the_funnel_through_the_stage_rules(company: Engine) -> None:
    from data_access.loading import ingest

    ingest.ingest(company, [Source("stage_rules.csv", STAGE_RULES.encode())])
    report = load(company, "posthog", "events.jsonl.gz", gzip.compress(posthog_lines()))
    assert (report.rows_read, report.loaded, report.unmapped, report.unmapped_names) == (9, 7, 2, [("pageview", 2)])
    spec = funnel.checked_spec(company, None, "30d", ())
    steps = funnel.report(company, spec, ALL)
    assert steps["stage_id"].to_list() == ["awareness", "decision", "onboarding"]
    assert steps["customers"].to_list() == [3, 2, 1]  # k3's trial sign-up is awareness by its property's rule
    with store.connect(company) as conn:
        actions = dict(conn.execute(sa.select(schema.journey_events.c.event_id, schema.journey_events.c.action)).all())
    assert actions["p3"] == "onboarding_started"  # the product's name is kept as the action


def test_stripe_revenue_by_hand(company: Engine) -> None:
    report = load(company, "stripe", "payments.csv", STRIPE)
    assert (report.rows_read, report.left_out, report.loaded) == (3, 1, 2)
    with store.connect(company) as conn:
        total = conn.execute(sa.select(sa.func.sum(schema.orders.c.amount))).scalar_one()
        who = dict(conn.execute(sa.select(schema.orders.c.order_id, schema.orders.c.customer_id)).all())
    assert total == pytest.approx(1314.50)
    assert who == {"ch_1": "k1", "ch_3": "k2"}


def test_a_mapped_load_that_breaks_the_contract_writes_nothing(duck_url: str) -> None:
    engine = store.create_store_engine(duck_url)
    put(engine, stages=[{"stage_id": "support", "name": "S", "position": 1, "in_funnel": False}])
    billing = BILLING
    with pytest.raises(LoadRejected) as refused:
        load(engine, "zendesk", "tickets.csv", billing, zone="Europe/Berlin")
    assert "'Billing': not mapped; add them to [values.final_line]" in refused.value.report()
    mapping = sources.Mapping("zendesk", timezone="Europe/Berlin", values={"final_line": {"Billing": 2}})
    with pytest.raises(LoadRejected) as wrong_stage:
        sources.load(engine, mapping, [Source("t.csv", billing.encode())], job="test", defaults={"stage_id": "nowhere"})
    assert "'nowhere' is not in stages.stage_id" in wrong_stage.value.report()
    assert (count(engine, schema.tickets), count(engine, schema.customers)) == (0, 0)
    report = sources.load(engine, mapping, [Source("t.csv", billing.encode())], job="test")
    assert report.loaded == 5
    log = sources.log_rows(engine)
    assert log["status"].to_list() == ["loaded", "refused", "refused"]
    assert log["loaded"].to_list() == [5, 0, 0]


def test_times_without_a_zone_are_refused_until_the_zone_is_given(duck_url: str) -> None:
    engine = store.create_store_engine(duck_url)
    store.init_store(engine)
    with pytest.raises(LoadRejected) as refused:
        load(engine, "zendesk", "tickets.csv", ZENDESK)
    assert "times carry no time zone" in refused.value.report()


def shaped(source: str, name: str, data: bytes | str, mapping: sources.Mapping | None = None, **kw: object):
    body = data.encode() if isinstance(data, str) else data
    chosen = (mapping or sources.Mapping(source)).effective()
    problems = Problems()
    raw = reading.read(name, body, chosen.header_rows, problems)
    assert raw is not None, problems.shown
    done = shaping.shape(chosen, raw, name, problems, **({"zone": None} | kw))
    assert done is not None, [str(p) for p in problems.shown]
    return done


def test_intercom_reads_the_zone_in_each_header_and_fin_as_the_bot() -> None:
    csv = (
        "Conversation ID,User email,Conversation started at (America/New_York),"
        "Conversation last closed at (America/New_York),Fin AI Agent involved,Team currently assigned,"
        "Teammate currently assigned,Last teammate rating\n"
        "c1,a@x.io,2026-03-02 10:00,2026-03-02 10:05,true,,,5\n"
        "c2,b@x.io,2026-03-09 10:00,,false,Tier 2,Jo,\n"
    )
    frame = shaped("intercom", "conversations.csv", csv).frame
    assert frame["opened_at"].to_list() == [datetime(2026, 3, 2, 15), datetime(2026, 3, 9, 14)]  # EST, then EDT
    assert frame["entry_channel"].to_list() == ["bot", "chat"]
    assert frame["final_line"].to_list() == ["1", "2"]
    assert frame["bot_resolved"].to_list() == [True, False]


def test_shopify_line_items_fold_into_orders_and_cancelled_ones_are_left_out() -> None:
    csv = (
        "Name,Email,Financial Status,Created at,Total,Refunded Amount,Cancelled at,Lineitem name\n"
        "#1001,a@x.io,paid,2025-10-07 09:50:26 +0200,120.00,20.00,,Shirt\n"
        "#1001,,,,,,,Socks\n"
        "#1001,,,,,,,Hat\n"
        "#1002,b@x.io,paid,2025-10-08 10:00:00 +0200,50.00,,2025-10-09 10:00:00 +0200,Cap\n"
        "#1003,c@x.io,pending,2025-10-08 11:00:00 +0200,70.00,,,Cap\n"
    )
    done = shaped("shopify", "orders_export.csv", csv)
    assert (done.rows_read, done.collapsed, done.left_out) == (5, 2, 2)
    assert done.frame.select("order_id", "amount", "ordered_at").rows() == [
        ("#1001", 100.0, datetime(2025, 10, 7, 7, 50, 26))
    ]


def test_mixpanel_epoch_seconds_and_nested_properties() -> None:
    lines = json.dumps(
        {"event": "signed_up", "properties": {"time": 1772323200, "distinct_id": "k1", "$insert_id": "i1"}}
    )
    frame = shaped("mixpanel", "export.json", lines).frame
    assert frame.select("event_id", "customer_id", "occurred_at", shaping.EVENT).rows() == [
        ("i1", "k1", datetime(2026, 3, 1), "signed_up")
    ]


def test_qualtrics_three_header_rows_and_surveymonkey_two() -> None:
    qualtrics = (
        "ResponseId,RecordedDate,RecipientEmail,Q1,Q2_TEXT\n"
        '"Response ID","Recorded Date","Recipient Email","How likely...?","Why?"\n'
        '"{""ImportId"":""_recordId""}","{""ImportId"":""recordedDate""}","{}","{}","{}"\n'
        "R_1,2026-03-02 10:00:00,ann@example.com,9,Nice\n"
    )
    mapping = sources.Mapping(
        "qualtrics",
        timezone="UTC",
        columns={"score": "Q1", "comment": "Q2_TEXT"},
        defaults={"survey": "nps", "stage_id": "onboarding"},
    )
    frame = shaped("qualtrics", "survey.csv", qualtrics, mapping, zone="UTC", defaults=mapping.defaults).frame
    assert frame.select("response_id", "score", "comment", "survey").rows() == [("R_1", 9.0, "Nice", "nps")]
    monkey = (
        "Respondent ID,Collector ID,End Date,Email Address,How likely are you to recommend us?,Anything else?\n"
        ",,,,Response,Open-Ended Response\n"
        "111,9,03/02/2026 10:15:00 AM,bob@example.com,10,Love it\n"
    )
    mapping = sources.Mapping(
        "surveymonkey", columns={"score": "How likely are you to recommend us?", "comment": "Anything else?"}
    )
    frame = shaped(
        "surveymonkey", "sm.csv", monkey, mapping, zone="UTC", defaults={"survey": "nps", "stage_id": "a"}
    ).frame
    assert frame.select("response_id", "responded_at", "score").rows() == [("111", datetime(2026, 3, 2, 10, 15), 10.0)]


def test_freshdesk_from_excel() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Ticket ID", "Email", "Created time", "Resolved time", "Source", "Group", "Type", "Survey results"])
    sheet.append([7, "a@x.io", "2026-03-02 10:00:00", "2026-03-02 11:00:00", "Phone", "L2", "Refund", "Awesome"])
    out = io.BytesIO()
    book.save(out)
    frame = shaped("freshdesk", "tickets.xlsx", out.getvalue(), zone="UTC").frame
    assert frame.select("ticket_id", "entry_channel", "final_line", "category", "csat").rows() == [
        ("7", "phone", "2", "financial", "5")
    ]


def test_every_source_is_listed_once_and_reads_its_signature() -> None:
    assert len(catalogue.BY_NAME) == len(catalogue.SOURCES) >= 13
    for source in catalogue.SOURCES:
        assert source.table in schema.TABLES_BY_NAME
        assert source.key in source.fields


def test_a_mapping_file_round_trips_and_bad_ones_are_refused_with_the_reason() -> None:
    text = (
        'source = "zendesk"\ntimezone = "Europe/Berlin"\n[columns]\nagent_id = "Assignee name"\n'
        '[values.final_line]\n"Billing" = 2\n[defaults]\nstage_id = "support"\n'
    )
    mapping = sources.Mapping.parse(text)
    assert sources.Mapping.parse(mapping.to_toml()) == mapping
    assert mapping.effective().fields["final_line"].values["Billing"] == 2
    for bad, reason in (
        ('source = "zendesk"\ntimezone = "Mars/Olympus"', "is not a time zone"),
        ('source = "zendesk"\n[columns]\nnope = "X"', "tickets has no such column"),
        ('source = "nope"', "unknown source 'nope'"),
        ('source = "zendesk"\nextra = 1', "unknown key extra"),
        ('source = "zendesk"\ntable = "orders"', "zendesk loads tickets, not orders"),
        ("timezone = 'UTC'", "say which source"),
        ("source = ", "is not valid TOML"),
    ):
        with pytest.raises(sources.MappingError, match=reason):
            sources.Mapping.parse(bad)


def test_mappings_saved_in_the_store_and_used_by_name(duck_url: str, tmp_path) -> None:
    from data_access.ops import cli

    file = tmp_path / "desk.toml"
    file.write_text('source = "zendesk"\ntimezone = "Europe/Berlin"\n[values.final_line]\n"Billing" = 2\n')
    assert cli.main(["mappings", "save", "--db", duck_url, "desk", str(file)]) == 0
    engine = store.create_store_engine(duck_url)
    assert saved.listed(engine)["name"].to_list() == ["desk"]
    assert saved.resolve(engine, "desk").values == {"final_line": {"Billing": 2}}
    put(engine, stages=[{"stage_id": "support", "name": "S", "position": 1, "in_funnel": False}])
    export = tmp_path / "export.csv"
    export.write_text(ZENDESK.replace("Tier 2", "Billing"), encoding="utf-8")
    assert cli.main(["ingest", "--db", duck_url, "--mapping", "desk", str(export)]) == 0
    assert count(engine, schema.tickets, schema.tickets.c.final_line == 2) == 3
    assert cli.main(["mappings", "remove", "--db", duck_url, "desk"]) == 0
    assert cli.main(["mappings", "show", "--db", duck_url, "desk"]) == 2


def test_the_files_values_and_what_the_map_makes_of_them() -> None:
    problems = Problems()
    raw = reading.read("t.csv", BILLING.encode(), 1, problems)
    lines = shaping.value_table(raw, catalogue.ZENDESK, "final_line")
    assert lines.rows() == [("Tier 1", 2, "1"), ("Tier 2", 2, "2"), ("Billing", 1, None)]  # most rows first
    tags = shaping.value_table(raw, catalogue.ZENDESK, "category")
    assert set(tags.rows()) == {("billing", 1, "financial"), ("vip", 1, None), ("complaint", 1, "emotional")}


def test_intercom_takes_its_csat_file_beside_the_conversations(company: Engine) -> None:
    conversations = (
        "Conversation ID,User email,Conversation started at (Europe/Berlin),"
        "Conversation last closed at (Europe/Berlin),Fin AI Agent involved,"
        "Team currently assigned,Teammate currently assigned\n"
        "c1,ann@example.com,2026-03-02 10:00,2026-03-02 10:05,true,,\n"
        "c2,bob@example.com,2026-03-09 10:00,2026-03-09 12:00,false,Tier 2,Jo\n"
    )
    ratings = "Conversation ID,Rating,Remark\nc2,2,slow\nc1,5,\nc2,4,better after all\n"
    files = [Source("conversations.csv", conversations.encode()), Source("csat.csv", ratings.encode())]
    report = sources.load(company, sources.Mapping("intercom"), files, job="test")
    assert report.loaded == 2
    with store.connect(company) as conn:
        got = dict(conn.execute(sa.select(schema.tickets.c.ticket_id, schema.tickets.c.csat)).all())
    assert got == {"c1": 5, "c2": 4}  # the last rating of a conversation wins


def test_zendesk_json_amplitude_zipped_and_segment_track_calls() -> None:
    import zipfile

    tickets = {
        "tickets": [
            {
                "id": 7,
                "requester": {"email": "a@x.io"},
                "created_at": "2026-03-02T10:00:00Z",
                "via": {"channel": "web form"},
                "group": {"name": "Tier 2"},
                "metric_set": {"replies": 2, "reopens": 0, "solved_at": "2026-03-02T12:00:00Z"},
                "satisfaction_rating": {"score": "good"},
                "tags": ["refund", "vip"],
            }
        ]
    }
    frame = shaped("zendesk", "tickets.json", json.dumps(tickets)).frame  # UTC offsets: no zone asked for
    assert frame.select("ticket_id", "final_line", "contacts", "category", "csat", "resolved_at").rows() == [
        ("7", "2", 2.0, "financial", "5", datetime(2026, 3, 2, 12))
    ]
    lines = "\n".join(
        json.dumps({"uuid": f"a{i}", "event_type": "signed_up", "user_id": u, "device_id": "d9", "event_time": t})
        for i, (u, t) in enumerate((("k1", "2026-03-01 10:00:00.123000"), (None, "2026-03-01 11:00:00.000000")))
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("123/123_2026-03-01_10#0.json.gz", gzip.compress(lines.encode()))
    frame = shaped("amplitude", "export.zip", archive.getvalue()).frame
    assert frame.select("event_id", "customer_id", "occurred_at").rows() == [
        ("a0", "k1", datetime(2026, 3, 1, 10, 0, 0, 123000)),
        ("a1", "d9", datetime(2026, 3, 1, 11)),  # no user id: the device
    ]
    calls = "\n".join(
        json.dumps(
            {"type": kind, "messageId": m, "userId": "k1", "event": "signed_up", "timestamp": "2026-03-01T10:00:00Z"}
        )
        for kind, m in (("track", "m1"), ("identify", "m2"), ("track", "m3"))
    )
    done = shaped("segment", "calls.jsonl", calls)
    assert (done.frame["event_id"].to_list(), done.left_out) == (["m1", "m3"], 1)
