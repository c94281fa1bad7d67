"""Tables on a page."""

from __future__ import annotations

from typing import Any

import polars as pl


def arrow(frame: Any) -> Any:
    """A Polars frame as an Arrow table, for ``st.dataframe``: Streamlit sends an Arrow table as it is but turns a
    Polars frame into pandas first, 2 ms a table against 0.1 ms, which was a tenth of a warm page view's time
    under load (README, "Serving many users"). Anything else (a pandas Styler) is passed through."""
    return frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
