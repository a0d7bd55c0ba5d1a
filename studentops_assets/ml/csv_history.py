"""Reading a user's hourly history from CSV for `studentops forecast-eval`, with the handling the
README documents (every problem a clear message, never a traceback):

- missing columns, an empty file, unparsable timestamps or non-numeric values: an error naming the
  rows (line numbers as a spreadsheet shows them) and the columns the file does have;
- timestamps with a UTC offset (`2026-03-29T01:00:00+01:00`, `...Z`) are exact instants; timestamps
  without one are local times in `timezone`. A local hour that happens twice (clocks going back) is
  read in file order: first the summer-time hour, then the standard-time one. A local time that does
  not exist (clocks jumping forward) is an error naming the row: the hour cannot be placed;
- timestamps must be on the hour (this is an hourly evaluator; aggregate first);
- duplicate hours of a series: identical rows are kept once (and reported); conflicting values are an
  error naming both;
- gaps (hours with no row, or an empty value) are filled so the seasonal models see a regular grid
  (same hour a week earlier, else linear interpolation) and reported; filled hours are never scored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from studentops_assets.core.errors import StudentOpsError

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


@dataclass
class History:
    frame: pd.DataFrame  # unique_id, ds (UTC naive), y, observed
    notes: list[str] = field(default_factory=list)
    filled: int = 0
    duplicates_dropped: int = 0


def _rows(mask: pd.Series, raw: pd.DataFrame, column: str, limit: int = 3) -> str:
    bad = raw.index[mask.to_numpy()][:limit]
    return ", ".join(f"line {i + 2}: {raw.loc[i, column]!r}" for i in bad)


def load_hourly_csv(path: str | Path, time_col: str, series_col: str, value_col: str, timezone: str) -> History:
    path = Path(path)
    if not path.is_file():
        raise StudentOpsError(f"{path}: no such file")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise StudentOpsError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    missing = [c for c in (time_col, series_col, value_col) if c not in raw.columns]
    if missing:
        raise StudentOpsError(f"{path}: no column {', '.join(repr(c) for c in missing)} "
                              f"(the file has: {', '.join(raw.columns) or 'no header'})")
    if raw.empty:
        raise StudentOpsError(f"{path}: no data rows")
    notes: list[str] = []

    text = raw[time_col].str.strip()
    has_offset = text.str.contains(_OFFSET)
    if has_offset.any() and not has_offset.all():
        raise StudentOpsError(f"{path}: column {time_col!r} mixes timestamps with and without a UTC offset "
                              f"({_rows(~has_offset, raw, time_col, 2)} have none); give all or none")
    parsed = pd.to_datetime(text, errors="coerce", utc=bool(has_offset.all()), format="ISO8601")
    bad = parsed.isna()
    if bad.any():
        raise StudentOpsError(f"{path}: {int(bad.sum())} timestamps in {time_col!r} cannot be parsed "
                              f"({_rows(bad, raw, time_col)}); use ISO 8601, e.g. 2026-03-29 14:00")

    series = raw[series_col].str.strip()
    if (series == "").any():
        raise StudentOpsError(f"{path}: empty {series_col!r} ({_rows(series == '', raw, series_col)})")
    values = pd.to_numeric(raw[value_col].str.strip().replace("", np.nan), errors="coerce")
    not_numeric = values.isna() & (raw[value_col].str.strip() != "")
    if not_numeric.any():
        raise StudentOpsError(f"{path}: {int(not_numeric.sum())} values in {value_col!r} are not numbers "
                              f"({_rows(not_numeric, raw, value_col)})")

    if has_offset.all():
        instants = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        instants = _localise(parsed, series, timezone, raw, time_col, path, notes)

    off_hour = (instants.dt.minute != 0) | (instants.dt.second != 0)
    if off_hour.any():
        raise StudentOpsError(f"{path}: {int(off_hour.sum())} timestamps are not on the hour "
                              f"({_rows(off_hour, raw, time_col)}); forecast-eval reads hourly data: aggregate first")

    frame = pd.DataFrame({"unique_id": series, "ds": instants, "y": values, "line": raw.index + 2})
    frame, dropped = _duplicates(frame, path, time_col)
    if dropped:
        notes.append(f"{dropped} duplicate row(s) with the same series, hour and value were kept once")
    frame, filled = _fill_gaps(frame)
    if filled:
        notes.append(f"{filled} missing hour(s) filled (same hour a week earlier, else interpolated); never scored")
    return History(frame, notes, filled, dropped)


def _localise(parsed: pd.Series, series: pd.Series, timezone: str, raw, time_col, path, notes) -> pd.Series:
    # In file order per (series, local time): the first of a repeated autumn hour is summer time.
    first = ~pd.DataFrame({"s": series, "t": parsed}).duplicated(["s", "t"], keep="first")
    try:
        local = parsed.dt.tz_localize(timezone, ambiguous=first.to_numpy(), nonexistent="NaT")
    except Exception as exc:  # noqa: BLE001 - an unknown zone name comes in several exception types
        raise StudentOpsError(f"--timezone {timezone!r}: {exc}") from None
    gap = local.isna()
    if gap.any():
        raise StudentOpsError(
            f"{path}: {int(gap.sum())} local time(s) in {time_col!r} do not exist in {timezone} (the clocks jumped "
            f"forward: {_rows(gap, raw, time_col)}); remove them or give timestamps with a UTC offset")
    ambiguous = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").isna()
    if ambiguous.any():
        notes.append(f"{int(ambiguous.sum())} row(s) in a repeated autumn hour read in file order "
                     f"(first summer time, then standard time) in {timezone}")
    return local.dt.tz_convert("UTC").dt.tz_localize(None)


def _duplicates(frame: pd.DataFrame, path, time_col) -> tuple[pd.DataFrame, int]:
    dup = frame.duplicated(["unique_id", "ds"], keep=False)
    if not dup.any():
        return frame, 0
    groups = frame[dup].groupby(["unique_id", "ds"])
    conflicts = groups["y"].nunique(dropna=False)
    conflicts = conflicts[conflicts > 1]
    if len(conflicts):
        (uid, ds) = conflicts.index[0]
        lines = frame[(frame["unique_id"] == uid) & (frame["ds"] == ds)]
        raise StudentOpsError(
            f"{path}: {len(conflicts)} hour(s) appear twice with different values, e.g. series {uid!r} at "
            f"{ds} UTC on lines {', '.join(str(x) for x in lines['line'])} "
            f"({', '.join(str(v) for v in lines['y'])}); keep one row per series and hour")
    before = len(frame)
    frame = frame.drop_duplicates(["unique_id", "ds"], keep="first")
    return frame, before - len(frame)


def _fill_gaps(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    out, filled = [], 0
    for uid, g in frame.sort_values("ds").groupby("unique_id", sort=True):
        grid = pd.date_range(g["ds"].min(), g["ds"].max(), freq="h")
        s = g.set_index("ds")["y"].reindex(grid)
        observed = s.notna()
        filled += int((~observed).sum())
        if (~observed).any():
            s = s.fillna(s.shift(168)).interpolate(limit_direction="both").fillna(0.0)
        out.append(pd.DataFrame({"unique_id": uid, "ds": grid, "y": s.to_numpy(dtype=float),
                                 "observed": observed.to_numpy()}))
    return pd.concat(out, ignore_index=True), filled
