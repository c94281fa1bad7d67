"""The app's own tables: saved reviews, access and the audit log, alerts and their deliveries. Written by the app and
the command line, never loaded from files and not part of the data contract."""

from __future__ import annotations

import sqlalchemy as sa

from data_access.schema.columns import EMAIL, ID, NAME, TIMESTAMP, metadata

__all__ = [
    "ALERT_COMPARISONS",
    "ALERT_PERIODS",
    "ALL_SEGMENTS",
    "APP_TABLES",
    "CHURN_RISK",
    "DIGEST_EVERY",
    "EMAIL",
    "LOAD_STATUSES",
    "NOTIFICATION_STATUSES",
    "PUSH_KINDS",
    "PUSH_STATUSES",
    "ROLES",
    "access_grants",
    "alert_audiences",
    "alert_rules",
    "alert_subscriptions",
    "audience_members",
    "audience_pushes",
    "audience_state",
    "audience_subscriptions",
    "audiences",
    "audit_log",
    "digest_subscriptions",
    "kpi_reviews",
    "load_log",
    "notifications",
    "source_mappings",
    "sync_cursors",
    "sync_files",
]

# Saved KPI reviews: written by the app (the KPI review page), not loaded from files and not part of the contract.
kpi_reviews = sa.Table(
    "kpi_reviews",
    metadata,
    sa.Column("name", NAME, primary_key=True, info={"doc": "Name of the saved review"}),
    sa.Column("saved_at", TIMESTAMP, nullable=False, info={"doc": "When it was saved (UTC)"}),
    sa.Column("a_start", TIMESTAMP, nullable=False, info={"doc": "Period A's first instant"}),
    sa.Column("a_end", TIMESTAMP, nullable=False, info={"doc": "Period A's end (exclusive)"}),
    sa.Column("b_start", TIMESTAMP, nullable=False, info={"doc": "Period B's first instant"}),
    sa.Column("b_end", TIMESTAMP, nullable=False, info={"doc": "Period B's end (exclusive)"}),
    sa.Column("customers", sa.Text, nullable=False, info={"doc": "The customer filters, as JSON"}),
    sa.Column("data_as_of", TIMESTAMP, info={"doc": "The newest timestamp in the store when it was saved"}),
    sa.Column("figures", sa.Text, nullable=False, info={"doc": "Every row of the review as it was, notes included"}),
)

