"""The digest: the Overview by e-mail, sent to an SMTP server on loopback once per period and recipient through the
alerts' delivery log, within the recipient's role and segment limit, saying what the Overview says."""

from __future__ import annotations

import io
from datetime import datetime

import polars as pl
import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from data_access import access, alerts, delivery, digest, i18n, store
from data_access.config import SETTINGS
from data_access.filters import Filters
from data_access.loading import ingest
from data_access.queries import overview, overview_words
from data_access.queries.overview import CARDS
from tests.peers import smtp_server
from tests.test_cli import cli

ADMIN = access.Access("admin@example.com", frozenset({access.ADMIN}))
MONDAY = datetime(2026, 12, 7, 6, 0)


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('digest') / 'sample.duckdb'}"
    engine = store.create_store_engine(url)
    store.init_store(engine)
    ingest.seed(engine, 2_000, 11)
    engine.dispose()
    return url


@pytest.fixture
def sample(sample_url: str, tmp_path) -> Engine:
    """A copy of the sample store for one test (its subscriptions, grants and log are its own)."""
    import shutil

    path = tmp_path / "copy.duckdb"
    shutil.copy(sample_url.removeprefix("duckdb:///"), path)
    engine = store.create_store_engine(f"duckdb:///{path}")
    yield engine
    engine.dispose()


def subject_of(message) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(message["Subject"]))).replace("\r\n", "")


def config(port: int) -> delivery.NotifyConfig:
    return delivery.NotifyConfig(
        smtp=delivery.Smtp("127.0.0.1", port),
        base_url="https://cjm.example.com",
        retries=2,
        backoff_seconds=0.01,
        timeout_seconds=3,
    )


def figures(engine: Engine, filters: Filters) -> dict[str, str]:
    """What the Overview shows on each card for ``filters``, with the month horizon and the data's last day."""
    last_day = store.time_range(engine)[1].date()
    data = overview.load(engine, filters, overview.windows_ending(last_day, 1), SETTINGS.min_n, parallel=False)
    values = {r["key"]: r for r in data["cards"].iter_rows(named=True)}
    out = {}
    for card in CARDS:
        got = values[card.key]
        shown = overview_words.value_text(card, got["value"])
        if card.survey and not got["enough"]:
            shown = f"{shown} (few answers)"
        out[card.key] = f"{i18n._(card.label)}: {shown}"
        change = overview_words.change_text(card, got["value"], got["previous"])
        if change:
            out[card.key] += f" ({change} against the month before)"
        if card.survey:
            out[card.key] += f" · n {i18n.number(got['n'])}"
    return out


def test_the_digest_says_what_the_overview_says(sample: Engine) -> None:
    b2b = Filters(segment=("B2B",))
    last_day = store.time_range(sample)[1].date()
    made = digest.compose(sample, b2b, last_day, "https://cjm.example.com", "month")
    lines = made.text.splitlines()
    for card, line in figures(sample, b2b).items():
        assert line in lines, (card, line, lines[:12])
    assert made.subject.startswith("[CJM] Monthly digest: B2B · ")
    assert "Biggest leak: " in made.text and "of B2B customers who reach" in made.text
    assert "Stages furthest from target" in made.text and "Active churn alerts" in made.text
    assert "Top exit reason in the window" in made.text or "No exit interviews" in made.text
    link = f"https://cjm.example.com/overview?segment=B2B&horizon=month&to={last_day.isoformat()}"
    assert link in made.text and link.replace("&", "&amp;") in made.html
    assert sorted(made.images) == sorted(f"line-{c.key}" for c in CARDS)
    for key, png in made.images.items():
        assert f"cid:{key}" in made.html
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.size == (320, 80)
    with i18n.using("ru"):
        russian = digest.compose(sample, b2b, last_day, "https://cjm.example.com", "week")
    assert russian.subject.startswith("[CJM] Еженедельная сводка: B2B") and "Удержание: " in russian.text


