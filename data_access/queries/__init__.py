"""Queries grouped by capability; each takes an engine and a :class:`~data_access.filters.Filters`."""
