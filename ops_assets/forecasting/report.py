"""The daily forecast report: a PNG of actual vs forecast with the error band, and the metrics table. Plain, no
Dagster.

One panel per ticker: the actual avg_price over the last ``sessions`` sessions up to the report's day, the served
forecasts at their target sessions (a hollow marker while the target has no price yet) and a band of ± the
rolling MAE of the ticker's last 20 scored predictions before each target (± the naive forecast's MAE over the 20
sessions up to the origin when none is scored yet). Below, per model version: predictions scored, MAE and MASE
over the last 20 and 60 scored predictions (:func:`~ops_assets.forecasting.performance.rolling_mase`).

The figure is drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas attached explicitly (pyplot and its
global state are never used) and saved without the ``Software`` tag, so the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from ops_assets.forecasting.performance import rolling_mase

WIDTH_IN = 10.0
PANEL_HEIGHT_IN = 3.6
TABLE_HEIGHT_IN = 2.4
TITLE_HEIGHT_IN = 0.7
DPI = 100
BAND_WINDOW = 20
TABLE_ROWS = 6
TABLE_ROW_FRACTION = 0.11
"""The table shows the most recent versions (by last scored target day), at most this many."""
NO_FORECASTS = "no realised forecasts yet"
VERSION_COLOURS = ("tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
PNG_METADATA = {"Software": None}
"""Nothing that changes between runs (matplotlib writes its version as ``Software`` by default)."""


def report_size(n_tickers: int) -> tuple[int, int]:
    """The PNG's (width, height) in pixels for ``n_tickers`` panels."""
    return round(WIDTH_IN * DPI), round(_height_in(n_tickers) * DPI)


def _height_in(n_tickers: int) -> float:
    return TITLE_HEIGHT_IN + PANEL_HEIGHT_IN * n_tickers + TABLE_HEIGHT_IN


def realised(scored: pd.DataFrame, day: date) -> pd.DataFrame:
    """The rows of ``scored`` whose target session is on or before ``day`` and has an error."""
    if scored.empty or "error" not in scored:
        return scored.iloc[0:0]
    errors = pd.to_numeric(scored["error"], errors="coerce")
    return scored[(scored["target_day"] <= day) & errors.notna()]


def report_table(scored: pd.DataFrame, *, day: date) -> pd.DataFrame:
    """:func:`rolling_mase` of the predictions realised by ``day``, most recently scored versions first (empty
    when none is)."""
    done = realised(scored, day)
    if done.empty:
        return pd.DataFrame()
    table = rolling_mase(done)
    return table.sort_values(["last_target_day", "model_version"], ascending=False).reset_index(drop=True)


def forecast_report_png(
    scored: pd.DataFrame,
    features: Mapping[str, pd.DataFrame],
    *,
    day: date,
    sessions: int = 60,
    pending: pd.DataFrame | None = None,
) -> bytes:
    """The report of ``day`` as PNG bytes.

    ``scored``: realised errors (:func:`~ops_assets.forecasting.performance.realised_errors`: ticker, origin_day,
    target_day, forecast, model_version, model_kind, actual, today, error, naive_error); rows without an ``error``
    (a forecast whose target has no price yet, such as the one made on ``day``) are drawn but not scored. Only
    forecasts made on or before ``day`` are used. ``features``: each ticker's features (``day``, ``avg_price``);
    one panel per ticker, in alphabetical order. ``pending``: optionally, predictions not scored yet (the
    :data:`~ops_assets.forecasting.performance.PREDICTION_COLUMNS` of ``day``'s forecasts, say), drawn hollow at
    their target session; a prediction already in ``scored`` is drawn once. Deterministic: the same inputs give
    the same bytes.
    """
    if not features:
        raise ValueError("No features: the report needs at least one ticker's prices to draw.")
    if sessions < 2:
        raise ValueError(f"sessions must be at least 2, not {sessions}")
    scored = _known(_with_pending(scored, pending), day)
    tickers = sorted(features)
    fig = Figure(figsize=(WIDTH_IN, _height_in(len(tickers))), dpi=DPI)
    FigureCanvasAgg(fig)
    height = _height_in(len(tickers))
    grid = fig.add_gridspec(
        len(tickers) + 1,
        1,
        height_ratios=[PANEL_HEIGHT_IN] * len(tickers) + [TABLE_HEIGHT_IN],
        top=1 - TITLE_HEIGHT_IN / height,
        bottom=0.02,
        left=0.08,
        right=0.97,
        hspace=0.45,
    )
    fig.suptitle(f"Forecast report {day.isoformat()}: avg_price, actual vs forecast", fontsize=13, y=1 - 0.12 / height)
    for row, ticker in enumerate(tickers):
        _panel(fig.add_subplot(grid[row]), ticker, features[ticker], scored, day=day, sessions=sessions)
    _table(fig.add_subplot(grid[len(tickers)]), report_table(scored, day=day))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    return buffer.getvalue()


