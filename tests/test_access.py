"""Roles, grants, the token's claim, masking and the audit log: on every store, and from the command line."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import access, schema, store
from data_access.access import Access, AccessError
from data_access.filters import Scope
from tests.test_cli import cli


def test_roles_open_their_pages_and_nothing_else() -> None:
    leadership = Access("l@x.org", frozenset({"leadership"}))
    assert leadership.pages == {
        "overview",
        "retention",
        "churn_warning",
        "journey_map",
        "review",
        "alerts",
        "why_leave",
        "offers",
        "experiments",
    }
    assert not leadership.may(access.EDIT) and leadership.scope.masked
    lead = Access("s@x.org", frozenset({"support_lead"}), ("B2B",))
    assert lead.pages == {"support", "stage_kpis", "journey_map", "funnel", "alerts"}
    assert lead.scope == Scope(("B2B",), masked=False)
    analyst = Access("a@x.org", frozenset({"analyst"}))
    assert analyst.may_open("data") and analyst.may_open("map_editor") and not analyst.may_open("access")
    assert analyst.may(access.EDIT) and not analyst.may(access.LOAD) and not analyst.may(access.GRANT)
    admin = Access("b@x.org", frozenset({"admin"}))
    assert admin.pages == set(access.PAGES) and admin.may(access.LOAD) and admin.may(access.GRANT)
    assert Access("n@x.org").pages == frozenset()  # no role, no page
    assert Access("n@x.org").scope.masked


def test_grants_add_up_and_a_grant_for_every_segment_lifts_the_limit() -> None:
    two = access.combine("x@y.org", [("support_lead", "B2B"), ("support_lead", "SMB")])
    assert two.segments == ("B2B", "SMB")
    lifted = access.combine("x@y.org", [("support_lead", "B2B"), ("leadership", schema.ALL_SEGMENTS)])
    assert lifted.segments == () and lifted.roles == {"support_lead", "leadership"}
    # leadership alone is masked; with support_lead too, the support lead's right to see customers counts
    assert not lifted.scope.masked
    assert access.combine("x@y.org", [("owner", "*")]).roles == frozenset()  # unknown roles give nothing


def test_roles_from_the_token_claim() -> None:
    mapping = {"cx-board": "leadership", "support-b2b": "support_lead:B2B", "ops": "janitor"}
    claims = {"email": "x@y.org", "groups": ["cx-board", "support-b2b", "ops", "unknown"]}
    assert access.claim_grants(claims, "groups", mapping) == [("leadership", "*"), ("support_lead", "B2B")]
    assert access.claim_grants({"groups": "cx-board"}, "groups", mapping) == [("leadership", "*")]
    assert access.claim_grants(claims, None, mapping) == []
    assert access.claim_grants({"groups": 7}, "groups", mapping) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [("  Jane.Doe@Example.COM ", "jane.doe@example.com"), ("a+b@sub.example.org", "a+b@sub.example.org")],
)
def test_emails_are_normalised(given: str, expected: str) -> None:
    assert access.normal_email(given) == expected


@pytest.mark.parametrize("bad", ["", "jane", "jane@", "@example.com", "jane@example", "a b@example.com", "<a>@x.org"])
def test_malformed_emails_are_refused(bad: str) -> None:
    with pytest.raises(AccessError, match="Not an e-mail address"):
        access.normal_email(bad)


def test_masking_keeps_the_shape_and_hides_the_person() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "email": ["jane.doe@example.com", None],
            "customer_name": ["Jane Doe", "Bo"],
            "comment": ["Call me at home", None],
            "score": [2, 5],
        }
    )
    hidden = access.masked(frame, Scope(masked=True))
    assert hidden.to_dicts() == [
        {"customer_id": "c1", "email": "j***@example.com", "customer_name": "J***", "comment": "***", "score": 2},
        {"customer_id": "c2", "email": None, "customer_name": "B***", "comment": None, "score": 5},
    ]
    assert access.masked(frame, Scope()).equals(frame)


def test_grant_revoke_and_list_on_every_store(tiny: Engine) -> None:
    assert (
        access.grant(tiny, "Lead@X.org", "support_lead", "B2B", "admin@x.org")
        == "Granted support_lead for B2B only to lead@x.org."
    )
    access.grant(tiny, "lead@x.org", "leadership", None, "admin@x.org")
    access.grant(tiny, "lead@x.org", "leadership", None, "admin@x.org")  # again: still one grant
    with store.connect(tiny) as conn:
        table = access.grants(conn)
    assert table.select("email", "role", "segment").rows() == [
        ("lead@x.org", "leadership", "*"),
        ("lead@x.org", "support_lead", "B2B"),
    ]
    assert set(table["granted_by"]) == {"admin@x.org"}
    found = access.access_for(tiny, "LEAD@x.org")
    assert found.roles == {"leadership", "support_lead"} and found.segments == ()
    access.revoke(tiny, "lead@x.org", "leadership", "admin@x.org")
    assert access.access_for(tiny, "lead@x.org").segments == ("B2B",)
    with store.connect(tiny) as conn:
        log = access.audit(conn)
    assert log["action"].to_list() == ["revoke", "grant", "grant", "grant"]  # newest first
    assert log["who"].unique().to_list() == ["admin@x.org"]
    assert log["object"].unique().to_list() == ["lead@x.org"]


@pytest.mark.parametrize(
    ("email", "role", "segment", "message"),
    [
        ("lead@x.org", "boss", None, "Unknown role 'boss'"),
        ("lead(at)x.org", "leadership", None, "Not an e-mail address"),
        ("lead@x.org", "support_lead", "Martians", "Unknown segment 'Martians': the customers have B2B, B2C"),
    ],
)
def test_a_bad_grant_says_why_and_changes_nothing(
    tiny: Engine, email: str, role: str, segment: str | None, message: str
) -> None:
    with pytest.raises(AccessError, match=message):
        access.grant(tiny, email, role, segment, "admin@x.org")
    with store.connect(tiny) as conn:
        assert access.grants(conn).height == 0
        assert access.audit(conn).height == 0


def test_revoking_what_was_never_granted_is_refused(tiny: Engine) -> None:
    with pytest.raises(AccessError, match="has no analyst grant"):
        access.revoke(tiny, "nobody@x.org", "analyst", "admin@x.org")


def test_a_store_without_the_tables_grants_nothing(tiny: Engine) -> None:
    """A store made before access existed: nobody has a role (deny by default), and nothing breaks."""
    with store.connect(tiny, write=True) as conn:
        schema.access_grants.drop(conn)
        schema.audit_log.drop(conn)
    assert access.access_for(tiny, "anyone@x.org").roles == frozenset()
    with store.connect(tiny) as conn:
        assert access.grants(conn).height == 0 and access.audit(conn).height == 0
    access.record(tiny, "local", "export", "stage_kpis.csv", "3 rows")  # the first entry makes the table
    with store.connect(tiny) as conn:
        assert access.audit(conn)["object"].to_list() == ["stage_kpis.csv"]


def test_audit_since(tiny: Engine) -> None:
    access.record(tiny, "a@x.org", "export", "one.csv")
    with store.connect(tiny) as conn:
        assert access.audit(conn, since=datetime(2000, 1, 1)).height == 1
        assert access.audit(conn, since=datetime(2999, 1, 1)).height == 0
    with pytest.raises(ValueError, match="Not an audited action"):
        access.record(tiny, "a@x.org", "delete everything", "x")


def test_the_access_and_audit_commands(tiny_duck: str) -> None:
    done = cli("access", "grant", "boss@x.org", "admin", "--db", tiny_duck)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Granted admin to boss@x.org."
    done = cli("access", "grant", "lead@x.org", "support_lead", "--segment", "B2B", "--db", tiny_duck)
    assert done.returncode == 0, done.stderr
    listed = cli("access", "list", "--format", "csv", "--db", tiny_duck)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert rows[0] == "email,role,segment,granted_by,granted_at"
    assert rows[1].startswith("boss@x.org,admin,*,command line") and rows[2].startswith("lead@x.org,support_lead,B2B,")
    for args, message in (
        (("grant", "boss@x.org", "king"), "error: Unknown role 'king'"),
        (("grant", "boss-at-x.org", "admin"), "error: Not an e-mail address"),
        (("grant", "lead@x.org", "support_lead", "--segment", "Mars"), "error: Unknown segment 'Mars'"),
        (("revoke", "boss@x.org", "analyst"), "error: boss@x.org has no analyst grant"),
    ):
        refused = cli("access", *args, "--db", tiny_duck)
        assert refused.returncode != 0 and refused.stderr.startswith(message), refused.stderr
        assert "Traceback" not in refused.stderr
    assert cli("access", "revoke", "lead@x.org", "support_lead", "--db", tiny_duck).returncode == 0
    after = cli("access", "list", "--format", "json", "--db", tiny_duck)
    assert "boss@x.org" in after.stdout and "lead@x.org" not in after.stdout
    log = cli("audit", "--since", "2026-01-01", "--format", "csv", "--db", tiny_duck)
    assert log.returncode == 0, log.stderr
    actions = [line.split(",")[2] for line in log.stdout.splitlines()[1:]]
    assert actions == ["revoke", "grant", "grant"]
