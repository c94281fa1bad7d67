"""The data contract: every table and column name of the store, declared once.

Each column carries its documentation in ``info`` (meaning, example, allowed values), so the README table,
the Data page and the ingestion validator all read the contract from here. Timestamps are stored as naive
UTC (``DateTime`` without time zone) so that every supported dialect stores them the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

from data_access.i18n import N_, _
from data_access.schema.app import *  # noqa: F403 - the app's own tables, named in app.__all__
from data_access.schema.columns import ID, NAME, TIMESTAMP, col, metadata
from data_access.schema.columns import bound_time as bound_time

# Allowed values, shared by the validator, the generator and the metrics layer.
SURVEY_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7), "exit": (1, 5)}
EXIT_SURVEY = "exit"  # an exit interview: an overall score 1-5, a reason and the comment
# the contract's exit reasons (codes in the data; shown through _() in the interface's language)
EXIT_REASONS = (
    N_("price"),
    N_("missing feature"),
    N_("support experience"),
    N_("moved to competitor"),
    N_("no longer needed"),
    N_("other"),
)
EXPERIMENT_METRICS = ("retention_90d", "conversion", "csat")
TICKET_CATEGORIES = ("technical", "financial", "emotional", "other")
SUPPORT_LINES = (1, 2, 3)
MAP_LANES = (
    "actions",
    "thoughts",
    "feelings",
    "touchpoints",
    "company_actions",
    "pains",
    "opportunities",
    "departments",
    "jtbd",
    "moments_of_truth",
    "expectations",
)
ALL_STAGES = "*"

stages = sa.Table(
    "stages",
    metadata,
    col("stage_id", ID, key=True, doc=N_("Stage key, referenced by every other table"), example="onboarding"),
    col("name", NAME, doc=N_("Name shown on the map"), example="Onboarding"),
    col("position", sa.Integer, doc=N_("Order on the map (left to right)"), example="4"),
    col("in_funnel", sa.Boolean, doc=N_("Whether the stage is a step of the main funnel"), example="true"),
    col(
        "phase",
        NAME,
        required=False,
        doc=N_("Phase of the journey the stage belongs to; the journey map groups its stages by it"),
        example="After the first purchase",
    ),
    col("description", sa.Text, required=False, doc=N_("What happens at this stage"), example="First week of use"),
)

customers = sa.Table(
    "customers",
    metadata,
    col("customer_id", ID, key=True, doc=N_("Customer key"), example="C000042"),
    col("signup_at", TIMESTAMP, doc=N_("When the customer signed up (UTC)"), example="2025-03-02T10:15:00Z"),
    col("segment", NAME, doc=N_("Customer segment"), example="B2C"),
    col("persona", NAME, required=False, doc=N_("Persona from the CX team's research"), example="Busy parent"),
    col("channel", NAME, doc=N_("Acquisition channel"), example="ads"),
    col("region", NAME, doc=N_("Region"), example="EU"),
    col("plan", NAME, doc=N_("Plan or tariff"), example="basic"),
    col(
        "churned_at",
        TIMESTAMP,
        required=False,
        doc=N_("When the customer cancelled; empty while active"),
        example="2026-01-20T08:00:00Z",
    ),
    col(
        "email",
        sa.String(254),
        required=False,
        doc=N_("The customer's e-mail, for the lists handed to the CRM; masked for leadership"),
        example="jane.doe@example.com",
    ),
    col("name", NAME, required=False, doc=N_("The customer's name; masked for leadership"), example="Jane Doe"),
)

journey_events = sa.Table(
    "journey_events",
    metadata,
    col(
        "event_id",
        ID,
        key=True,
        made_up=True,
        doc=N_("Event key; made up from the row's content when absent, so a re-load is idempotent"),
        example="E0000001",
    ),
    col("customer_id", ID, doc=N_("The customer (customers.customer_id)"), example="C000042"),
    col("stage_id", ID, doc=N_("The journey stage (stages.stage_id)"), example="onboarding"),
    col("occurred_at", TIMESTAMP, doc=N_("When it happened (UTC)"), example="2025-03-03T09:00:00Z"),
    col(
        "touchpoint",
        NAME,
        required=False,
        doc=N_("Where: web, app, email, chat, phone, store, ads, social..."),
        example="app",
    ),
    col("action", NAME, required=False, doc=N_("What the customer did (free text)"), example="login"),
)

survey_responses = sa.Table(
    "survey_responses",
    metadata,
    col("response_id", ID, key=True, doc=N_("Response key"), example="R0000001"),
    col("customer_id", ID, doc=N_("The customer (customers.customer_id)"), example="C000042"),
    col("stage_id", ID, doc=N_("The stage the answer is about (stages.stage_id)"), example="onboarding"),
    col(
        "survey",
        sa.String(8),
        doc=N_("csat (1-5), nps (0-10), ces (1-7) or exit (an exit interview: overall 1-5, with a reason)"),
        example="nps",
        enum=tuple(SURVEY_RANGES),
    ),
    col("score", sa.Integer, doc=N_("The score, in that survey's range"), example="9"),
    col("responded_at", TIMESTAMP, doc=N_("When the answer was given (UTC)"), example="2025-03-10T12:00:00Z"),
    col("touchpoint", NAME, required=False, doc=N_("Where the survey was answered"), example="email"),
    col("comment", sa.Text, required=False, doc=N_("Free-text comment"), example="Setup took too long"),
    col(
        "reason",
        sa.String(32),
        required=False,
        doc=N_("Why the customer left: required on exit answers, empty on the others; one of {values}"),
        example="price",
        enum=EXIT_REASONS,
    ),
)

tickets = sa.Table(
    "tickets",
    metadata,
    col("ticket_id", ID, key=True, doc=N_("Ticket key"), example="T0000001"),
    col("customer_id", ID, doc=N_("The customer (customers.customer_id)"), example="C000042"),
    col(
        "stage_id", ID, required=False, doc=N_("Stage where the problem arose (stages.stage_id)"), example="onboarding"
    ),
    col("opened_at", TIMESTAMP, doc=N_("When the ticket was opened (UTC)"), example="2025-03-11T08:00:00Z"),
    col(
        "first_response_at",
        TIMESTAMP,
        required=False,
        doc=N_("First answer to the customer (UTC)"),
        example="2025-03-11T08:02:00Z",
    ),
    col(
        "resolved_at",
        TIMESTAMP,
        required=False,
        doc=N_("When it was resolved; empty = still open"),
        example="2025-03-11T09:30:00Z",
    ),
    col("entry_channel", NAME, doc=N_("Where it came in: bot, chat, phone, email, web..."), example="bot"),
    col(
        "final_line",
        sa.Integer,
        doc=N_("Highest support line that worked on it (1, 2 or 3)"),
        example="2",
        enum=SUPPORT_LINES,
    ),
    col("bot_resolved", sa.Boolean, doc=N_("Closed by the bot with no hand-off to a person"), example="false"),
    col("contacts", sa.Integer, doc=N_("Customer contacts until resolved (>= 1)"), example="1", range_=(1, None)),
    col("reopened", sa.Boolean, doc=N_("Whether the ticket was reopened"), example="false"),
    col(
        "category",
        NAME,
        doc=N_("technical, financial, emotional or other"),
        example="financial",
        enum=TICKET_CATEGORIES,
    ),
    col("agent_id", ID, required=False, doc=N_("The agent who handled it last"), example="A017"),
    col(
        "csat",
        sa.Integer,
        required=False,
        doc=N_("The customer's 1-5 rating of this ticket"),
        example="4",
        range_=(1, 5),
    ),
)

orders = sa.Table(
    "orders",
    metadata,
    col("order_id", ID, key=True, doc=N_("Order key"), example="O0000001"),
    col("customer_id", ID, doc=N_("The customer (customers.customer_id)"), example="C000042"),
    col("ordered_at", TIMESTAMP, doc=N_("When the order was placed (UTC)"), example="2025-03-05T18:20:00Z"),
    col("amount", sa.Float(53), doc=N_("Order value (>= 0)"), example="49.90", range_=(0, None)),
)

kpi_targets = sa.Table(
    "kpi_targets",
    metadata,
    col("stage_id", ID, key=True, doc=N_("The stage, or * for every stage"), example="*"),
    col(
        "metric",
        sa.String(64),
        key=True,
        doc=N_(
            "Metric name from the metrics layer (csat, nps, ces, fcr...) or a journey map figure "
            "(conversion, dropoff, tickets_per_100, days_to_next, emotion, fcr_line_2)"
        ),
        example="csat",
    ),
    col("target", sa.Float(53), doc=N_("Value that counts as good"), example="80"),
    col("warn", sa.Float(53), doc=N_("Amber threshold: between target and warn is amber, beyond it red"), example="70"),
)

journey_map = sa.Table(
    "journey_map",
    metadata,
    col("map", NAME, key=True, doc=N_("Name of the map"), example="B2C - current state"),
    col("stage_id", ID, key=True, doc=N_("The stage (stages.stage_id)"), example="onboarding"),
    col("lane", sa.String(32), key=True, doc=N_("One of: {values}"), example="pains", enum=MAP_LANES),
    col("text", sa.Text, doc=N_("What the CX team wrote in this cell"), example="Setup wizard is confusing"),
)

# Product events (PostHog, Amplitude, Mixpanel, Segment...) become journey events by these rules when loaded.
stage_rules = sa.Table(
    "stage_rules",
    metadata,
    col(
        "event",
        NAME,
        key=True,
        doc=N_("The product event's name, or a pattern with * and ? such as onboarding_*"),
        example="onboarding_*",
    ),
    col(
        "property",
        NAME,
        key=True,
        made_up=True,
        doc=N_("Optional: a property of the event that must hold the value below; empty = any event of that name"),
        example="plan",
    ),
    col("value", NAME, key=True, made_up=True, doc=N_("Optional: the property's value"), example="trial"),
    col("stage_id", ID, doc=N_("The journey stage such events are (stages.stage_id)"), example="onboarding"),
)

offers = sa.Table(
    "offers",
    metadata,
    col("offer_id", ID, key=True, doc=N_("Offer key"), example="F0000001"),
    col("customer_id", ID, doc=N_("The customer (customers.customer_id)"), example="C000042"),
    col("offered_at", TIMESTAMP, doc=N_("When the retention offer was made (UTC)"), example="2026-03-02T10:00:00Z"),
    col("offer_type", NAME, doc=N_("What was offered: discount, plan change, success call..."), example="success call"),
    col("accepted", sa.Boolean, doc=N_("Whether the customer took it"), example="true"),
    col("channel", NAME, required=False, doc=N_("How it was made: e-mail, phone, in-app"), example="phone"),
)
experiment_info = sa.Table(
    "experiment_info",
    metadata,
    col("experiment", ID, key=True, doc=N_("Experiment key"), example="onboarding-checklist"),
    col(
        "hypothesis",
        sa.Text,
        doc=N_("What it tests, in words"),
        example="A checklist gets more customers to regular use",
    ),
    col(
        "primary_metric",
        sa.String(16),
        doc=N_(
            "retention_90d (no churn within 90 days of assignment), conversion (from its stage to the next "
            "funnel step within 90 days) or csat (CSAT of its stage after assignment)"
        ),
        example="conversion",
        enum=EXPERIMENT_METRICS,
    ),
    col("stage_id", ID, required=False, doc=N_("The stage of a conversion or csat metric"), example="onboarding"),
    col("start_at", TIMESTAMP, doc=N_("First assignment (UTC)"), example="2026-03-01T00:00:00Z"),
    col(
        "end_at", TIMESTAMP, required=False, doc=N_("Last assignment (empty: running)"), example="2026-06-30T00:00:00Z"
    ),
    col("owner", NAME, required=False, doc=N_("Who runs it"), example="Product"),
)
experiments = sa.Table(
    "experiments",
    metadata,
    col(
        "experiment",
        ID,
        key=True,
        doc=N_("The experiment (experiment_info.experiment)"),
        example="onboarding-checklist",
    ),
    col("customer_id", ID, key=True, doc=N_("The customer (customers.customer_id)"), example="C000042"),
    col("variant", NAME, doc=N_("The variant the customer got: control, treatment..."), example="treatment"),
    col("assigned_at", TIMESTAMP, doc=N_("When (UTC)"), example="2026-03-02T10:00:00Z"),
)
business_events = sa.Table(
    "business_events",
    metadata,
    col("occurred_at", TIMESTAMP, key=True, doc=N_("When it happened (UTC)"), example="2026-02-01T00:00:00Z"),
    col("name", NAME, key=True, doc=N_("A release, a price change, a campaign..."), example="Release 5.0"),
    col("description", sa.Text, required=False, doc=N_("What changed"), example="New navigation"),
    col("segment", NAME, required=False, doc=N_("Segment it applies to; empty = everyone"), example="B2C"),
)

# Columns of the frames handed to a page that hold a person's data: masked for a viewer who may not see them.
PERSONAL_COLUMNS = ("email", "customer_name", "comment")

# Derived tables: written by the store itself whenever journey events or stages are loaded (ingestion, seed,
# ``python -m data_access refresh``), never from files and not part of the data contract. ``derived_state`` says
# what each was built from, so that a query can tell a table that is still current from one that is not.
FUNNEL_ATTEMPT_STEPS = 12  # step columns t0..t11: a default funnel with more steps is always counted live
funnel_attempts = sa.Table(
    "funnel_attempts",
    metadata,
    sa.Column("customer_id", ID, nullable=False, info={"doc": "The customer"}),
    sa.Column("entered_at", TIMESTAMP, nullable=False, info={"doc": "The attempt's first-step event"}),
    *(
        sa.Column(f"t{k}", sa.BigInteger, info={"doc": f"Epoch ms of step {k}'s event, null when not reached"})
        for k in range(FUNNEL_ATTEMPT_STEPS)
    ),
    sa.Column("single", sa.Boolean, nullable=False, info={"doc": "The customer's only attempt: no choice to make"}),
)
stage_customers = sa.Table(
    "stage_customers",
    metadata,
    sa.Column("stage_id", ID, nullable=False, info={"doc": "The stage"}),
    sa.Column("customer_id", ID, nullable=False, info={"doc": "A customer with an event at it"}),
    sa.Column("first_at", TIMESTAMP, nullable=False, info={"doc": "The customer's first event at the stage"}),
    sa.Column("last_at", TIMESTAMP, nullable=False, info={"doc": "Their last event at the stage"}),
    sa.Column(
        "months",
        sa.BigInteger,
        info={"doc": "Bit k: an event at the stage in the k-th month from the data's first (empty beyond 62 months)"},
    ),
)
customer_activity = sa.Table(
    "customer_activity",
    metadata,
    sa.Column("customer_id", ID, nullable=False, info={"doc": "A customer with a journey event or an order"}),
    sa.Column(
        "months",
        sa.BigInteger,
        nullable=False,
        info={"doc": "Bit k: an event or an order in the k-th month from the table's first (at most 62 months)"},
    ),
    sa.Column(
        "months_back",
        sa.BigInteger,
        nullable=False,
        info={"doc": "The same bits for the events and orders after the customer's churn date (a reactivation)"},
    ),
)
derived_state = sa.Table(
    "derived_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True, info={"doc": "The derived table"}),
    sa.Column("spec", sa.Text, nullable=False, info={"doc": "What it was built for (the funnel's steps and window)"}),
    sa.Column("source_rows", sa.BigInteger, nullable=False, info={"doc": "journey_events rows it was built from"}),
    sa.Column("source_first", TIMESTAMP, info={"doc": "Their earliest occurred_at"}),
    sa.Column("source_last", TIMESTAMP, info={"doc": "Their latest occurred_at"}),
    sa.Column("built_at", TIMESTAMP, nullable=False, info={"doc": "When it was built (UTC)"}),
)
DERIVED_TABLES: tuple[sa.Table, ...] = (funnel_attempts, stage_customers, customer_activity, derived_state)

# Customer attributes on the facts (store-only, not part of the data contract): each row of these tables carries
# its customer's filter attributes, copied from ``customers`` whenever either side is loaded
# (``data_access.store.attributes``), so that a customer filter is a predicate on a column of the table being read
# instead of a semi-join of every row on the customer key.
FILTER_DIMENSIONS: tuple[str, ...] = ("segment", "persona", "channel", "region", "plan")
ATTRIBUTE_FACTS: tuple[sa.Table, ...] = (journey_events, survey_responses, tickets, orders, offers, experiments)
ATTRIBUTE_DERIVED: tuple[sa.Table, ...] = (funnel_attempts, stage_customers, customer_activity)
ATTRIBUTE_TABLES: tuple[sa.Table, ...] = (*ATTRIBUTE_FACTS, *ATTRIBUTE_DERIVED)


def attribute_column(dimension: str) -> str:
    """The store-only column that holds a customer's ``dimension`` on a fact's row: ``customer_segment``."""
    return f"customer_{dimension}"


def _store_only(tables: tuple[sa.Table, ...], name: str, type_: sa.types.TypeEngine, doc: str) -> None:
    """Appends a nullable store-only column (no file carries it, the contract does not list it) to ``tables``."""
    info = {"doc": doc, "example": "", "required": False, "made_up": False, "enum": None, "range": None}
    for table in tables:
        table.append_column(sa.Column(name, type_, nullable=True, info={**info, "store_only": True}))


for _dimension in FILTER_DIMENSIONS:
    _store_only(
        ATTRIBUTE_TABLES,
        attribute_column(_dimension),
        NAME,
        f"The customer's {_dimension}, copied from customers (store-only)",
    )

# The customer's number (store-only): an integer given to each customer when first loaded, kept across loads, and
# copied onto the facts with the attributes. Grouping and joining every fact row by customer reads this integer
# instead of the text key (on ClickHouse 1.3-1.8x faster per statement, see the README's issue 30 section).
CUSTOMER_KEY = "customer_key"
_store_only(
    (customers, *ATTRIBUTE_TABLES),
    CUSTOMER_KEY,
    sa.BigInteger(),
    "The customer's number, given by the store (store-only)",
)

# The customer's churn date, copied too (``customer_churned_at``): what happened after it (a reactivation), or
# whether an offer's or an experiment's customer was kept, is then read from the row itself, without a join of
# every row to ``customers``.
CHURN_COPY = "churned_at"
CHURN_COPY_COLUMN = attribute_column(CHURN_COPY)  # the rows' column: customer_churned_at
# And the customer's signup time (``customer_signup_at``): a cohort (the customers who signed up in a period) is
# then read from the rows themselves; the cohorts' revenue and repeat purchase group the orders by it, without a join
# of every order to the customers of the cohorts (at 10M customers on chDB that join was 2-3 s a statement).
SIGNUP_COPY = "signup_at"
SIGNUP_COPY_COLUMN = attribute_column(SIGNUP_COPY)  # the rows' column: customer_signup_at
for _column, _what in ((CHURN_COPY_COLUMN, "cancelled"), (SIGNUP_COPY_COLUMN, "signed up")):
    _store_only(ATTRIBUTE_TABLES, _column, TIMESTAMP, f"When the customer {_what}, copied from customers (store-only)")
# The customers' columns the facts copy under attribute_column names: the filter attributes, the churn date and the
# signup time.
COPIED_ATTRIBUTES: tuple[str, ...] = (*FILTER_DIMENSIONS, CHURN_COPY, SIGNUP_COPY)
# Every store-only column a fact or derived row copies from its customer: those, then the number.
COPY_COLUMNS: tuple[str, ...] = (*(attribute_column(c) for c in COPIED_ATTRIBUTES), CUSTOMER_KEY)


def contract_columns(table: sa.Table) -> list[sa.Column]:
    """The columns of ``table`` that the data contract names (without the store-only customer attributes)."""
    return [c for c in table.columns if not c.info.get("store_only")]


def stored_attributes(table: sa.FromClause) -> dict[str, sa.ColumnElement] | None:
    """A table's (or its alias's) copies of the customer attributes by dimension, or None when it has none."""
    names = {d: attribute_column(d) for d in FILTER_DIMENSIONS}
    columns = getattr(table, "c", None)
    if columns is None or not all(n in columns for n in names.values()):
        return None
    return {d: columns[n] for d, n in names.items()}


sa.Index("ix_journey_events_stage_time", journey_events.c.stage_id, journey_events.c.occurred_at)
sa.Index("ix_journey_events_customer_time", journey_events.c.customer_id, journey_events.c.occurred_at)
sa.Index("ix_survey_responses_stage_time", survey_responses.c.stage_id, survey_responses.c.responded_at)
sa.Index("ix_tickets_opened", tickets.c.opened_at)
sa.Index("ix_orders_customer_time", orders.c.customer_id, orders.c.ordered_at)

# Load order: parents before children.
TABLES: tuple[sa.Table, ...] = (
    stages,
    customers,
    journey_events,
    survey_responses,
    tickets,
    orders,
    kpi_targets,
    journey_map,
    stage_rules,
    business_events,
    offers,
    experiment_info,
    experiments,
)
TABLES_BY_NAME: dict[str, sa.Table] = {t.name: t for t in TABLES}
# Tables a company may not have (and a store made before them lacks): the pages that need them say so.
OPTIONAL_TABLES: tuple[sa.Table, ...] = (offers, experiment_info, experiments, stage_rules)
CORE_TABLES: tuple[sa.Table, ...] = tuple(t for t in TABLES if t not in OPTIONAL_TABLES)

# Foreign references checked on ingestion (child table, column) -> (parent table, column). Not declared as
# FOREIGN KEY constraints so that bulk loads stay fast on every dialect; ingestion enforces them instead.
REFERENCES: dict[tuple[str, str], tuple[str, str]] = {
    ("journey_events", "customer_id"): ("customers", "customer_id"),
    ("journey_events", "stage_id"): ("stages", "stage_id"),
    ("survey_responses", "customer_id"): ("customers", "customer_id"),
    ("survey_responses", "stage_id"): ("stages", "stage_id"),
    ("tickets", "customer_id"): ("customers", "customer_id"),
    ("tickets", "stage_id"): ("stages", "stage_id"),
    ("orders", "customer_id"): ("customers", "customer_id"),
    ("journey_map", "stage_id"): ("stages", "stage_id"),
    ("kpi_targets", "stage_id"): ("stages", "stage_id"),
    ("stage_rules", "stage_id"): ("stages", "stage_id"),
    ("offers", "customer_id"): ("customers", "customer_id"),
    ("experiment_info", "stage_id"): ("stages", "stage_id"),
    ("experiments", "experiment"): ("experiment_info", "experiment"),
    ("experiments", "customer_id"): ("customers", "customer_id"),
}
# A value that a reference accepts without a parent row.
REFERENCE_WILDCARDS: dict[tuple[str, str], str] = {("kpi_targets", "stage_id"): ALL_STAGES}

# The timestamp that places a row in time, per table (for freshness and the default period).
TIME_COLUMNS: dict[str, str] = {
    "customers": "signup_at",
    "journey_events": "occurred_at",
    "survey_responses": "responded_at",
    "tickets": "opened_at",
    "orders": "ordered_at",
    "business_events": "occurred_at",
    "offers": "offered_at",
    "experiments": "assigned_at",
}


def key_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def type_name(column: sa.Column) -> str:
    """The contract's name for a column's type: text, integer, number, boolean or timestamp."""
    t = column.type
    if isinstance(t, sa.DateTime):
        return "timestamp"
    if isinstance(t, sa.Boolean):
        return "boolean"
    if isinstance(t, sa.Integer):
        return "integer"
    if isinstance(t, sa.Float):
        return "number"
    return "text"


TYPE_NAMES = (N_("text"), N_("integer"), N_("number"), N_("boolean"), N_("timestamp"))  # of type_name()


def column_doc(column: sa.Column) -> str:
    """What a contract column means, in the current language (an enum's values listed where the text says)."""
    text = _(column.info["doc"])
    enum = column.info.get("enum")
    return text.format(values=", ".join(map(str, enum))) if "{values}" in text and enum else text


def contract_markdown() -> str:
    """The data contract as Markdown tables, one per table (used by the README and the Data page)."""
    out: list[str] = []
    for table in TABLES:
        out.append(f"#### `{table.name}`\n")
        out.append("| column | type | required | meaning | example |")
        out.append("|---|---|---|---|---|")
        for c in contract_columns(table):
            info = c.info
            need = "key" if c.primary_key and not info["made_up"] else ("yes" if info["required"] else "optional")
            out.append(f"| `{c.name}` | {type_name(c)} | {need} | {column_doc(c)} | `{info['example']}` |")
        out.append("")
    return "\n".join(out)


def _not_on_duckdb(ddl: object, target: object, bind: object, dialect: sa.Dialect | None = None, **kw: object) -> bool:
    return dialect is None or dialect.name != "duckdb"


# DuckDB keeps primary keys and indexes as in-memory ART trees and rewrites them at every checkpoint, which makes
# bulk loads slow and memory-hungry, and its scans do not need them. There they are left out; ingestion keeps the
# keys unique on every store (duplicates in a file are refused, an existing key is replaced).
for _table in TABLES:
    _table.primary_key.ddl_if(callable_=_not_on_duckdb)
    for _index in _table.indexes:
        _index.ddl_if(callable_=_not_on_duckdb)
