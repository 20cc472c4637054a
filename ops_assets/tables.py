"""Tables for the UI's metadata panel (Markdown), shared by every domain."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import pandas as pd


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    """A Markdown table; a ``|`` inside a cell is shown as ``/`` so it cannot break the table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell).replace("|", "/") for cell in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def frame_table(frame: pd.DataFrame, *, empty: str = "none") -> dg.MetadataValue:
    """A data frame as a Markdown table (floats to 4 significant digits)."""
    if frame.empty:
        return dg.MetadataValue.md(empty)
    rows = [[f"{v:.4g}" if isinstance(v, float) else v for v in row] for row in frame.itertuples(index=False)]
    return markdown_table(list(frame.columns), rows)
