"""Turning a vendor's rows into rows of the contract, as a :class:`~data_access.sources.spec.Source` says: the
columns picked, the values read and translated, the rows the contract does not want left out, line items collapsed.
Everything is one Polars expression per contract column, evaluated once over the file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from data_access import schema
from data_access.i18n import _
from data_access.loading.ingest import TIME_FORMATS, TIME_FORMATS_TZ, Problem, Problems, as_boolean
from data_access.sources.spec import KEEP, NULL, REFUSE, Field, Source, norm

EMAIL = "_email"  # the customer's e-mail, by which data_access.sources.identity finds them too
EVENT = "_event"  # the product event's name, beside the contract's columns until the stage rules have read it
PROPERTY = "_property."  # a property the stage rules test, by name
REFERENCE = "customer_id"  # holds the customer's id or e-mail until data_access.sources.identity resolves it
_REFUSED = "\x00refused"
_ZONE_IN_HEADER = re.compile(r"\(([A-Za-z_]+/[A-Za-z_/+-]+|UTC|GMT)\)\s*$")
_LOCAL = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d %b %Y %H:%M",
    "%b %d, %Y %I:%M %p",
)
TIME_SAMPLE = 1_000  # the first values of a time column that decide which formats it is read by
PROPERTY_PREFIXES = ("properties.", "event_properties.", "properties.$", "")


def zone_problem(zone: str | None) -> str | None:
    """Why ``zone`` is not an IANA time zone (None when it is one, or when none is given)."""
    if zone is None:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return _("{zone} is not a time zone (use a name such as Europe/Berlin or UTC)").format(zone=zone)
    return None


@dataclass
class File:
    """The vendor's file as the source's rules see it: its columns by alias, read as text, times, numbers."""

    frame: pl.DataFrame
    zone: str | None  # the zone of times without an offset or a zone in their header
    time_format: str | None = None
    by_norm: dict[str, str] = field(init=False)
    zoneless: list[pl.Expr] = field(init=False, default_factory=list)  # naive times that needed self.zone

    def __post_init__(self) -> None:
        self.by_norm = {}
        for name in self.frame.columns:
            self.by_norm.setdefault(norm(name), name)

    def present(self, *aliases: str) -> list[str]:
        """The file's columns named by ``aliases``, in the aliases' order."""
        found = [self.by_norm.get(norm(a)) for a in aliases]
        return list(dict.fromkeys(f for f in found if f is not None))

    def text(self, *aliases: str) -> pl.Expr:
        """The first non-empty value among the aliases' columns, row by row, as stripped text (null when none)."""
        exprs = []
        for name in self.present(*aliases):
            value = pl.col(name).cast(pl.String).str.strip_chars()
            exprs.append(pl.when(value != "").then(value))
        return pl.coalesce(exprs) if exprs else pl.lit(None, dtype=pl.String)

    def number(self, *aliases: str) -> pl.Expr:
        exprs = []
        for name in self.present(*aliases):
            if self.frame.schema[name].is_numeric():
                exprs.append(pl.col(name).cast(pl.Float64))
                continue
            t = pl.col(name).cast(pl.String).str.replace_all(r"[^\d.,eE+-]", "")
            t = pl.when(t.str.contains(r"\.")).then(t.str.replace_all(",", "")).otherwise(t.str.replace(",", "."))
            exprs.append(t.cast(pl.Float64, strict=False))
        return pl.coalesce(exprs) if exprs else pl.lit(None, dtype=pl.Float64)

    def time(self, *aliases: str) -> pl.Expr:
        """Naive UTC: an offset in the value is applied, else the zone in the header, else the file's zone."""
        exprs = [self._time(name) for name in self.present(*aliases)]
        return pl.coalesce(exprs) if exprs else pl.lit(None, dtype=pl.Datetime("us"))

    def _time(self, name: str) -> pl.Expr:
        dtype = self.frame.schema[name]
        header = _ZONE_IN_HEADER.search(name)
        zone = header.group(1) if header else self.zone
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                return pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Datetime("us"))
            return self._placed(pl.col(name).cast(pl.Datetime("us")), zone)
        if isinstance(dtype, pl.Date):
            return self._placed(pl.col(name).cast(pl.Datetime("us")), zone)
        if dtype.is_numeric():
            return self._epoch(pl.col(name).cast(pl.Float64))
        t = pl.col(name).cast(pl.String).str.strip_chars()
        iso = (
            t.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
            .str.replace(r"\s*(Z|UTC|GMT)$", "+00:00")
            .str.replace(r"\s+([+-]\d{2}:?\d{2})$", "${1}")
        )
        ways = {
            "epoch": pl.when(t.str.contains(r"^\d{9,13}(\.\d+)?$")).then(self._epoch(t.cast(pl.Float64, strict=False))),
            **{
                f"offset {f}": iso.str.to_datetime(f, strict=False, time_zone="UTC").dt.replace_time_zone(None)
                for f in TIME_FORMATS_TZ
            },
            **({"own": t.str.to_datetime(self.time_format, strict=False)} if self.time_format else {}),
            **{f"iso {f}": iso.str.to_datetime(f, strict=False) for f in TIME_FORMATS},
            **{f"local {f}": t.str.to_datetime(f, strict=False) for f in _LOCAL},
        }
        ways = self._used(name, ways)
        offset = [e.cast(pl.Datetime("us")) for k, e in ways.items() if k == "epoch" or k.startswith("offset")]
        naive = [e.cast(pl.Datetime("us")) for k, e in ways.items() if not (k == "epoch" or k.startswith("offset"))]
        placed = self._placed(pl.coalesce(naive), zone) if naive else None
        if zone is None and naive:
            given = pl.coalesce(offset).is_null() if offset else pl.lit(True)
            self.zoneless.append(given & pl.coalesce(naive).is_not_null())
        return pl.coalesce(offset + ([placed] if placed is not None else []))

    def _used(self, name: str, ways: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
        """The ways of reading that read any of the column's first values (every way if none does): one parse
        per format the file uses instead of one per format there is."""
        sample = self.frame.select(pl.col(name)).drop_nulls().head(TIME_SAMPLE)
        hits = sample.select(**{k: e.is_not_null().any() for k, e in ways.items()})
        used = {k: e for k, e in ways.items() if hits.height and hits[k][0]}
        return used or ways

    @staticmethod
    def _epoch(seconds: pl.Expr) -> pl.Expr:
        ms = pl.when(seconds > 1e11).then(seconds).otherwise(seconds * 1000)
        return pl.from_epoch(ms.round().cast(pl.Int64), time_unit="ms").cast(pl.Datetime("us"))

    @staticmethod
    def _placed(naive: pl.Expr, zone: str | None) -> pl.Expr:
        if zone in (None, "UTC", "GMT"):
            return naive
        return (
            naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
            .dt.replace_time_zone(None)
        )

    def prop(self, name: str) -> pl.Expr:
        """An event's property for the stage rules: a flattened column, else a path into a JSON ``properties``."""
        columns = self.present(*(p + name for p in PROPERTY_PREFIXES))
        if columns:
            return self.text(*columns)
        raw = self.present("properties")
        if raw and self.frame.schema[raw[0]] == pl.String:
            return pl.col(raw[0]).str.json_path_match(f"$['{name}']")
        return pl.lit(None, dtype=pl.String)


def _mapped(value: pl.Expr, spec: Field) -> pl.Expr:
    """``value`` (text) through the field's value map (keys compared in lower case)."""
    if not spec.values:
        return value
    table = {str(k).lower(): (None if v is None else str(v)) for k, v in spec.values.items()}
    other: Any = {KEEP: value, NULL: None, REFUSE: _REFUSED}.get(spec.other, spec.other)
    default = other if isinstance(other, pl.Expr) else pl.lit(other, dtype=pl.String)
    if spec.read == "first_mapped":
        items = (
            value.str.to_lowercase()
            .str.split(" ")
            .list.eval(pl.element().str.strip_chars(",;").replace_strict(table, default=None, return_dtype=pl.String))
        )
        found = items.list.drop_nulls().list.first()
        return pl.when(value.is_null()).then(None).otherwise(pl.coalesce(found, default))
    low = value.str.to_lowercase()
    known = low.is_in(list(table))
    return (
        pl.when(value.is_null())
        .then(None)
        .when(known)
        .then(low.replace_strict(table, default=None, return_dtype=pl.String))
        .otherwise(default)
    )


def column_expr(file: File, spec: Field) -> pl.Expr:
    """One contract column's expression from its field, its default where the value is empty."""
    expr = _read(file, spec)
    return expr if spec.default is None else pl.coalesce(expr.cast(pl.String), pl.lit(str(spec.default)))


def mapped(file: File, spec: Field) -> pl.Expr:
    """The field's first present column as text, through its value map."""
    return _mapped(file.text(*spec.aliases), spec)


def _read(file: File, spec: Field) -> pl.Expr:
    if spec.derive is not None:
        return spec.derive(file, spec)
    read = spec.read
    if read == "time":
        return file.time(*spec.aliases)
    if read in ("number", "integer"):
        return file.number(*spec.aliases) if not spec.values else _mapped(file.text(*spec.aliases), spec)
    if read == "at_least_one":
        n = file.number(*spec.aliases)
        return pl.when(n.is_null() | (n < 1)).then(1.0).otherwise(n)
    if read == "positive":
        return file.number(*spec.aliases).fill_null(0) > 0
    if read == "present":
        return file.text(*spec.aliases).is_not_null()
    text = file.text(*spec.aliases)
    if read == "boolean" and not spec.values:
        return as_boolean(text)
    return _mapped(text, spec)


@dataclass
class Shaped:
    """The file's rows in the contract's columns (the customer still as given), and what was left out."""

    frame: pl.DataFrame
    rows_read: int
    left_out: int  # rows the source does not load (not paid, cancelled, not a track call...)
    collapsed: int  # line items folded into their order
    duplicates: int  # rows whose vendor id came again (the last one kept)


def shape(
    source: Source,
    raw: pl.DataFrame,
    file_name: str,
    problems: Problems,
    *,
    zone: str | None,
    time_format: str | None = None,
    defaults: dict[str, Any] | None = None,
    properties: tuple[str, ...] = (),
) -> Shaped | None:
    """The rows of ``raw`` as the source maps them, or None with the reasons in ``problems``."""
    before = problems.total
    rows_read = raw.height
    file = File(raw, zone if zone is not None else source.zone, time_format)
    collapsed = 0
    group = file.present(*source.collapse_by)
    if group:  # line items: the order's fields are on its first row
        raw = raw.filter(pl.col(group[0]).is_not_null()).group_by(group[0], maintain_order=True).first()
        collapsed = rows_read - raw.height
    for keep in source.keep:
        if file.present(*keep.aliases):
            raw = raw.filter(file.text(*keep.aliases).fill_null("").str.to_lowercase().is_in(keep.values))
    left_out = rows_read - collapsed - raw.height
    file.frame = raw
    table = schema.TABLES_BY_NAME[source.table]
    defaults = defaults or {}
    exprs: dict[str, pl.Expr] = {}

    def found(spec: Field | None) -> bool:  # a value for every row, from the file or the field itself
        if spec is None:
            return False
        own = (
            spec.derive is not None or spec.default is not None or spec.read in ("at_least_one", "positive", "present")
        )
        return own or bool(file.present(*spec.aliases))

    if found(source.fields.get(EMAIL)):
        exprs[EMAIL] = column_expr(file, source.fields[EMAIL])
    for column in schema.contract_columns(table):
        spec = source.fields.get(column.name)
        if column.name == REFERENCE and EMAIL in exprs and not found(spec):
            continue  # found by e-mail alone
        if column.name == "stage_id" and EVENT in source.fields and column.name not in defaults:
            continue  # the stage rules give it
        if column.name in defaults:
            value = pl.lit(str(defaults[column.name]))
            exprs[column.name] = pl.coalesce(column_expr(file, spec).cast(pl.String), value) if found(spec) else value
        elif found(spec):
            exprs[column.name] = column_expr(file, spec)
        elif column.info["required"] or (column.primary_key and not column.info["made_up"]):
            named = ", ".join(spec.aliases) if spec is not None and spec.aliases else None
            problems.add(
                Problem(
                    file_name,
                    (
                        _("none of {aliases} is in the file: pick its column ([columns] {column} = ...)").format(
                            aliases=named, column=column.name
                        )
                        if named
                        else _("pick the column that holds it ([columns] {column} = ...) or give a default").format(
                            column=column.name
                        )
                    ),
                    column.name,
                )
            )
    event = source.fields.get(EVENT)
    if event is not None:
        if not found(event):
            named = ", ".join(event.aliases)
            problems.add(Problem(file_name, _("no event name column ({aliases})").format(aliases=named)))
        exprs[EVENT] = column_expr(file, event)
        exprs |= {PROPERTY + p: file.prop(p) for p in properties}
    if problems.total > before:
        return None
    frame = raw.select(**{name: expr.alias(name) for name, expr in exprs.items()})
    if file.zoneless:
        naive = raw.select(pl.any_horizontal(file.zoneless).sum()).item()
        if naive:
            problems.add(
                Problem(
                    file_name,
                    _(
                        "{n} times carry no time zone: say which zone the file's times are in "
                        "(--timezone, or timezone = ... in the mapping)"
                    ).format(n=naive),
                )
            )
            return None
    for name in frame.columns:
        if frame.schema[name] == pl.String:
            refused = frame.filter(pl.col(name) == _REFUSED)
            if refused.height:
                spec = source.fields[name]
                values = raw.filter(frame[name] == _REFUSED).select(file.text(*spec.aliases).unique().sort())
                shown = ", ".join(repr(v) for v in values.to_series().head(10).to_list())
                problems.add(
                    Problem(
                        file_name,
                        _('{values}: not mapped; add them to [values.{column}], e.g. "{first}" = ...').format(
                            values=shown, column=name, first=values.to_series()[0]
                        ),
                        name,
                    ),
                    refused.height,
                )
    if problems.total > before:
        return None
    n = frame.height
    key = source.key
    if key in frame.columns:  # a vendor id seen twice (overlapping exports): the last row wins
        given = frame.filter(pl.col(key).is_not_null()).unique(subset=[key], keep="last", maintain_order=True)
        frame = pl.concat([given, frame.filter(pl.col(key).is_null())])  # no id: refused, or made up (events)
    return Shaped(frame, rows_read, left_out, collapsed, n - frame.height)


def value_table(raw: pl.DataFrame, source: Source, column: str, limit: int = 50) -> pl.DataFrame:
    """The file's most frequent values of the column that fills ``column`` (its items, for a list), with how many
    rows hold each and what the source's value map makes of it (empty where the map does not know it)."""
    spec = source.fields[column]
    present = File(raw, None).present(*spec.aliases)
    out = {"value": pl.String, "rows": pl.Int64, "becomes": pl.String}
    if not present:
        return pl.DataFrame(schema=out)
    text = pl.col(present[0]).cast(pl.String).str.strip_chars()
    items = raw.select(text.str.split(" ") if spec.read == "first_mapped" else text.str.split("\n"))
    values = (
        items.explode(present[0])
        .select(pl.col(present[0]).str.strip_chars(",;").alias("value"))
        .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .group_by("value")
        .len("rows")
        .sort(["rows", "value"], descending=[True, False])
        .head(limit)
    )
    table = {str(k).lower(): (None if v is None else str(v)) for k, v in spec.values.items()}
    becomes = [table.get(v.lower()) for v in values["value"].to_list()]
    return values.with_columns(pl.Series("becomes", becomes, dtype=pl.String)).select(list(out))


def with_companions(source: Source, frames: list[tuple[str, pl.DataFrame]]) -> list[tuple[str, pl.DataFrame]]:
    """The main files, each with the columns of the companion files beside them joined on by the vendor's id (the
    last companion row of an id wins); a companion file alone is loaded as it is."""
    companion = source.companion
    if companion is None:
        return frames

    def is_companion(frame: pl.DataFrame) -> bool:
        file = File(frame, None)
        return all(file.present(h) for h in companion.signature) and not all(file.present(h) for h in source.signature)

    extra = [f for _, f in frames if is_companion(f)]
    main = [(n, f) for n, f in frames if not is_companion(f)]
    if not extra or not main:
        return frames
    parts = []
    for frame in extra:
        file = File(frame, None)
        picked = {name: file.text(*aliases) for name, aliases in companion.columns.items() if file.present(*aliases)}
        parts.append(frame.select(file.text(*companion.key).alias("_key"), **picked))
    beside = pl.concat(parts, how="diagonal_relaxed").filter(pl.col("_key").is_not_null())
    beside = beside.unique(subset=["_key"], keep="last", maintain_order=True)
    out = []
    for name, frame in main:
        file = File(frame, None)
        keyed = frame.drop([c for c in beside.columns if c in frame.columns and c != "_key"])
        keyed = keyed.with_columns(file.text(*companion.key).alias("_key"))
        out.append((name, keyed.join(beside, on="_key", how="left").drop("_key")))
    return out
