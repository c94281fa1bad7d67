"""The interface's language: gettext catalogues (``locales/<lang>/LC_MESSAGES/messages.po``, English as the source
strings) and the numbers, percentages and dates of the language, through Babel.

Every string a user reads is written in English inside ``_()`` (or ``ngettext()`` when it counts something) and
looked up in the chosen language's catalogue at the moment it is shown. A string defined once at import time (a
page title, a column header) is marked with ``N_()`` for the extractor and translated with ``_()`` where shown.
The language is per session (a context variable: each Streamlit script run sets it first, see
``components/language.py``); the command line and the tests use ``CJM_LANG``, else English. Data (stage names,
channels, comments) is the user's own text and never goes through here.

A catalogue is read from its compiled ``.mo``; when that is missing or older than its ``.po`` (a fresh clone, an
edited translation) it is compiled from the ``.po`` on first use, so the README's two commands are enough.
"""

from __future__ import annotations

import gettext
import io
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
SOURCE = "en"  # the language the strings are written in: no catalogue


def available() -> dict[str, str]:
    """The interface languages, code -> the language's own name ("ru" -> "Русский"): English and each folder of
    ``locales/`` with a catalogue."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return {code: Locale.parse(code).get_display_name(code).capitalize() for code in [SOURCE, *found]}


LANGUAGES = available()


def default_language() -> str:
    """``CJM_LANG`` when it names an available language, else English."""
    asked = (os.environ.get("CJM_LANG") or "").strip().lower()
    return asked if asked in LANGUAGES else SOURCE


_DEFAULT = default_language()  # of a context that chose none: a thread of its own, the command line
_current: ContextVar[str] = ContextVar("cjm_language", default=_DEFAULT)
_compile_lock = threading.Lock()


def current() -> str:
    return _current.get()


def use(language: str) -> str:
    """Sets the language of this context (a Streamlit script run, a test); an unknown code falls back to the
    default. Returns the language in use."""
    chosen = language if language in LANGUAGES else default_language()
    _current.set(chosen)
    return chosen


@contextmanager
def using(language: str) -> Iterator[str]:
    """The language for a ``with`` block, restored after it."""
    token = _current.set(language if language in LANGUAGES else default_language())
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def compile_catalogue(po: Path) -> bytes:
    """The ``.mo`` bytes of a ``.po`` file (what ``pybabel compile`` writes); fuzzy entries are left out."""
    with po.open("rb") as f:
        catalog = read_po(f, locale=po.parent.parent.name, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language`` (English: none). Compiles the ``.po`` when its ``.mo`` is missing or older,
    writing the ``.mo`` beside it when the folder is writable."""
    if language == SOURCE or language not in LANGUAGES:
        return gettext.NullTranslations()
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    with _compile_lock:
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            data = mo.read_bytes()
        else:
            data = compile_catalogue(po)
            try:
                tmp = mo.with_suffix(f".mo.{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(mo)
            except OSError:
                pass  # a read-only install: the compiled catalogue lives in memory only
    return gettext.GNUTranslations(io.BytesIO(data))


def _(message: str) -> str:
    """``message`` (English) in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` that fits ``n`` in the current language (Russian has three)."""
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a string for the catalogue without translating it now (it is translated with ``_()`` where shown)."""
    return message


def number(value: float | int, digits: int = 0, least: int | None = None) -> str:
    """A number in the current language: "1,234,567.8" in English, "1 234 567,8" in Russian (no-break space);
    ``digits`` after the decimal mark, or from ``least`` up to ``digits`` when ``least`` is given."""
    shown = digits if least is None else least
    pattern = "#,##0" + ("." + "0" * shown + "#" * (digits - shown) if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=_current.get())


def percent(share: float, digits: int = 0) -> str:
    """A share (0.125) as a percentage in the current language: "12.5%", "12,5 %"."""
    pattern = Locale.parse(_current.get()).percent_formats[None].pattern
    if digits > 0:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return format_percent(share, format=pattern, locale=_current.get())


# English keeps the unambiguous ISO dates the product has always shown; other languages take their own
DAY_FORMATS = {"en": "yyyy-MM-dd"}
MOMENT_FORMATS = {"en": "yyyy-MM-dd HH:mm:ss"}


def day(value: date | datetime) -> str:
    """A date in the current language: "2026-03-05" in English, "5 мар. 2026 г." in Russian."""
    language = _current.get()
    return format_date(value, format=DAY_FORMATS.get(language, "medium"), locale=language)


def month(value: date | datetime) -> str:
    """A month in the current language, as a heading says it: "March 2026", "март 2026"."""
    return format_date(value, format="LLLL yyyy", locale=_current.get())


def short_month(value: date | datetime) -> str:
    """A month for an axis or a table: "Mar 2026", "мар. 2026"."""
    return format_date(value, format="LLL yyyy", locale=_current.get())


def moment(value: datetime) -> str:
    """A date and time in the current language: "2026-01-31 18:00:00", "31 янв. 2026 г., 18:00:00"."""
    language = _current.get()
    return format_datetime(value, format=MOMENT_FORMATS.get(language, "medium"), locale=language)


def either(values: Iterable[str]) -> str:
    """Values joined as alternatives: "B2B or B2C", "B2B или B2C"."""
    return format_list(list(values), style="or", locale=_current.get())


def separators() -> str:
    """Plotly's ``separators`` for the current language: its decimal mark, then its thousands mark."""
    symbols = Locale.parse(_current.get()).number_symbols["latn"]
    return symbols["decimal"] + symbols["group"]


def short_moment(value: datetime) -> str:
    """Day, month and time, for recent events: "24 Oct 19:48", "24 окт. 19:48"."""
    return format_datetime(value, format="dd MMM HH:mm", locale=_current.get())


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language where the same English word means something else elsewhere
    ("declined": an offer turned down, a KPI gone worse)."""
    return translations(_current.get()).pgettext(context, message)
