"""Alerts from the command line on the sample company, as cron would run them: the planted stories fire the rules
they should and a steady stage fires nothing, a second run sends nothing new, two runs racing on one DuckDB file
send each message once, ``notify schedule`` runs by itself, ``alerts test`` sends a test; bad input stores
nothing. A real SMTP server and a signed-webhook receiver listen on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from data_access import alerts, store
from data_access.loading import ingest
from tests.peers import Mailbox, Receiver, smtp_server, webhook_receiver
from tests.test_cli import ROOT, cli

SECRET = "sample-webhook-secret-0123456789"
CUSTOMERS = 20_000  # enough answers a month for the B2C onboarding CSAT and the NPS to clear the minimum of 30


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alerts_sample") / "sample.duckdb"
    engine = store.create_store_engine(f"duckdb:///{path}")
    ingest.seed(engine, CUSTOMERS, 42)
    engine.dispose()
    return path


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[tuple[Mailbox, Receiver, dict[str, str]]]:
    with smtp_server() as (box, port), webhook_receiver(SECRET) as hook:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            f"""[notify]
base_url = "https://cjm.example.com"
backoff_seconds = 0.05

[notify.smtp]
host = "127.0.0.1"
port = {port}
sender = "CJM alerts <alerts@example.com>"

[notify.webhooks.crm]
url = "{hook.url}"
secret = "{SECRET}"
"""
        )
        yield box, hook, {"CJM_SECRETS_FILE": str(secrets)}


@pytest.fixture
def sample(sample_file: Path, tmp_path: Path) -> str:
    copy = tmp_path / "store.duckdb"
    shutil.copy(sample_file, copy)
    return f"duckdb:///{copy}"


def ok(*args: str, env: dict[str, str]) -> str:
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def add_story_rules(db: str, env: dict[str, str]) -> None:
    ok(
        "alerts",
        "add",
        "--name",
        "Onboarding CSAT B2C",
        "--metric",
        "csat",
        "--stage",
        "onboarding",
        "--segment",
        "B2C",
        "--comparison",
        "off_target",
        "--subscribe",
        "cx-lead@example.com",
        "--subscribe",
        "crm",
        "--db",
        db,
        env=env,
    )
    ok(
        "alerts",
        "add",
        "--name",
        "Customers at risk B2C",
        "--metric",
        "churn_risk",
        "--segment",
        "B2C",
        "--comparison",
        "above",
        "--threshold",
        "500",
        "--subscribe",
        "boss@example.com",
        "--db",
        db,
        env=env,
    )
    ok(
        "alerts",
        "add",
        "--name",
        "NPS regular use",
        "--metric",
        "nps",
        "--stage",
        "regular_use",
        "--comparison",
        "drop",
        "--threshold",
        "10",
        "--subscribe",
        "cx-lead@example.com",
        "--db",
        db,
        env=env,
    )
    ok(
        "alerts",
        "add",
        "--name",
        "Decision CSAT",
        "--metric",
        "csat",
        "--stage",
        "decision",
        "--comparison",
        "drop",
        "--threshold",
        "5",
        "--subscribe",
        "cx-lead@example.com",
        "--db",
        db,
        env=env,
    )


def lines(out: str) -> dict[str, str]:
    """``notify run`` output: "rule period -> channel: status" -> the line."""
    return {line.split(" (")[0]: line for line in out.splitlines() if not line.startswith("audience")}  # rules only


def test_the_planted_stories_fire_and_a_steady_stage_does_not(sample: str, peers: tuple) -> None:
    box, hook, env = peers
    add_story_rules(sample, env)
    out = lines(ok("notify", "run", "--db", sample, env=env))  # judged on October 2026, the data's last month
    assert set(out) == {
        "onboarding-csat-b2c 2026-10 -> email:cx-lead@example.com: sent",
        "onboarding-csat-b2c 2026-10 -> webhook:crm: sent",
        "customers-at-risk-b2c 2026-10 -> email:boss@example.com: sent",
        "nps-regular-use 2026-10: not firing",
        "decision-csat 2026-10: not firing",
    }
    assert sorted(r[0] for r in box.recipients) == ["boss@example.com", "cx-lead@example.com"]
    onboarding = next(i for i, r in enumerate(box.recipients) if r == ["cx-lead@example.com"])
    text = box.parts(onboarding)["plain"]
    assert "Onboarding CSAT B2C" in text and "Target: 85" in text and "2026-10" in text
    assert "https://cjm.example.com/stage_kpis?from=2026-10-01&to=2026-10-31&segment=B2C&stage=onboarding" in text
    [delivery] = hook.received
    assert delivery.valid and delivery.json["rule"]["id"] == "onboarding-csat-b2c"
    assert delivery.json["interval"][1] < 85 and delivery.json["n"] >= 30
    # the NPS fell after Release 5.0 (10 February 2026): judged on February against January, it fires
    after_release = lines(ok("notify", "run", "--as-of", "2026-03-01", "--db", sample, env=env))
    assert "nps-regular-use 2026-02 -> email:cx-lead@example.com: sent" in after_release
    # the decision stage is steady: no month of 2026 fires its 5-point drop rule
    engine = store.create_store_engine(sample, read_only=True)
    with store.connect(engine) as conn:
        steady = alerts.rule(conn, "decision-csat")
        fired = [m for m in range(2, 12) if alerts.evaluate(conn, steady, datetime(2026, m, 1)).fires]
    engine.dispose()
    assert fired == []


def test_a_second_run_sends_nothing_new_and_the_log_says_so(sample: str, peers: tuple) -> None:
    box, hook, env = peers
    add_story_rules(sample, env)
    ok("notify", "run", "--db", sample, env=env)
    sent = len(box.messages)
    again = lines(ok("notify", "run", "--db", sample, env=env))
    assert "onboarding-csat-b2c 2026-10 -> webhook:crm: already sent" in again
    assert len(box.messages) == sent and len(hook.received) == 1
    log = json.loads(ok("alerts", "log", "--format", "json", "--db", sample, env=env))
    assert {(r["rule_id"], r["status"]) for r in log} == {
        ("onboarding-csat-b2c", "sent"),
        ("customers-at-risk-b2c", "sent"),
    }


def test_two_runs_racing_on_one_duckdb_file_send_each_message_once(sample: str, peers: tuple) -> None:
    box, hook, env = peers
    add_story_rules(sample, env)
    full = {k: v for k, v in os.environ.items() if not k.startswith("CJM_")} | env
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "data_access", "notify", "run", "--db", sample],
            cwd=ROOT,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [r.communicate(timeout=300) for r in runs]
    assert all(r.returncode == 0 for r in runs), outs
    assert sorted(r[0] for r in box.recipients) == ["boss@example.com", "cx-lead@example.com"]
    assert len(hook.received) == 1
    statuses = [line.split(" (")[0].rsplit(": ", 1)[1] for out, _ in outs for line in out.splitlines() if "->" in line]
    assert sorted(statuses) == ["already sent"] * 3 + ["sent"] * 3


def test_schedule_runs_by_itself_and_test_sends_one_message(sample: str, peers: tuple) -> None:
    box, hook, env = peers
    add_story_rules(sample, env)
    full = {k: v for k, v in os.environ.items() if not k.startswith("CJM_")} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "data_access", "notify", "schedule", "--every", "2s", "--db", sample],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while len(box.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(5)  # two more runs at least, which must send nothing
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert len(box.messages) == 2 and len(hook.received) == 1, out
    assert out.count("onboarding-csat-b2c 2026-10 -> webhook:crm: already sent") >= 2, out
    done = ok("alerts", "test", "decision-csat", "--db", sample, env=env)
    assert "decision-csat test-" in done and ": sent" in done
    assert box.messages[-1]["Subject"].startswith("[test] CJM alert: Decision CSAT")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--metric", "happiness", "--comparison", "drop", "--threshold", "5"), "Unknown metric"),
        (("--metric", "csat", "--comparison", "drop", "--threshold", "150"), "between 0.1 and 100"),
        (("--metric", "churn_risk", "--comparison", "above", "--threshold", "-1"), "between 0 and"),
        (("--metric", "csat", "--comparison", "off_target", "--subscribe", "jane@@example"), "Not an e-mail"),
        (("--metric", "csat", "--comparison", "off_target", "--subscribe", "slack"), "configured webhook"),
        (("--metric", "csat", "--comparison", "off_target", "--segment", "Martians"), "Unknown segment"),
        (("--metric", "csat", "--comparison", "off_target", "--threshold", "5"), "takes no threshold (not 5.0)"),
        (("--metric", "csat", "--comparison", "off_target", "--audience", "nobody"), "Unknown audience 'nobody'"),
    ],
)
def test_bad_rules_from_the_command_line_store_nothing(sample: str, peers: tuple, args: tuple, words: str) -> None:
    _, _, env = peers
    done = cli("alerts", "add", "--name", "Bad", *args, "--db", sample, env=env)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr
    listed = json.loads(ok("alerts", "list", "--format", "json", "--db", sample, env=env))
    assert listed == []


def test_a_malformed_webhook_url_in_the_secrets_is_a_clear_error(sample: str, tmp_path: Path) -> None:
    secrets = tmp_path / "bad.toml"
    secrets.write_text('[notify.webhooks.crm]\nurl = "not a url"\nsecret = "0123456789abcdef0"\n')
    done = cli("notify", "run", "--db", sample, env={"CJM_SECRETS_FILE": str(secrets)})
    assert done.returncode == 2 and "[notify.webhooks.crm] url must be an http(s) address" in done.stderr
