"""Each source's column table as Markdown, for the README's "Connecting your data" (a test keeps them equal) and
``python -m data_access sources``."""

from __future__ import annotations

from data_access.sources.catalogue import SOURCES
from data_access.sources.shaping import EMAIL, EVENT
from data_access.sources.spec import KEEP, NULL, READS, REFUSE, Field, Source

SHOWN_VALUES = 6  # a value map this short is written out; a longer one is summed up
PSEUDO_NAMES = {EMAIL: "(e-mail)", EVENT: "(event name)"}


def _values(field: Field) -> str:
    if not field.values:
        return ""
    items = list(field.values.items())
    shown = ", ".join(f"{k} → {'empty' if v is None else v}" for k, v in items[:SHOWN_VALUES])
    more = f" and {len(items) - SHOWN_VALUES} more" if len(items) > SHOWN_VALUES else ""
    other = {KEEP: "others kept", NULL: "others empty", REFUSE: "others refused, named"}.get(
        field.other, f"others {field.other}"
    )
    return f"{shown}{more}; {other}"


def _how(field: Field) -> str:
    parts = [field.note or READS[field.read]]
    if field.default is not None:
        parts.append(f"empty: {field.default}")
    values = _values(field)
    if values:
        parts.append(values)
    return "; ".join(parts)


def source_markdown(source: Source) -> str:
    lines = [f"#### `{source.name}`: {source.title} → `{source.table}`", ""]
    facts = [f"Files: {source.formats}."]
    if source.zone is None:
        facts.append("Times without an offset or a zone in their header need the file's zone (`--timezone`).")
    else:
        facts.append(f"Times without an offset are {source.zone}.")
    if source.header_rows > 1:
        facts.append(f"{source.header_rows} header rows.")
    if source.collapse_by:
        facts.append(f"Rows are collapsed by `{source.collapse_by[0]}` (its first row holds the order).")
    for keep in source.keep:
        allowed = ", ".join(v or "empty" for v in keep.values)
        facts.append(f"Only rows whose `{keep.aliases[0]}` is {allowed}.")
    facts.append(f"Its own id (`{source.key}`) makes a re-load change nothing.")
    if source.notes:
        facts.append(source.notes)
    lines += [
        " ".join(facts),
        "",
        "| contract column | the export's columns (first present wins) | read as |",
        "|---|---|---|",
    ]
    for name, field in source.fields.items():
        columns = ", ".join(f"`{a}`" for a in field.aliases) or "(you pick it)"
        lines.append(f"| {PSEUDO_NAMES.get(name, f'`{name}`')} | {columns} | {_how(field)} |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    return "\n".join(source_markdown(s) for s in SOURCES)