def test_the_digest_goes_once_per_period_and_recipient(sample: Engine) -> None:
    digest.subscribe(sample, "Boss@Example.com", "week", "", "en", ADMIN)
    digest.subscribe(sample, "boss@example.com", "month", "B2C", "ru", ADMIN)
    with smtp_server() as (box, port):
        cfg = config(port)
        first = digest.run(sample, cfg, MONDAY)
        assert {(d.key, d.period, d.status) for d in first} == {
            ("digest:week:*", "2026-W50", "sent"),
            ("digest:month:B2C", "2026-12", "sent"),
        }
        assert len(box.messages) == 2 and all(r == ["boss@example.com"] for r in box.recipients)
        assert {d.status for d in digest.run(sample, cfg, MONDAY.replace(hour=9))} == {"already sent"}
        next_week = digest.run(sample, cfg, datetime(2026, 12, 14, 6, 0))
        assert {(d.key, d.status) for d in next_week} == {
            ("digest:week:*", "sent"),
            ("digest:month:B2C", "already sent"),
        }
        assert len(box.messages) == 3
        subjects = [subject_of(m) for m in box.messages]
        weekly = box.messages[next(i for i, t in enumerate(subjects) if "Weekly" in t)]
        assert subject_of(weekly).startswith("[CJM] Weekly digest: all customers · ")
        images = [p for p in weekly.walk() if p.get_content_type() == "image/png"]
        assert len(images) == 9 and all(p["Content-ID"].startswith("<line-") for p in images)
        monthly = box.messages[next(i for i, t in enumerate(subjects) if "B2C" in t)]
        assert subject_of(monthly).startswith("[CJM] Ежемесячная сводка: B2C")
    with store.connect(sample) as conn:
        logged = delivery.entries(conn).filter(pl.col("rule_id").str.starts_with("digest:"))
    assert sorted(logged["period"].to_list()) == ["2026-12", "2026-W50", "2026-W51"]
    assert set(logged["status"]) == {"sent"} and set(logged["channel"]) == {"email:boss@example.com"}


def test_notify_run_sends_the_digest_beside_the_alerts(sample: Engine) -> None:
    digest.subscribe(sample, "cx@example.com", "month", "", "en", ADMIN)
    with smtp_server() as (box, port):
        done = alerts.run(sample, config(port))
        again = alerts.run(sample, config(port))
    sent = [o for o in done if o.rule_id == "digest:month:*"]
    assert [(o.channel, o.status) for o in sent] == [("email:cx@example.com", "sent")]
    assert [o.status for o in again if o.rule_id == "digest:month:*"] == ["already sent"]
    assert len(box.messages) == 1


def test_a_b2b_limited_recipient_sees_b2b_figures_only(sample: Engine) -> None:
    access.grant(sample, "admin@example.com", "admin", None, "test")
    access.grant(sample, "lead@example.com", "leadership", "B2B", "test")
    digest.subscribe(sample, "lead@example.com", "month", "", "en", ADMIN)  # every segment: their limit applies
    with pytest.raises(digest.DigestError, match="may not see B2C"):
        digest.subscribe(sample, "lead@example.com", "month", "B2C", "en", ADMIN)
    with pytest.raises(digest.DigestError, match="may not open the Overview"):
        digest.subscribe(sample, "nobody@example.com", "month", "", "en", ADMIN)
    with pytest.raises(digest.DigestError, match="your own e-mail only"):
        digest.subscribe(sample, "cx@example.com", "month", "", "en", access.Access("lead@example.com", {"leadership"}))
    with smtp_server() as (box, port):
        assert [d.status for d in digest.run(sample, config(port), MONDAY)] == ["sent"]
    text = box.parts(0)["plain"]
    mine, everyone = figures(sample, Filters(segment=("B2B",))), figures(sample, Filters())
    assert all(line in text for line in mine.values())
    assert everyone["active"] not in text  # the whole company's count is not theirs to see
    assert "B2B only" in text  # the footer says whose figures they are, and so do the title and the funnel
    assert text.startswith("Monthly digest: B2B · ") and "of B2B customers who reach" in text
    # the grant goes: the next period's digest is refused, and the log says why
    access.revoke(sample, "lead@example.com", "leadership", "test", "B2B")
    with smtp_server() as (box, port):
        refused = digest.run(sample, config(port), datetime(2027, 1, 4, 6, 0))
    assert [d.status for d in refused] == ["refused"] and not box.messages
    assert "may not open the Overview" in refused[0].detail


