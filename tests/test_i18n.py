"""The interface's languages: Russian plurals, numbers and dates through Babel, a catalogue that holds every
string of the code, and pages that read in Russian with the same figures as in English."""

from __future__ import annotations

import gettext
import io
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from components import shell
from data_access import i18n, schema, store
from data_access import pages as registry
from data_access.i18n import _, ngettext
from data_access.loading import ingest
from data_access.sources import catalogue

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PO = ROOT / "locales" / "ru" / "LC_MESSAGES" / "messages.po"
NBSP = "\u00a0"


def test_russian_plurals_take_three_forms() -> None:
    with i18n.using("ru"):
        said = {
            n: ngettext("{stage}: {n} customer", "{stage}: {n} customers", n).format(stage="S", n=n)
            for n in (1, 2, 5, 11, 21, 22, 111)
        }
    assert said == {
        1: "S: 1 клиент",
        2: "S: 2 клиента",
        5: "S: 5 клиентов",
        11: "S: 11 клиентов",
        21: "S: 21 клиент",
        22: "S: 22 клиента",
        111: "S: 111 клиентов",
    }
    with i18n.using("en"):
        assert ngettext("{stage}: {n} customer", "{stage}: {n} customers", 1).format(stage="S", n=1) == "S: 1 customer"
        assert ngettext("{stage}: {n} customer", "{stage}: {n} customers", 21).format(stage="S", n=21).endswith("s")


def test_numbers_percentages_and_months_follow_the_language() -> None:
    with i18n.using("ru"):
        assert i18n.number(1234567.8, 1) == f"1{NBSP}234{NBSP}567,8"
        assert i18n.number(21) == "21"
        assert i18n.percent(0.125, 1) == f"12,5{NBSP}%"
        assert i18n.month(date(2026, 3, 1)) == "март 2026"
        assert i18n.day(date(2026, 3, 5)) == "5 мар. 2026\u202fг."  # a narrow no-break space before г.
        assert i18n.either(["B2B", "B2C"]) == "B2B или B2C"
        assert i18n.separators() == "," + NBSP
        assert _("Overview") == "Обзор"
    with i18n.using("en"):
        assert i18n.number(1234567.8, 1) == "1,234,567.8"
        assert i18n.percent(0.125, 1) == "12.5%"
        assert i18n.month(date(2026, 3, 1)) == "March 2026"
        assert i18n.day(date(2026, 3, 5)) == "2026-03-05"
        assert _("Overview") == "Overview"


def test_an_unknown_language_falls_back_to_the_default() -> None:
    with i18n.using("xx") as chosen:
        assert chosen == i18n.default_language()


def _extract(tmp_path: Path) -> list:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return [m for m in read_po(f) if m.id]


def test_every_string_of_the_code_has_a_russian_translation(tmp_path: Path) -> None:
    """pybabel extract over the code, against the committed catalogue: a new string, a changed one, a fuzzy or
    empty translation, or one the code no longer has all fail here."""

    def key(m) -> tuple[str | None, str]:  # a message is its context and its (singular) English text
        return m.context, m.id if isinstance(m.id, str) else m.id[0]

    extracted = {key(m) for m in _extract(tmp_path)}
    with PO.open("rb") as f:
        catalog = read_po(f, locale="ru")
    entries = {key(m): m for m in catalog if m.id}
    assert sorted(extracted - set(entries), key=str) == [], "strings not in the catalogue: run pybabel update (README)"
    assert sorted(set(entries) - extracted, key=str) == [], "strings the code no longer has: run pybabel update"
    fuzzy = [k for k, m in entries.items() if m.fuzzy]
    assert fuzzy == []
    # what pybabel compile checks (CI runs it): a "%" then a space and a letter reads as a %-placeholder to gettext
    refused = [(k, str(e)) for k, m in entries.items() for e in m.check(catalog)]
    assert refused == [], "write a no-break space after a literal % (README, Languages)"
    empty = [k for k, m in entries.items() if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert empty == []
    plural = [k for k, m in entries.items() if isinstance(m.id, tuple)]
    assert plural and all(len(entries[k].string) == 3 for k in plural)  # Russian: one, few, many
    for (_context, english), m in entries.items():  # a translation keeps the placeholders the code fills in
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(re.findall(r"\{\w*\}", english))
        assert all(set(re.findall(r"\{\w*\}", s)) == wanted for s in strings), english


def test_no_string_to_translate_hides_in_an_f_string() -> None:
    """On Python 3.11 an f-string is one token to the extractor: a ``_("...")`` inside one is never extracted, so
    it would stay English while every test of the catalogue passes."""
    hidden = []
    for path in [
        ROOT / "app.py",
        *ROOT.glob("pages/*.py"),
        *ROOT.glob("components/*.py"),
        *ROOT.glob("data_access/**/*.py"),
    ]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"""\bf(["'])[^"']*\{[^}]*\b(_|N_|ngettext|pgettext)\(\s*["']""", line):
                hidden.append(f"{path.relative_to(ROOT)}:{number}")
    assert hidden == []


