"""The benchmark's ratios, printed by the benchmark itself (issue 30's targets are ratios measured in one run): each
page filtered against the same page over all data, and, with ``bench --against URL``, each page on the second store
against the same page on the first. A page's figure is its cold time with the sidebar's queries, as the budgets use."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Totals = dict[str, dict[str, float]]  # filter case -> page -> cold ms (with the sidebar)
TARGET = 1.0  # issue 30: a filtered page, or a page on ClickHouse, at most as dear as the other


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _verdict(value: float | None, target: float = TARGET) -> str:
    if value is None:
        return "–"
    return "within" if value <= target else "OVER"


def filtered_rows(totals: Totals) -> list[tuple[str, str, float, float, float | None]]:
    """(filters, page, all data ms, filtered ms, ratio) for every filtered case against the first (all data)."""
    cases = list(totals)
    if len(cases) < 2:
        return []
    whole = totals[cases[0]]
    return [
        (case, page, whole[page], ms, ratio(ms, whole[page]))
        for case in cases[1:]
        for page, ms in totals[case].items()
        if page in whole
    ]


def store_rows(first: Totals, second: Totals) -> list[tuple[str, str, float, float, float | None]]:
    """(filters, page, first store ms, second store ms, ratio second / first) for every case and page of both."""
    return [
        (case, page, ms, second[case][page], ratio(second[case][page], ms))
        for case, pages in first.items()
        if case in second
        for page, ms in pages.items()
        if page in second[case]
    ]


def write(out: Callable[[str], object], title: str, heads: tuple[str, str], rows: list, target: float = TARGET) -> int:
    """Prints one ratio table; returns how many ratios are over ``target`` (for information: the run's exit
    status follows the budgets, not these targets)."""
    if not rows:
        return 0
    out(f"\n{title} (target: at most {target:.1f}x)\n")
    out(f"{'filters':<36} {'page':<22} {heads[0]:>10} {heads[1]:>10} {'ratio':>7}\n")
    over = 0
    for case, page, a, b, r in rows:
        shown = "–" if r is None else f"{r:.2f}x"
        over += _verdict(r, target) == "OVER"
        out(f"{case[:36]:<36} {page[:22]:<22} {a:>10.1f} {b:>10.1f} {shown:>7}  {_verdict(r, target)}\n")
    return over


def save(path: Path, customers: int, runs: dict[str, Totals]) -> None:
    """Writes a run's cold times (per store: "first", and "second" with ``--against``) for a later ``--compare``."""
    path.write_text(json.dumps({"customers": customers, "runs": runs}, indent=1), encoding="utf-8")


def load(path: Path) -> tuple[int, dict[str, Totals]]:
    """A run written by :func:`save`: (its customers, its cold times per store). Raises ValueError when the file is
    not one."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return int(saved["customers"]), {k: v for k, v in saved["runs"].items() if v}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a benchmark run saved with --save ({exc})") from exc


def compare(out: Callable[[str], object], customers: int, runs: dict[str, Totals], path: Path) -> int:
    """Prints each page against the same page of the run saved in ``path`` (per store and filter case), with the
    growth in customers as the target (linear or better); returns how many are over it."""
    before, saved = load(path)
    target = customers / before if before else TARGET
    over = 0
    for name, totals in runs.items():
        if name not in saved:
            continue
        rows = store_rows(saved[name], totals)
        title = f"the {name} store at {customers:,} customers against the saved run at {before:,}, cold"
        over += write(out, title, (f"{before:,}", f"{customers:,}"), rows, target)
    return over
