"""Every source the product reads, declared once: the vendor's columns (with the aliases seen in real exports), how
they become the contract's, how its times are read, its own id, its file's shape. The README's "Connecting your
data" tables, the Data page's choice and ``ingest --source`` all read this list.

Where a vendor column holds the customer, ``customer_id`` names the columns of an id and ``_email`` those of an
e-mail (:mod:`data_access.sources.identity` looks a customer up by either). ``_event`` is a product event's name,
which the stage rules turn into a stage.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from data_access.i18n import N_
from data_access.sources.shaping import EMAIL, EVENT, File, mapped
from data_access.sources.spec import NULL, REFUSE, Companion, Field, Keep, Source, norm

LINES = {
    **{f"{word} {n}": n for n in (1, 2, 3) for word in ("tier", "level", "line", "l")},
    **{f"l{n}": n for n in (1, 2, 3)},
    **{f"{n}": n for n in (1, 2, 3)},
    "1st line": 1,
    "first line": 1,
    "2nd line": 2,
    "second line": 2,
    "3rd line": 3,
    "third line": 3,
}
CATEGORIES = {
    "technical": "technical",
    "bug": "technical",
    "incident": "technical",
    "problem": "technical",
    "financial": "financial",
    "billing": "financial",
    "payment": "financial",
    "refund": "financial",
    "invoice": "financial",
    "emotional": "emotional",
    "complaint": "emotional",
    "feedback": "emotional",
}
CHANNELS = {
    "mail": "email",
    "email": "email",
    "e-mail": "email",
    "outbound email": "email",
    "web form": "web",
    "web widget": "web",
    "web service": "web",
    "api": "web",
    "portal": "web",
    "feedback widget": "web",
    "chat": "chat",
    "messaging": "chat",
    "native messaging": "chat",
    "conversation": "chat",
    "messenger": "chat",
    "phone": "phone",
    "phone call (incoming)": "phone",
    "phone call (outgoing)": "phone",
    "voicemail": "phone",
    "phone_call": "phone",
    "bot": "bot",
    "answer bot": "bot",
    "ai agent": "bot",
}
_TRUE = ("true", "yes", "1", "t")


def _minutes_after(start: tuple[str, ...], minutes: tuple[str, ...]) -> Field:
    def derive(file: File, _spec: Field) -> pl.Expr:
        return file.time(*start) + pl.duration(milliseconds=(file.number(*minutes) * 60_000).round().cast(pl.Int64))

    return Field(minutes, derive=derive, note=f"{start[0]} + {minutes[0]}")


def _net(amount: tuple[str, ...], refunded: tuple[str, ...]) -> Field:
    def derive(file: File, _spec: Field) -> pl.Expr:
        return file.number(*amount) - file.number(*refunded).fill_null(0)

    return Field(amount, read="number", derive=derive, note=f"{amount[0]} - {refunded[0]}")


def _zendesk_bot(file: File) -> pl.Expr:
    return mapped(file, Field(("Via", "via.channel"), values=CHANNELS)) == "bot"


ZENDESK = Source(
    name="zendesk",
    title=N_("Zendesk tickets"),
    family="tickets",
    key="ticket_id",
    signature=("Id", "Via", "Satisfaction Score"),
    zone=None,  # the CSV's times are in the account's zone; the JSON export's carry an offset
    formats="CSV or the JSON export",
    fields={
        "ticket_id": Field(("Id", "id")),
        "customer_id": Field(("Requester external id", "requester.external_id", "Requester id", "requester_id")),
        EMAIL: Field(("Requester email", "requester.email")),
        "opened_at": Field(("Created at", "created_at"), read="time"),
        "first_response_at": _minutes_after(
            ("Created at", "created_at"),
            (
                "First reply time in minutes",
                "metric_set.reply_time_in_minutes.calendar",
                "reply_time_in_minutes.calendar",
            ),
        ),
        "resolved_at": Field(("Solved at", "metric_set.solved_at", "solved_at"), read="time"),
        "entry_channel": Field(("Via", "via.channel"), values=CHANNELS),
        "final_line": Field(("Group", "group.name", "group_name"), read="integer", values=LINES, other=REFUSE),
        "bot_resolved": Field(
            ("Via", "Assignee"),
            read="boolean",
            derive=lambda f, _s: _zendesk_bot(f) & f.text("Assignee", "assignee.name", "assignee_id").is_null(),
            note="Via is a bot and no Assignee",
        ),
        "contacts": Field(("Replies", "metric_set.replies"), read="at_least_one"),
        "reopened": Field(("Reopens", "metric_set.reopens"), read="positive"),
        "category": Field(
            ("Tags", "tags", "Ticket type", "type"),
            read="first_mapped",
            values=CATEGORIES,
            other="other",
            default="other",
        ),
        "agent_id": Field(("Assignee", "assignee.name", "assignee_id")),
        "csat": Field(
            ("Satisfaction Score", "satisfaction_rating.score"),
            read="integer",
            values={"good": 5, "bad": 1, "offered": None, "unoffered": None, "not offered": None},
        ),
    },
    notes="Satisfaction Good counts as 5 and Bad as 1 (CSAT counts 4 and 5 as satisfied); Offered is no rating.",
)


def _fin(file: File) -> pl.Expr:
    return file.text("Fin AI Agent involved", "ai_agent_participated").str.to_lowercase().is_in(_TRUE)


def _intercom_channel(file: File, spec: Field) -> pl.Expr:
    return pl.when(_fin(file)).then(pl.lit("bot")).otherwise(pl.coalesce(mapped(file, spec), pl.lit("chat")))


def _intercom_line(file: File, spec: Field) -> pl.Expr:
    team = file.text(*spec.aliases)
    return pl.coalesce(mapped(file, spec), pl.when(_fin(file) & team.is_null()).then(pl.lit("1")))


INTERCOM = Source(
    name="intercom",
    title=N_("Intercom conversations"),
    family="tickets",
    key="ticket_id",
    signature=("Conversation ID", "Conversation started at"),
    zone=None,  # the report names the zone in each time's header: "Conversation started at (America/New_York)"
    formats="the conversations report (CSV)",
    fields={
        "ticket_id": Field(("Conversation ID", "id", "conversation_id")),
        "customer_id": Field(("User external ID", "User ID", "user.external_id", "contacts.external_id")),
        EMAIL: Field(("User email", "Email", "user.email")),
        "opened_at": Field(("Conversation started at", "created_at"), read="time"),
        "first_response_at": Field(("Conversation first replied at", "statistics.first_admin_reply_at"), read="time"),
        "resolved_at": Field(("Conversation last closed at", "statistics.last_close_at"), read="time"),
        "entry_channel": Field(
            ("Conversation source type", "source.type", "Channel"),
            values=CHANNELS,
            derive=_intercom_channel,
            note="bot when Fin AI Agent involved, else the source type",
        ),
        "final_line": Field(
            ("Team currently assigned", "team_assignee.name"),
            read="integer",
            values=LINES,
            other=REFUSE,
            derive=_intercom_line,
            note="the team through the line map; 1 for Fin alone",
        ),
        "bot_resolved": Field(
            ("Fin AI Agent involved",),
            read="boolean",
            derive=lambda f, _s: _fin(f) & f.text("Teammate currently assigned", "admin_assignee.name").is_null(),
            note="Fin AI Agent involved and no teammate",
        ),
        "contacts": Field(
            ("Customer replies", "Count conversation parts", "statistics.count_conversation_parts"),
            read="at_least_one",
        ),
        "reopened": Field(("Count reopens", "statistics.count_reopens"), read="positive"),
        "category": Field(
            ("Topics", "Conversation tags", "tags"),
            read="first_mapped",
            values=CATEGORIES,
            other="other",
            default="other",
        ),
        "agent_id": Field(("Teammate currently assigned", "admin_assignee.name", "admin_assignee_id")),
        "csat": Field(("Last teammate rating", "Conversation rating", "conversation_rating.rating"), read="integer"),
    },
    companion=Companion(
        signature=("Conversation ID", "Rating"),
        key=("Conversation ID", "conversation_id"),
        columns={"Conversation rating": ("Rating", "Conversation rating", "CSAT rating")},
    ),
    notes="Each time's zone is read from its header. The CSAT file beside the report (its Conversation ID and "
    "Rating) can be loaded with it: each rating joins its conversation.",
)

FRESHDESK = Source(
    name="freshdesk",
    title=N_("Freshdesk tickets"),
    family="tickets",
    key="ticket_id",
    signature=("Ticket ID", "Created time", "Source"),
    zone=None,
    formats="CSV export",
    fields={
        "ticket_id": Field(("Ticket ID", "id")),
        "customer_id": Field(("Contact ID", "requester_id")),
        EMAIL: Field(("Email", "requester.email")),
        "opened_at": Field(("Created time", "created_at"), read="time"),
        "first_response_at": Field(("Initial response time", "stats.first_responded_at"), read="time"),
        "resolved_at": Field(("Resolved time", "Closed time", "stats.resolved_at", "stats.closed_at"), read="time"),
        "entry_channel": Field(
            ("Source", "source"),
            values={**CHANNELS, "1": "email", "2": "web", "3": "phone", "7": "chat", "9": "web", "10": "email"},
        ),
        "final_line": Field(("Group", "group.name"), read="integer", values=LINES, other=REFUSE),
        "bot_resolved": Field((), read="boolean", derive=lambda _f, _s: pl.lit(False), note="false"),
        "contacts": Field(("Customer interactions",), read="at_least_one"),
        "reopened": Field(("stats.reopened_at", "Reopened at"), read="present"),
        "category": Field(
            ("Type", "type", "Tags", "tags"), read="first_mapped", values=CATEGORIES, other="other", default="other"
        ),
        "agent_id": Field(("Agent", "responder_id")),
        "csat": Field(
            ("Survey results", "Satisfaction rating"),
            read="integer",
            values={"awesome": 5, "extremely happy": 5, "happy": 4, "neutral": 3, "unhappy": 2, "not good": 1},
            other=NULL,
        ),
    },
)

DELIGHTED = Source(
    name="delighted",
    title=N_("Delighted answers"),
    family="answers",
    key="response_id",
    signature=("Score", "Comment", "Survey Type"),
    formats="CSV or JSON",
    fields={
        "response_id": Field(("Response ID", "id")),
        "customer_id": Field(("Person ID", "person.id", "person")),
        EMAIL: Field(("Email", "Person Email", "person_email", "person.email")),
        "survey": Field(
            ("Survey Type", "survey_type"), values={"csat5": "csat", "ces7": "ces", "enps": "nps"}, default="nps"
        ),
        "score": Field(("Score", "score"), read="integer"),
        "responded_at": Field(("Created At", "created_at", "Response Timestamp", "Date"), read="time"),
        "comment": Field(("Comment", "comment")),
        "touchpoint": Field(("Channel", "channel")),
    },
    notes="The stage the answers are about is given: [defaults] stage_id = ... (or --default stage_id=...).",
)


def _survey_tool(
    name: str, title: str, ids: tuple[str, ...], who: tuple[str, ...], when: tuple[str, ...], **kw: Any
) -> Source:
    return Source(
        name=name,
        title=title,
        family="answers",
        key="response_id",
        generic=True,
        fields={
            "response_id": Field(ids),
            EMAIL: Field(who),
            "responded_at": Field(when, read="time"),
            "score": Field((), read="integer"),
            "comment": Field(()),
            "survey": Field(()),
        },
        notes="Pick the score and comment columns, the survey (nps, csat, ces) and the stage in the mapping.",
        **kw,
    )


TYPEFORM = _survey_tool(
    "typeform",
    N_("Typeform responses"),
    ("#", "Response ID", "Token"),
    ("email", "Email", "hidden.email"),
    ("Submit Date", "submitted_at"),
    signature=("#", "Submit Date", "Network ID"),
)
SURVEYMONKEY = _survey_tool(
    "surveymonkey",
    N_("SurveyMonkey responses"),
    ("Respondent ID",),
    ("Email Address", "Custom Data 1"),
    ("End Date",),
    signature=("Respondent ID", "Collector ID", "End Date"),
    header_rows=2,
    zone=None,
)
QUALTRICS = _survey_tool(
    "qualtrics",
    N_("Qualtrics responses"),
    ("ResponseId", "Response ID"),
    ("RecipientEmail", "Recipient Email", "ExternalReference", "External Data Reference"),
    ("RecordedDate", "Recorded Date", "EndDate", "End Date"),
    signature=("ResponseId", "RecordedDate"),
    header_rows=3,
    zone=None,
)

_APP = {"web": "web", "ios": "app", "android": "app", "iphone": "app", "posthog-ios": "app"}
_APP |= {"posthog-android": "app", "posthog-react-native": "app", "posthog-js": "web"}


def _events(name: str, title: str, ids: tuple[str, ...], who: tuple[str, ...], when: tuple[str, ...],
            event: tuple[str, ...], where: tuple[str, ...], **kw: Any) -> Source:  # fmt: skip
    return Source(
        name=name,
        title=title,
        family="events",
        key="event_id",
        fields={
            "event_id": Field(ids),
            "customer_id": Field(who),
            "occurred_at": Field(when, read="time"),
            EVENT: Field(event),
            "action": Field(event),
            "touchpoint": Field(where, values=_APP),
        },
        notes="The event's name becomes a stage by the stage rules; its name is kept as the action.",
        **kw,
    )


POSTHOG = _events(
    "posthog",
    N_("PostHog events"),
    ("uuid", "id"),
    ("distinct_id", "person_id"),
    ("timestamp",),
    ("event",),
    ("properties.$lib", "$lib"),
    signature=("event", "distinct_id", "timestamp"),
    formats="CSV, JSON lines or Parquet (batch exports)",
)
AMPLITUDE = _events(
    "amplitude",
    N_("Amplitude events"),
    ("uuid", "insert_id", "$insert_id"),
    ("user_id", "device_id"),
    ("event_time", "client_event_time"),
    ("event_type",),
    ("platform",),
    signature=("event_type", "event_time"),
    formats="the export's JSON lines (zipped or gzipped)",
)
MIXPANEL = _events(
    "mixpanel",
    N_("Mixpanel events"),
    ("properties.$insert_id",),
    ("properties.distinct_id", "properties.$user_id"),
    ("properties.time",),
    ("event",),
    ("properties.mp_lib", "properties.$os"),
    signature=("event", "properties.time", "properties.distinct_id"),
    formats="the export's JSON lines (time in epoch seconds)",
)
SEGMENT = _events(
    "segment",
    N_("Segment track calls"),
    ("messageId",),
    ("userId", "anonymousId"),
    ("timestamp", "originalTimestamp"),
    ("event",),
    ("context.library.name",),
    signature=("messageId", "event", "timestamp"),
    keep=(Keep(("type",), ("track", "")),),
    formats="JSON lines of track calls",
)

STRIPE = Source(
    name="stripe",
    title=N_("Stripe payments"),
    family="orders",
    key="order_id",
    signature=("id", "Amount Refunded", "Status"),
    fields={
        "order_id": Field(("id", "Payment ID")),
        "customer_id": Field(("Customer ID", "customer")),
        EMAIL: Field(("Customer Email", "receipt_email")),
        "ordered_at": Field(("Created date (UTC)", "Created (UTC)", "Created date", "created"), read="time"),
        "amount": _net(("Amount", "amount"), ("Amount Refunded", "amount_refunded")),
    },
    keep=(Keep(("Status", "status"), ("paid", "succeeded")), Keep(("Captured", "captured"), ("true", ""))),
    formats="the payments export (CSV)",
    notes="Only paid payments; the amount is Amount less Amount Refunded, in major units.",
)
SHOPIFY = Source(
    name="shopify",
    title=N_("Shopify orders"),
    family="orders",
    key="order_id",
    signature=("Name", "Financial Status", "Lineitem name"),
    collapse_by=("Name",),
    fields={
        "order_id": Field(("Name",)),
        "customer_id": Field(("Customer ID",)),
        EMAIL: Field(("Email",)),
        "ordered_at": Field(("Created at",), read="time"),
        "amount": _net(("Total",), ("Refunded Amount",)),
    },
    keep=(
        Keep(("Financial Status",), ("paid", "partially_refunded")),
        Keep(("Cancelled at",), ("",)),
    ),
    formats="the orders export (CSV, one row per line item)",
    notes="Line items are collapsed by Name; cancelled orders are left out; the amount is Total less refunds.",
)

SOURCES: tuple[Source, ...] = (
    ZENDESK,
    INTERCOM,
    FRESHDESK,
    DELIGHTED,
    TYPEFORM,
    SURVEYMONKEY,
    QUALTRICS,
    POSTHOG,
    AMPLITUDE,
    MIXPANEL,
    SEGMENT,
    STRIPE,
    SHOPIFY,
)
BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}


def recognise(columns: list[str]) -> Source | None:
    """The source whose signature headers are all among ``columns`` (the longest signature wins), or None."""
    given = {norm(c) for c in columns}
    matches = [s for s in SOURCES if s.signature and all(norm(h) in given for h in s.signature)]
    return max(matches, key=lambda s: len(s.signature), default=None)