def test_a_compiled_catalogue_matches_its_po() -> None:
    """The .mo (compiled by CI, or on first use) holds exactly what the .po says."""
    i18n.translations.cache_clear()
    i18n.translations("ru")  # compiles it when missing or older
    mo = PO.with_suffix(".mo")
    if mo.exists():
        from_mo = gettext.GNUTranslations(io.BytesIO(mo.read_bytes()))._catalog  # type: ignore[attr-defined]
    else:  # a read-only checkout: compiled in memory
        from_mo = i18n.translations("ru")._catalog  # type: ignore[attr-defined]
    from_po = gettext.GNUTranslations(io.BytesIO(i18n.compile_catalogue(PO)))._catalog  # type: ignore[attr-defined]
    assert from_mo == from_po


def test_every_lane_of_the_map_has_a_heading() -> None:
    from components.builders import journey_view

    assert set(schema.MAP_LANES) <= set(journey_view.QUALITATIVE_LABELS)


def test_the_menu_reads_in_russian(monkeypatch: pytest.MonkeyPatch) -> None:
    from data_access.access import Access

    monkeypatch.setattr(shell.st, "Page", lambda path, **kw: {"path": path, **kw})  # what the menu is made of
    with i18n.using("ru"):
        menu = shell.menu(Access.local())
    assert list(menu) == ["Руководству", "Анализ", "Поддержка", "Оповещения", "Данные"]
    pages = [p for section in menu.values() for p in section]
    assert [p["title"] for p in pages][:3] == ["Обзор", "Удержание", "Раннее предупреждение оттока"]
    assert [p["url_path"] for p in pages][:2] == ["overview", "retention"]  # the links stay the same


# --- pages in Russian ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('i18n') / 'sample.duckdb'}"
    ingest.seed(store.create_store_engine(url), 3_000, 42, lang="ru")  # the Russian sample company
    return url


def _data_words(url: str) -> set[str]:
    """The store's own text (stage and event names, segments, channels, categories...): data, never translated."""
    engine = store.create_store_engine(url, read_only=True)
    columns = [
        schema.stages.c.name,
        schema.stages.c.stage_id,
        schema.business_events.c.name,
        schema.tickets.c.category,
        schema.survey_responses.c.touchpoint,
        schema.survey_responses.c.comment,
        schema.tickets.c.entry_channel,
        schema.offers.c.offer_type,
        schema.experiments.c.variant,
        schema.experiment_info.c.experiment,
        schema.experiment_info.c.hypothesis,
        schema.experiment_info.c.owner,
        schema.journey_map.c.map,
        schema.journey_map.c.text,
        *(schema.customers.c[d] for d in schema.FILTER_DIMENSIONS),
    ]
    values: set[str] = set()
    with engine.connect() as conn:
        for column in columns:
            values.update(str(v) for (v,) in conn.execute(sa.select(column).distinct()) if v)
    engine.dispose()
    return values


# proper names, units and codes that stay as they are in Russian
ALLOWED = {
    *(s.title.split()[0] for s in catalogue.SOURCES),  # the tools' names: Zendesk, PostHog...
    "JSON",
    "Parquet",
    "Excel",
    "zip",
    "gzip",
    "id",
    "Europe",
    "Moscow",
    "NPS",
    "CSAT",
    "CES",
    "FCR",
    "CLV",
    "SRM",
    "CSV",
    "XLSX",
    "HTML",
    "PDF",
    "English",  # a language picker names each language in its own words
    "CJM",
    "KPI",
    "CRM",
    "e-mail",
    "n",
    "z",
    "vs",
    "k",
    "p",
    "X",  # a threshold in words: "worse by at least X points"
    "N",
    "UTC",
    "SLA",
    "JTBD",
    "leadership",  # the roles, by name
    "analyst",
    "admin",
    "local",
    "duckdb",  # the stores, by name
    "sqlite",
    "postgresql",
    "mysql",
    "chdb",
    "clickhouse",
    "UTF-8",
    "A",  # the two periods of a review
    "B",
    "scipy",
    "stats",
    # the data contract's own names and codes, quoted where a message tells what to load
    "survey",
    "exit",
}