# Who may see what, and what they did: written by the app and ``python -m data_access access``, not loaded from files.
ALL_SEGMENTS = "*"  # a grant without a segment limit
ROLES = ("leadership", "support_lead", "analyst", "admin")
access_grants = sa.Table(
    "access_grants",
    metadata,
    sa.Column("email", EMAIL, primary_key=True, info={"doc": "Who (their sign-in e-mail, lower case)"}),
    sa.Column("role", sa.String(32), primary_key=True, info={"doc": "One of: " + ", ".join(ROLES)}),
    sa.Column(
        "segment",
        NAME,
        primary_key=True,
        info={"doc": f"The only customer segment they see; {ALL_SEGMENTS} = every one"},
    ),
    sa.Column("granted_by", EMAIL, nullable=False, info={"doc": "Who granted it"}),
    sa.Column("granted_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("entry_id", sa.String(32), primary_key=True, info={"doc": "A random key"}),
    sa.Column("logged_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
    sa.Column("who", EMAIL, nullable=False, info={"doc": "The signed-in e-mail (local mode: local)"}),
    sa.Column(
        "action",
        sa.String(32),
        nullable=False,
        info={"doc": "sign-in, grant, revoke, upload, edit, save, export, alert"},
    ),
    sa.Column("object", NAME, nullable=False, info={"doc": "What it was done to: a page, a file, a map, a review"}),
    sa.Column("detail", sa.Text, info={"doc": "More: the filters of an export, the rows of a load"}),
)
sa.Index("ix_audit_log_at", audit_log.c.logged_at)

# Alerts: rules over the KPIs, who gets them, and every delivery (written by the Alerts page and
# ``python -m data_access alerts`` / ``notify``, not loaded from files).
ALERT_COMPARISONS = ("off_target", "drop", "above")
ALERT_PERIODS = ("week", "month")
CHURN_RISK = "churn_risk"  # the alert metric that counts the customers of the churn early warning
alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("rule_id", sa.String(64), primary_key=True, info={"doc": "A short name made from the rule's name"}),
    sa.Column("name", NAME, nullable=False, info={"doc": "What the rule watches, in words"}),
    sa.Column("metric", sa.String(32), nullable=False, info={"doc": f"A metric of the registry or {CHURN_RISK}"}),
    sa.Column("stage_id", ID, info={"doc": "The journey stage it watches; empty = every stage"}),
    sa.Column("segment", NAME, info={"doc": "Only this segment's customers; empty = every segment"}),
    sa.Column("comparison", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(ALERT_COMPARISONS)}),
    sa.Column(
        "threshold", sa.Float(53), info={"doc": "Points of a drop, or the count to exceed; empty for off_target"}
    ),
    sa.Column("period", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(ALERT_PERIODS)}),
    sa.Column("min_n", sa.Integer, nullable=False, info={"doc": "Fewest answers or tickets a period needs to fire"}),
    sa.Column("owner", EMAIL, nullable=False, info={"doc": "Who made it"}),
    sa.Column("enabled", sa.Boolean, nullable=False, info={"doc": "Whether notify run evaluates it"}),
    sa.Column("created_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
alert_subscriptions = sa.Table(
    "alert_subscriptions",
    metadata,
    sa.Column("rule_id", sa.String(64), primary_key=True, info={"doc": "The rule"}),
    sa.Column("channel", sa.String(300), primary_key=True, info={"doc": "email:ADDRESS or webhook:NAME"}),
    sa.Column("added_by", EMAIL, nullable=False, info={"doc": "Who subscribed it"}),
    sa.Column("added_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
DIGEST_EVERY = ("week", "month")
# The Overview by e-mail: who receives it, how often, for which segment and in which language (written by the app).
digest_subscriptions = sa.Table(
    "digest_subscriptions",
    metadata,
    sa.Column("email", EMAIL, primary_key=True, info={"doc": "The recipient"}),
    sa.Column("every", sa.String(8), primary_key=True, info={"doc": "One of: " + ", ".join(DIGEST_EVERY)}),
    sa.Column("segment", sa.String(64), primary_key=True, info={"doc": "Only this segment; empty: every segment"}),
    sa.Column("lang", sa.String(8), nullable=False, info={"doc": "The digest's language: en or ru"}),
    sa.Column("added_by", EMAIL, nullable=False, info={"doc": "Who subscribed it"}),
    sa.Column("added_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
NOTIFICATION_STATUSES = ("sending", "sent", "failed", "refused")
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("rule_id", sa.String(64), primary_key=True, info={"doc": "The rule that fired"}),
    sa.Column("period", sa.String(32), primary_key=True, info={"doc": "The period it fired for: 2026-10, 2026-W43"}),
    sa.Column("channel", sa.String(300), primary_key=True, info={"doc": "email:ADDRESS or webhook:NAME"}),
    sa.Column("sent_at", TIMESTAMP, nullable=False, info={"doc": "The last attempt (UTC)"}),
    sa.Column("status", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(NOTIFICATION_STATUSES)}),
    sa.Column("attempts", sa.Integer, nullable=False, info={"doc": "Runs that tried it"}),
    sa.Column("error", sa.Text, info={"doc": "Why the last attempt failed or was refused"}),
)
# Sources: the mappings saved by name, and every load of a source (an upload, ingest --source, a sync job's file or
# rows), whether it landed or was refused (written by data_access.sources).
source_mappings = sa.Table(
    "source_mappings",
    metadata,
    sa.Column("name", NAME, primary_key=True, info={"doc": "The mapping's name"}),
    sa.Column("source", sa.String(32), nullable=False, info={"doc": "The source it starts from (zendesk, posthog...)"}),
    sa.Column("body", sa.Text, nullable=False, info={"doc": "The mapping, as TOML"}),
    sa.Column("saved_by", EMAIL, nullable=False, info={"doc": "Who saved it"}),
    sa.Column("saved_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
LOAD_STATUSES = ("loaded", "refused")
load_log = sa.Table(
    "load_log",
    metadata,
    sa.Column("load_id", sa.String(32), primary_key=True, info={"doc": "A random key"}),
    sa.Column("loaded_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
    sa.Column("job", NAME, nullable=False, info={"doc": "The sync job, or upload / command line"}),
    sa.Column("source", sa.String(32), nullable=False, info={"doc": "The source"}),
    sa.Column("target", sa.String(64), nullable=False, info={"doc": "The contract table it loads"}),
    sa.Column("origin", sa.Text, nullable=False, info={"doc": "The files, or the SQL source and its cursor"}),
    sa.Column("rows_read", sa.BigInteger, nullable=False, info={"doc": "Rows read from the source"}),
    sa.Column("loaded", sa.BigInteger, nullable=False, info={"doc": "Rows written"}),
    sa.Column("refused", sa.BigInteger, nullable=False, info={"doc": "Problems that refused it (0: landed)"}),
    sa.Column("unmapped", sa.BigInteger, nullable=False, info={"doc": "Events no stage rule maps (not loaded)"}),
    sa.Column("new_customers", sa.BigInteger, nullable=False, info={"doc": "Customers created, unknown before"}),
    sa.Column("status", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(LOAD_STATUSES)}),
    sa.Column("detail", sa.Text, info={"doc": "The report: what was left out, the unmapped event names, why refused"}),
)
sa.Index("ix_load_log_at", load_log.c.loaded_at)
# What each sync job has read: a folder's files by their content's hash, a SQL source's cursor.
sync_files = sa.Table(
    "sync_files",
    metadata,
    sa.Column("job", NAME, primary_key=True, info={"doc": "The sync job"}),
    sa.Column("digest", sa.String(64), primary_key=True, info={"doc": "SHA-256 of the file's content"}),
    sa.Column("file", sa.Text, nullable=False, info={"doc": "Its name when it was read"}),
    sa.Column("status", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(LOAD_STATUSES)}),
    sa.Column("read_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
sync_cursors = sa.Table(
    "sync_cursors",
    metadata,
    sa.Column("job", NAME, primary_key=True, info={"doc": "The sync job"}),
    sa.Column("cursor", sa.Text, nullable=False, info={"doc": "The newest cursor value loaded, as JSON"}),
    sa.Column("read_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
# Audiences: groups of customers defined by what they did (a rule, as JSON), made on the page or the command line.
audiences = sa.Table(
    "audiences",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True, info={"doc": "A short key: lower case, digits, - and _"}),
    sa.Column("name", NAME, nullable=False, info={"doc": "What it is, in words"}),
    sa.Column("owner", EMAIL, nullable=False, info={"doc": "Who made it"}),
    sa.Column("rule", sa.Text, nullable=False, info={"doc": "The rule, as JSON (data_access.audiences.rules)"}),
    sa.Column("created_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
audience_members = sa.Table(
    "audience_members",
    metadata,
    sa.Column("audience", sa.String(64), primary_key=True, info={"doc": "The audience"}),
    sa.Column("customer_id", ID, primary_key=True, info={"doc": "The customer"}),
    sa.Column("entered_at", TIMESTAMP, primary_key=True, info={"doc": "The as-of time of the recompute it entered at"}),
    sa.Column("left_at", TIMESTAMP, info={"doc": "The as-of time of the recompute it left at; empty while a member"}),
)
audience_state = sa.Table(
    "audience_state",
    metadata,
    sa.Column("audience", sa.String(64), primary_key=True, info={"doc": "The audience"}),
    sa.Column("as_of", TIMESTAMP, nullable=False, info={"doc": "The time its windows counted back from"}),
    sa.Column("computed_at", TIMESTAMP, nullable=False, info={"doc": "When it was computed (UTC)"}),
    sa.Column("members", sa.BigInteger, nullable=False, info={"doc": "Its members then"}),
)
# An alert rule limited to an audience's members (a table of its own, so stores made before it need no migration).
alert_audiences = sa.Table(
    "alert_audiences",
    metadata,
    sa.Column("rule_id", sa.String(64), primary_key=True, info={"doc": "The rule"}),
    sa.Column("audience", sa.String(64), nullable=False, info={"doc": "Only this audience's members"}),
)
# Pushing audiences to a CRM: who subscribed which destination (a configured webhook) to which audience, and each
# entry and exit as one message with a stable id, sent once per destination (written by data_access.audiences.push).
audience_subscriptions = sa.Table(
    "audience_subscriptions",
    metadata,
    sa.Column("audience", sa.String(64), primary_key=True, info={"doc": "The audience"}),
    sa.Column("destination", NAME, primary_key=True, info={"doc": "A webhook of [notify.webhooks]"}),
    sa.Column("since", TIMESTAMP, info={"doc": "The audience's as-of time when subscribed: later entries are sent"}),
    sa.Column("backfill", sa.Boolean, nullable=False, info={"doc": "Whether the members then were sent too"}),
    sa.Column("cooldown_seconds", sa.BigInteger, nullable=False, info={"doc": "A leave and return within it: unsent"}),
    sa.Column("segments", sa.Text, nullable=False, info={"doc": "The subscriber's segment limit (JSON list; [] none)"}),
    sa.Column("created_by", EMAIL, nullable=False, info={"doc": "Who subscribed it"}),
    sa.Column("created_at", TIMESTAMP, nullable=False, info={"doc": "When (UTC)"}),
)
PUSH_KINDS = ("entered", "exited")
PUSH_STATUSES = ("pending", "sending", "sent", "failed", "refused")
audience_pushes = sa.Table(
    "audience_pushes",
    metadata,
    sa.Column(
        "webhook_id",
        sa.String(64),
        primary_key=True,
        info={"doc": "Stable: destination, audience, customer, kind and the stay's entry time"},
    ),
    sa.Column("destination", NAME, nullable=False, info={"doc": "The webhook it goes to"}),
    sa.Column("audience", sa.String(64), nullable=False, info={"doc": "The audience"}),
    sa.Column("customer_id", ID, nullable=False, info={"doc": "The customer"}),
    sa.Column("kind", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(PUSH_KINDS)}),
    sa.Column("stay_from", TIMESTAMP, nullable=False, info={"doc": "The entry time of the stay it opens or closes"}),
    sa.Column("happened_at", TIMESTAMP, nullable=False, info={"doc": "The recompute's as-of time it happened at"}),
    sa.Column("body", sa.Text, nullable=False, info={"doc": "The message, as JSON, fixed when it was made"}),
    sa.Column("created_at", TIMESTAMP, nullable=False, info={"doc": "When it was made (UTC)"}),
    sa.Column("status", sa.String(16), nullable=False, info={"doc": "One of: " + ", ".join(PUSH_STATUSES)}),
    sa.Column("attempts", sa.Integer, nullable=False, info={"doc": "HTTP attempts so far"}),
    sa.Column("sent_at", TIMESTAMP, info={"doc": "The last attempt (UTC)"}),
    sa.Column("error", sa.Text, info={"doc": "Why the last attempt failed (HTTP status and words)"}),
)
APP_TABLES: tuple[sa.Table, ...] = (
    kpi_reviews,
    access_grants,
    audit_log,
    alert_rules,
    alert_subscriptions,
    digest_subscriptions,
    notifications,
    source_mappings,
    load_log,
    sync_files,
    sync_cursors,
    audiences,
    audience_members,
    audience_state,
    audience_subscriptions,
    audience_pushes,
    alert_audiences,
)