def _with_pending(scored: pd.DataFrame, pending: pd.DataFrame | None) -> pd.DataFrame:
    if pending is None or pending.empty:
        return scored
    if scored is None or scored.empty:
        return pending
    match = ["ticker", "origin_day", "model_version"]
    seen = pd.MultiIndex.from_frame(_known(scored, date.max)[match])
    fresh = _known(pending, date.max)
    fresh = fresh[~pd.MultiIndex.from_frame(fresh[match]).isin(seen)]
    return pd.concat([scored, fresh], ignore_index=True) if len(fresh) else scored


def _known(scored: pd.DataFrame, day: date) -> pd.DataFrame:
    """The forecasts made on or before ``day``, with plain ``date`` days (stored frames may hold timestamps)."""
    if scored is None or scored.empty:
        return pd.DataFrame(columns=["ticker", "origin_day", "target_day", "forecast", "model_version", "error"])
    out = scored.copy()
    if "error" not in out:
        out["error"] = np.nan
    for column in ("origin_day", "target_day"):
        out[column] = pd.to_datetime(out[column]).dt.date
    return out[out["origin_day"] <= day]


def _days(values: pd.Series) -> np.ndarray:
    return np.array([np.datetime64(d, "D") for d in values], dtype="datetime64[D]")


def _panel(ax: object, ticker: str, features: pd.DataFrame, scored: pd.DataFrame, *, day: date, sessions: int) -> None:
    prices = features[features["day"] <= day].sort_values("day")[["day", "avg_price"]].dropna()
    shown = prices.tail(sessions)
    ax.set_title(ticker, loc="left", fontsize=11, fontweight="bold")
    ax.set_ylabel("avg_price")
    ax.grid(True, color="0.9", linewidth=0.8)
    if shown.empty:
        ax.text(0.5, 0.5, f"no prices up to {day}", transform=ax.transAxes, ha="center", va="center", color="0.4")
        return
    start = shown["day"].iloc[0]
    ax.plot(_days(shown["day"]), shown["avg_price"].to_numpy(), color="tab:blue", linewidth=1.6, label="actual")

    mine = scored[(scored["ticker"] == ticker) & (scored["target_day"] >= start)].sort_values(
        ["target_day", "origin_day", "model_version"]
    )
    if mine.empty:
        ax.text(0.02, 0.92, NO_FORECASTS, transform=ax.transAxes, ha="left", va="top", color="0.35", fontsize=10)
    else:
        band = _band(scored[scored["ticker"] == ticker], mine, prices, day=day)
        target = _days(mine["target_day"])
        forecast = mine["forecast"].to_numpy(dtype=float)
        ax.fill_between(
            target,
            forecast - band,
            forecast + band,
            color="tab:orange",
            alpha=0.18,
            linewidth=0,
            label=f"± MAE of last {BAND_WINDOW} scored (naive MAE before any)",
        )
        pending = (
            pd.to_numeric(mine["error"], errors="coerce").isna().to_numpy() | (mine["target_day"] > day).to_numpy()
        )
        for version in sorted(mine["model_version"].unique()):
            colour = VERSION_COLOURS[int(version) % len(VERSION_COLOURS)]
            of_version = (mine["model_version"] == version).to_numpy()
            for mask, face, suffix in (
                (of_version & ~pending, colour, ""),
                (of_version & pending, "white", " (pending)"),
            ):
                if mask.any():
                    ax.plot(
                        target[mask],
                        forecast[mask],
                        linestyle="none",
                        marker="o",
                        markersize=4.5,
                        markerfacecolor=face,
                        markeredgecolor=colour,
                        label=f"forecast v{int(version)}{suffix}",
                    )
        if not (~pending).any():
            ax.text(0.02, 0.92, NO_FORECASTS, transform=ax.transAxes, ha="left", va="top", color="0.35", fontsize=10)
    ax.axvline(np.datetime64(day, "D"), color="0.5", linestyle=":", linewidth=1)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncols=4, borderaxespad=0.2)