def _strings(app: AppTest) -> list[str]:
    """What a user reads in the main area: titles, text, captions, notices, metrics, widget labels and options,
    and the words of every chart (titles, axes, legends, hover text, annotations)."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error"):
        out += [e.value for e in getattr(app.main, kind)]
    for m in app.main.metric:
        out += [m.label, m.value, m.delta or ""]
    for kind in ("segmented_control", "selectbox", "radio", "multiselect", "button", "checkbox", "toggle"):
        for w in app.main.get(kind):
            out.append(w.label)
            out += [str(getattr(o, "content", o)) for o in getattr(w.proto, "options", [])]
    for link in app.main.get("page_link"):
        out += [link.proto.label, link.proto.help]
    for button in app.main.get("download_button"):
        out += [button.proto.label, button.proto.help]
    for block in (*app.main.expander, *app.main.tabs):
        out.append(block.label)
    for table in app.main.dataframe:  # the column headers
        out += [str(c) for c in table.value.columns]
    for chart in app.main.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)

        def walk(node: object, key: str = "") -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, k)
            elif isinstance(node, list):
                for v in node:
                    walk(v, key)
            elif isinstance(node, str) and key in ("text", "hovertemplate", "customdata", "name", "title"):
                out.append(node)

        walk(spec.get("data", []))
        walk(spec.get("layout", {}))
    return out


def _english(texts: list[str], data: set[str]) -> list[str]:
    """The English words left in ``texts`` once markup, icons, placeholders and the store's own values are taken
    out."""
    found = []
    values = sorted(data, key=len, reverse=True)  # "Price change B2C" before "B2C"
    for text in texts:
        plain = re.sub(  # code, file names, icons, markup, placeholders, colours and links are not words
            r"`[^`]*`|\[[\w.*]+\]|[\w.]+\.(?:csv|xlsx|html|parquet)\b|:material/\w+:|<[^>]+>|&#?\w+;|%\{[^}]*\}|\{[^}]*\}"
            r"|#[0-9A-Fa-f]{6}|https?://\S+",
            " ",
            text,
        )
        for value in values:
            if value in plain:
                plain = plain.replace(value, " ")
        for word in re.findall(r"(?<!\w)[A-Za-z][A-Za-z'-]*(?!\w)", plain):  # ids such as T0000179 aside
            if word not in ALLOWED:
                found.append(f"{word!r} in {text[:80]!r}")
    return found


# every page is translated, and each is checked for English left on it
RUSSIAN_PAGES = tuple(p.path for p in registry.PAGES)


@pytest.mark.parametrize("page", RUSSIAN_PAGES)
def test_a_page_opened_with_lang_ru_has_no_english_left(sample_url: str, page: str, monkeypatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    app = AppTest.from_file(APP, default_timeout=90)
    app.query_params["lang"] = "ru"
    app.run()
    app.switch_page(page).run()
    assert not app.exception
    assert app.main.title[0].value == _and_back(page)
    assert _english(_strings(app), _data_words(sample_url)) == []


def _and_back(page: str) -> str:
    spec = next(p for p in shell.PAGES if p.path == page)
    with i18n.using("ru"):
        return _(spec.title)


def _figures(text: str | None, language: str) -> str | None:
    """The figures of a text, language aside: "1 234,5 %" (ru) and "1,234.5%" (en) both give "1234.5"."""
    if text is None:
        return None
    plain = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".") if language == "ru" else text.replace(",", "")
    return re.sub(r"[^\d.+-]", "", plain).strip(".")


def test_switching_the_language_changes_no_figure(sample_url: str, monkeypatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", sample_url)
    app = AppTest.from_file(APP, default_timeout=90)
    app.query_params["lang"] = "ru"
    app.run()
    assert app.main.title[0].value == "Обзор"
    russian = [(_figures(m.value, "ru"), _figures(m.delta, "ru")) for m in app.main.metric]
    russian_lines = [json.loads(c.proto.spec)["data"][0].get("y") for c in app.main.get("plotly_chart")]
    app.sidebar.radio(key="lang_switch").set_value("en").run()
    assert app.main.title[0].value == "Overview"
    assert app.query_params["lang"] == ["en"] or app.query_params["lang"] == "en"
    english = [(_figures(m.value, "en"), _figures(m.delta, "en")) for m in app.main.metric]
    english_lines = [json.loads(c.proto.spec)["data"][0].get("y") for c in app.main.get("plotly_chart")]
    assert len(english) == 9 and any(v for v, _d in english)
    assert english == russian
    assert english_lines == russian_lines


def test_an_alert_e_mail_in_russian() -> None:
    """What a subscriber reads: the e-mail's subject and lines in the language of the process that sends it."""
    from datetime import datetime

    from data_access import alerts

    rule = alerts.Rule(
        rule_id="csat-b2c", name="CSAT B2C", metric="csat", comparison="off_target", period="month", min_n=30
    )
    window = alerts.window("month", datetime(2026, 11, 1))
    found = alerts.Finding(
        rule, window, 71.5, 120, 62.9, 79.0, target=80.0, fires=True, why="весь интервал ниже цели 80"
    )
    with i18n.using("ru"):
        text, markup = alerts.email_bodies(found, "http://dash/stage_kpis")
        subject = alerts.subject(found)
    assert subject == "Оповещение CJM: CSAT B2C (2026-10): 71,5\u00a0%"
    assert text.startswith("Сработало правило оповещения.")
    assert "Срабатывает, когда: CSAT хуже своей цели" in text and "Подробности: http://dash/stage_kpis" in text
    assert "Подробности на дашборде" in markup and "Fires when" not in markup
