"""Everything the pages import, imported once, before the first page runs: app.py's first import.

Streamlit runs every session's script in its own thread, and several libraries are imported lazily, inside
functions, on a page's first use (Streamlit imports pandas and pyarrow for its first table, plotly its validators
for its first figure). When sessions open at the same moment on a new server, two threads importing modules that
import each other can meet halfway: Python then hands one of them a partly initialised module ("partially
initialized module 'pandas' has no attribute 'Series'"), and that page fails. Python runs this module's body once
while every other thread waits for it, so the imports below complete before any page uses them.
"""

import importlib
import pkgutil

import numpy  # noqa: F401
import pandas  # noqa: F401
import plotly.graph_objects
import plotly.io  # noqa: F401
import polars  # noqa: F401
import pyarrow  # noqa: F401
import streamlit.dataframe_util
import streamlit.elements.plotly_chart  # noqa: F401

import components
import data_access.queries
import data_access.store  # the store layer, and SQLAlchemy with it

for _package in (data_access.queries, components):  # every module of both, in their subpackages too
    for _module in pkgutil.walk_packages(_package.__path__, prefix=f"{_package.__name__}."):
        importlib.import_module(_module.name)