def test_the_digest_commands(sample_url: str, tmp_path) -> None:
    import shutil

    path = tmp_path / "cli.duckdb"
    shutil.copy(sample_url.removeprefix("duckdb:///"), path)
    url = f"duckdb:///{path}"
    done = cli(
        "digest", "subscribe", "cx@example.com", "--every", "week", "--segment", "B2B", "--lang", "ru", "--db", url
    )
    assert done.returncode == 0, done.stderr
    assert "cx@example.com gets the Overview every week (B2B, ru)" in done.stdout
    listed = cli("digest", "list", "--db", url, "--format", "csv")
    assert "cx@example.com,week,B2B,ru" in listed.stdout
    bad = cli("digest", "subscribe", "cx@example.com", "--every", "day", "--db", url)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    unknown = cli("digest", "subscribe", "cx@example.com", "--every", "week", "--segment", "B2G", "--db", url)
    assert unknown.returncode != 0 and "Unknown segment 'B2G'" in unknown.stderr
    preview = cli("digest", "preview", "--segment", "B2B", "--db", url)
    assert preview.returncode == 0 and preview.stdout.startswith("[CJM] Monthly digest: B2B")
    out = tmp_path / "digest.html"
    written = cli("digest", "preview", "--db", url, "--out", str(out))
    assert written.returncode == 0 and "data:image/png;base64," in out.read_text() and "cid:" not in out.read_text()
    gone = cli("digest", "unsubscribe", "cx@example.com", "--db", url)
    assert gone.returncode == 0 and "1 digest subscription(s) removed" in gone.stdout
    again = cli("digest", "unsubscribe", "cx@example.com", "--db", url)
    assert again.returncode != 0 and "receives no such digest" in again.stderr


def test_the_alerts_page_subscribes_to_the_digest(sample: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    monkeypatch.setenv("CJM_DATABASE_URL", sample.url.render_as_string(hide_password=False))  # a copy: it writes
    app = AppTest.from_file(APP, default_timeout=90)
    app.run()
    app.switch_page("pages/alerts.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Nobody receives the digest yet." in [c.value for c in app.caption]
    form = next(t for t in app.text_input if t.label == "E-mail")
    form.set_value("cx@example.com")
    next(s for s in app.selectbox if s.label == "How often").set_value("week")
    [s for s in app.selectbox if s.label == "Segment" and "B2B" in s.options][-1].set_value("B2B")
    next(b for b in app.button if b.label == "Subscribe to the digest").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "cx@example.com gets the Overview every week." in [s.value for s in app.success]
    shown = next(d.value for d in app.dataframe if "cx@example.com" in d.value.to_string())
    assert shown.iloc[0].tolist()[:4] == ["cx@example.com", "every week", "B2B", "English"]


def test_subscriptions_are_kept_on_every_store(engine: Engine) -> None:
    from tests.conftest import put

    person = {"customer_id": "c1", "segment": "B2B", "signup_at": datetime(2026, 1, 5)}
    put(engine, customers=[person | {"channel": "web", "region": "EU", "plan": "p"}])
    digest.subscribe(engine, "cx@example.com", "week", "B2B", "ru", ADMIN)
    digest.subscribe(engine, "cx@example.com", "week", "B2B", "en", ADMIN)  # again: replaces
    digest.subscribe(engine, "cx@example.com", "month", "", "en", ADMIN)
    with store.connect(engine) as conn:
        kept = digest.listed(conn)
    assert kept.select("email", "every", "segment", "lang").rows() == [
        ("cx@example.com", "month", "", "en"),
        ("cx@example.com", "week", "B2B", "en"),
    ]
    assert digest.unsubscribe(engine, "cx@example.com", ADMIN, "week") == 1
    with store.connect(engine) as conn:
        assert digest.listed(conn)["every"].to_list() == ["month"]
        logged = access.audit(conn)
    assert (logged["action"] == "digest").sum() == 4


def test_recipients_of_the_same_digest_share_one_composition(sample: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from data_access.digest import send

    made = []
    real = send.compose
    monkeypatch.setattr(send, "compose", lambda *a, **k: made.append(a[1]) or real(*a, **k))
    for who in ("a@example.com", "b@example.com"):
        digest.subscribe(sample, who, "month", "B2B", "en", ADMIN)
    digest.subscribe(sample, "c@example.com", "month", "B2C", "en", ADMIN)
    with smtp_server() as (box, port):
        assert [d.status for d in digest.run(sample, config(port), MONDAY)] == ["sent"] * 3
    assert len(box.messages) == 3 and sorted(f.segment for f in made) == [("B2B",), ("B2C",)]