def _band(all_of_ticker: pd.DataFrame, shown: pd.DataFrame, prices: pd.DataFrame, *, day: date) -> np.ndarray:
    """Per shown forecast: the MAE of the ticker's last 20 predictions scored before its target session, or the
    naive forecast's MAE over the 20 sessions up to its origin when none is."""
    done = realised(all_of_ticker, day).sort_values("target_day")
    done_days = done["target_day"].to_numpy()
    done_errors = pd.to_numeric(done["error"]).to_numpy(dtype=float)
    price = prices.set_index("day")["avg_price"]
    naive_moves = price.diff().abs()
    out = []
    for origin, target in zip(shown["origin_day"], shown["target_day"], strict=True):
        before = done_errors[done_days < target][-BAND_WINDOW:]
        if len(before):
            out.append(float(before.mean()))
            continue
        moves = naive_moves[naive_moves.index <= origin].dropna().tail(BAND_WINDOW)
        out.append(float(moves.mean()) if len(moves) else 0.0)
    return np.array(out, dtype=float)


def _table(ax: object, table: pd.DataFrame) -> None:
    ax.axis("off")
    ax.set_title("Realised performance per model version", loc="left", fontsize=11, fontweight="bold")
    if table.empty:
        ax.text(0.5, 0.5, NO_FORECASTS, transform=ax.transAxes, ha="center", va="center", color="0.35", fontsize=11)
        return
    headers, rows = _rows(table.head(TABLE_ROWS))
    height = TABLE_ROW_FRACTION * (len(rows) + 1)
    cells = ax.table(
        cellText=rows, colLabels=headers, cellLoc="center", colLoc="center", bbox=[0, 1 - height, 1, height]
    )
    cells.auto_set_font_size(False)
    cells.set_fontsize(9)
    note = (
        "MASE = MAE / naive MAE on the same predictions (below 1 beats tomorrow = today); "
        "* = fewer predictions than the window so far"
    )
    if len(table) > TABLE_ROWS:
        note += f"; {len(table) - TABLE_ROWS} older version(s) not shown"
    ax.text(0, 1 - height - 0.04, note, transform=ax.transAxes, ha="left", va="top", color="0.35", fontsize=8)


def _rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = ["version", "kind", "scored", "last target", "MAE 20", "MASE 20", "MAE 60", "MASE 60"]
    rows = []
    for row in table.to_dict(orient="records"):
        cells = [str(row["model_version"]), str(row["model_kind"]), str(row["scored"]), str(row["last_target_day"])]
        for n in (20, 60):
            star = "" if row.get(f"complete_{n}", True) else "*"
            cells += [_number(row.get(f"mae_{n}")), _number(row.get(f"mase_{n}"), "{:.3f}") + star]
        rows.append(cells)
    return headers, rows


def _number(value: object, spec: str = "{:.4g}") -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return spec.format(number) if np.isfinite(number) else "-"


def report_markdown(png_key: str, table: pd.DataFrame, *, png: bytes | None = None) -> str:
    """Markdown for the report asset's metadata: where the PNG is stored, the metrics table (``table`` as
    :func:`report_table` or :func:`rolling_mase` gives it), and, when ``png`` is given, the image itself inline
    (a ``data:`` URI, which the Dagster UI renders)."""
    lines = [f"Report stored at `{png_key}`.", ""]
    if png is not None:
        lines += [f"![forecast report](data:image/png;base64,{base64.b64encode(png).decode()})", ""]
    if table is None or table.empty:
        lines.append(f"_{NO_FORECASTS}_")
        return "\n".join(lines)
    headers, rows = _rows(table)
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    lines += [
        "",
        "MASE = MAE / naive MAE on the same predictions (below 1 beats tomorrow = today); * = window not full.",
    ]
    return "\n".join(lines)
