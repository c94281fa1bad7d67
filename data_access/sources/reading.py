"""Reading a vendor's export as it comes: CSV (any of , ; tab, a UTF-8 BOM or UTF-16, extra header rows), JSON (an
array, an object holding one, or JSON lines), Parquet, Excel, each also gzipped or zipped. Nested objects are
flattened into dotted columns (``properties.distinct_id``), so a source names a nested value as it names a column."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import zipfile
from pathlib import Path

import polars as pl

from data_access.i18n import _
from data_access.loading.ingest import Problem, Problems, sniffed_problem

KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
KINDS |= {".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel", ".xls": "excel"}
FLATTEN_DEPTH = 4
UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # a UTF-16 text's first bytes


def kind_of(name: str) -> str | None:
    """The file's format by its name, a ``.gz`` or ``.zip`` looked through."""
    path = Path(name.lower())
    if path.suffix in (".gz", ".zip"):
        path = Path(path.stem)
    return KINDS.get(path.suffix)


def readable(name: str) -> bool:
    """Whether a file of this name is read: a known format, gzipped or not, or a zip archive (its members say)."""
    return kind_of(name) is not None or name.lower().endswith(".zip")


def _unpacked(name: str, data: bytes) -> list[tuple[str, bytes]]:
    low = name.lower()
    if low.endswith(".gz"):
        return [(name[:-3], gzip.decompress(data))]
    if low.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/") and not m.startswith("__MACOSX")]
            return [p for m in sorted(members) for p in _unpacked(m, archive.read(m))]
    return [(name, data)]


def utf8(data: bytes) -> bytes:
    """The text as UTF-8 bytes without a BOM (what Polars reads): UTF-16 (with its BOM) re-encoded, UTF-8 checked
    and kept as it is; raises UnicodeDecodeError otherwise."""
    if data.startswith(UTF16):
        return data.decode("utf-16").encode("utf-8")
    data.decode("utf-8")  # raises on a byte that is not UTF-8
    return data.removeprefix(codecs.BOM_UTF8)


def separator(text: str) -> str:
    """The CSV's separator: whichever of , ; and tab splits the header line most (outside quotes)."""
    first = text.split("\n", 1)[0]
    outside = "".join(part for i, part in enumerate(first.split('"')) if i % 2 == 0)
    return max((",", ";", "\t"), key=outside.count)


def _headers(rows: list[list[str | None]]) -> list[str]:
    """One name per column from ``rows`` of header lines: the first line's name, carried right over the empty cells
    of a question with several columns and joined with the second line's (SurveyMonkey); Qualtrics' second and
    third lines (the question text, the import ids) are read past."""
    names: list[str] = []
    carried = ""
    for i, top in enumerate(rows[0]):
        top = (top or "").strip()
        below = (rows[1][i] or "").strip() if len(rows) == 2 else ""
        if top:
            carried = top
        name = top or carried
        if below and below not in ("Response", "Open-Ended Response") and (not top or name in names):
            name = f"{name} - {below}"
        while name in names or not name:
            name = f"{name or 'column'}_{i}"
        names.append(name)
    return names


def _csv(content: bytes, header_rows: int) -> pl.DataFrame:
    """``content``: UTF-8 bytes (:func:`utf8`)."""
    raw = pl.read_csv(
        io.BytesIO(content),
        separator=separator(content[:65536].decode("utf-8", errors="ignore")),
        has_header=False,
        infer_schema=False,
        truncate_ragged_lines=True,
    )
    rows = [list(r) for r in raw.head(header_rows).iter_rows()]
    body = raw.slice(header_rows)
    return body.rename(dict(zip(body.columns, _headers(rows[:2] if header_rows == 2 else rows[:1]), strict=True)))


def _json(text: str) -> pl.DataFrame:
    stripped = text.lstrip()
    records: object = None
    if stripped.startswith("["):
        records = json.loads(stripped)
    elif stripped.startswith("{"):
        try:
            whole = json.loads(stripped)
        except json.JSONDecodeError:
            whole = None  # JSON lines
        if isinstance(whole, dict):
            lists = [v for v in whole.values() if isinstance(v, list)]
            records = lists[0] if len(lists) == 1 else [whole]
    if records is None:
        return pl.read_ndjson(io.StringIO(text), infer_schema_length=None)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("expected a list of objects")
    return pl.from_dicts(records, infer_schema_length=None) if records else pl.DataFrame()


def flattened(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested objects as dotted columns; lists as their items joined by spaces (tags)."""
    for _depth in range(FLATTEN_DEPTH):
        structs = [c for c, t in frame.schema.items() if isinstance(t, pl.Struct)]
        if not structs:
            break
        frame = frame.with_columns(
            pl.col(c).struct.rename_fields([f"{c}.{f.name}" for f in frame.schema[c].fields]) for c in structs
        ).unnest(structs)
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    return frame.with_columns(pl.col(c).cast(pl.List(pl.String), strict=False).list.join(" ") for c in lists)


def read(name: str, data: bytes, header_rows: int, problems: Problems) -> pl.DataFrame | None:
    """The file's rows with the vendor's column names (nested ones flattened), or None with the reason in
    ``problems``. Every file of an archive is read and stacked."""
    if not readable(name):
        problems.add(Problem(name, _("unsupported file type (use .csv, .json, .jsonl, .parquet or .xlsx)")))
        return None
    try:
        parts = _unpacked(name, data)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        problems.add(Problem(name, _("cannot be unpacked: {error}").format(error=exc)))
        return None
    frames = []
    for member, content in parts:
        kind = kind_of(member)
        if kind is None:
            continue
        if not content.strip():
            problems.add(Problem(member, "the file is empty"))
            return None
        wrong = sniffed_problem("csv" if kind == "json" else kind, content)
        if wrong and not content.startswith(UTF16):
            problems.add(Problem(member, wrong))
            return None
        try:
            if kind == "csv":
                frame = _csv(utf8(content), header_rows)
            elif kind == "json":
                frame = flattened(_json(utf8(content).decode("utf-8")))
            elif kind == "parquet":
                frame = flattened(pl.read_parquet(io.BytesIO(content)))
            else:
                frame = pl.read_excel(io.BytesIO(content), engine="calamine").slice(header_rows - 1)
        except UnicodeDecodeError:
            problems.add(Problem(member, "not UTF-8 or UTF-16 text: save the file as UTF-8"))
            return None
        except Exception as exc:  # noqa: BLE001 - any reader failure is reported as a problem with the file
            error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.add(Problem(member, _("cannot be read as {kind}: {error}").format(kind=kind, error=error)))
            return None
        frames.append(frame)
    if not frames or sum(f.height for f in frames) == 0:
        problems.add(Problem(name, "the file has a header but no rows"))
        return None
    return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
