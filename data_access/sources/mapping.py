"""A mapping: a small TOML file (or the same text saved by name in the store) that starts from a source and
overrides what differs in one company's export::

    source = "zendesk"
    timezone = "Europe/Berlin"      # for times that carry no offset and no zone in their header
    [columns]                       # contract column = the file's column ("email" and "event" name those too)
    agent_id = "Assignee name"
    [values.final_line]             # the file's value = the contract's
    "Billing" = 2
    [defaults]                      # contract column = the value for what the file lacks
    stage_id = "support"
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from typing import Any

from data_access import schema
from data_access.i18n import _
from data_access.sources.catalogue import BY_NAME
from data_access.sources.shaping import EMAIL, EVENT, zone_problem
from data_access.sources.spec import Field, Source

KEYS = ("source", "table", "timezone", "time_format", "header_rows", "columns", "values", "defaults")
PSEUDO = {"email": EMAIL, "event": EVENT}  # what a mapping calls the columns that are not the contract's
READ_OF_TYPE = {"timestamp": "time", "integer": "integer", "number": "number", "boolean": "boolean", "text": "text"}


class MappingError(ValueError):
    """A mapping that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Mapping:
    source: str
    timezone: str | None = None
    time_format: str | None = None
    header_rows: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in BY_NAME:
            raise MappingError(
                _("unknown source {name} (known: {known})").format(name=repr(self.source), known=", ".join(BY_NAME))
            )
        problem = zone_problem(self.timezone)
        if problem:
            raise MappingError(problem)
        table = schema.TABLES_BY_NAME[self.preset.table]
        allowed = {c.name for c in schema.contract_columns(table)} | (
            {"email", "event"} if self.preset.family == "events" else {"email"}
        )
        for where, names in (("columns", self.columns), ("values", self.values), ("defaults", self.defaults)):
            for name in names:
                if name not in allowed:
                    raise MappingError(
                        _("[{where}] {name}: {table} has no such column (it has: {columns})").format(
                            where=where, name=name, table=table.name, columns=", ".join(c.name for c in table.columns)
                        )
                    )
        if self.header_rows is not None and not 1 <= self.header_rows <= 5:
            raise MappingError(_("header_rows must be between 1 and 5"))

    @property
    def preset(self) -> Source:
        return BY_NAME[self.source]

    @classmethod
    def parse(cls, text: str, where: str = "mapping") -> Mapping:
        """A mapping from its TOML text; :class:`MappingError` names what is wrong."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(_("{where} is not valid TOML: {error}").format(where=where, error=exc)) from None
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise MappingError(
                _("{where}: unknown key {key} (known: {known})").format(
                    where=where, key=", ".join(unknown), known=", ".join(KEYS)
                )
            )
        if "source" not in data:
            raise MappingError(
                _('{where}: say which source it starts from, e.g. source = "zendesk"').format(where=where)
            )
        source = BY_NAME.get(str(data["source"]))
        if source is not None and data.get("table", source.table) != source.table:
            raise MappingError(
                _("{where}: {source} loads {table}, not {other}").format(
                    where=where, source=source.name, table=source.table, other=data["table"]
                )
            )
        for key in ("columns", "values", "defaults"):
            if not isinstance(data.get(key, {}), dict):
                raise MappingError(_("{where}: [{key}] must be a table").format(where=where, key=key))
        values = data.get("values", {})
        if not all(isinstance(v, dict) for v in values.values()):
            raise MappingError(_("{where}: each [values.COLUMN] must be a table").format(where=where))
        return cls(
            source=str(data["source"]),
            timezone=data.get("timezone"),
            time_format=data.get("time_format"),
            header_rows=data.get("header_rows"),
            columns={str(k): str(v) for k, v in data.get("columns", {}).items()},
            values={str(k): dict(v) for k, v in values.items()},
            defaults=dict(data.get("defaults", {})),
        )

    def to_toml(self) -> str:
        """The mapping as TOML text that :meth:`parse` reads back to an equal mapping."""
        lines = [f"source = {_value(self.source)}", f"table = {_value(self.preset.table)}"]
        for key in ("timezone", "time_format", "header_rows"):
            if getattr(self, key) is not None:
                lines.append(f"{key} = {_value(getattr(self, key))}")
        for section in ("columns", "defaults"):
            entries = getattr(self, section)
            if entries:
                lines += ["", f"[{section}]", *(f"{_key(k)} = {_value(v)}" for k, v in entries.items())]
        for column, table in self.values.items():
            lines += ["", f"[values.{_key(column)}]", *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]
        return "\n".join(lines) + "\n"

    def effective(self) -> Source:
        """The source with this mapping's columns and value maps laid over it."""
        preset = self.preset
        table = schema.TABLES_BY_NAME[preset.table]
        fields = dict(preset.fields)
        for name, given in self.columns.items():
            target = PSEUDO.get(name, name)
            was = fields.get(target, Field())
            read = READ_OF_TYPE[schema.type_name(table.c[name])] if name in table.c else "text"
            if read in ("integer", "boolean") and was.read in ("at_least_one", "positive", "present"):
                read = was.read
            fields[target] = Field((given,), read=read, values=was.values, other=was.other, default=was.default)
        for name, table_of_values in self.values.items():
            target = PSEUDO.get(name, name)
            was = fields.get(target, Field())
            fields[target] = replace(was, values={**was.values, **{str(k): v for k, v in table_of_values.items()}})
        return replace(preset, fields=fields, header_rows=self.header_rows or preset.header_rows)


def _key(text: str) -> str:
    return text if text.replace("_", "").replace("-", "").isalnum() and text.isascii() else json.dumps(text)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)
