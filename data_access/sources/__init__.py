"""Data as it comes: one declarative description per vendor export (:mod:`.catalogue`, read by :mod:`.reading` and
shaped by :mod:`.shaping`), mappings that override one company's columns and values (:mod:`.mapping`), product
events turned into stages by rules (:mod:`.rules`), customers found by id or e-mail (:mod:`.identity`), and the load
with its report and log (:mod:`.load`).

Callers say ``from data_access import sources`` and use ``sources.BY_NAME``, ``sources.Mapping``, ``sources.load``."""

from data_access.sources.catalogue import BY_NAME, SOURCES, recognise
from data_access.sources.load import Prepared, Report, load, log_rows, prepare, unmapped_lately
from data_access.sources.mapping import Mapping, MappingError
from data_access.sources.shaping import zone_problem
from data_access.sources.spec import Source

__all__ = [
    "BY_NAME",
    "SOURCES",
    "Mapping",
    "MappingError",
    "Prepared",
    "Report",
    "Source",
    "load",
    "log_rows",
    "prepare",
    "recognise",
    "unmapped_lately",
    "zone_problem",
]
