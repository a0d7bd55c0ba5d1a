"""Hourly demand forecasting: candidates, a rolling-origin backtest that chooses between them, and
the scores (MASE against seasonal naive, interval coverage) they are judged by.

Frames are pandas (statsforecast's and scikit-learn's lingua franca) in long form: `unique_id`, `ds`
(UTC, tz-naive, on the hour, a regular hourly grid per series), `y`, and optionally `observed` (False
for hours filled in, which are never scored). Everything is a pure function of the frame, shared by the
Dagster assets and `studentops forecast-eval`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from .threads import ml_threads

HORIZON = 168  # 7 days of hours
SEASON = 168  # same hour last week
LEVEL = 95
# A series needs this much history for a fitted model (the four weeks the longest lag reaches back,
# two weeks to fit on, two to calibrate the intervals on: the conformal windows of the statsforecast
# candidate need as much); shorter ones get the seasonal-naive forecast, labelled so.
MIN_HISTORY = 8 * SEASON
TRAIN_WEEKS = 16
CONFORMAL_WEEKS = 2
LAGS = (168, 336, 504, 672)

SEASONAL_NAIVE = "seasonal_naive"
HGB = "hgb_conformal"
SWA = "seasonal_window_average_statsforecast"
CANDIDATES = (HGB, SWA)


@dataclass
class Forecast:
    """One model's forecast: `frame` has unique_id, ds, point, lo, hi, model."""

    model: str
    frame: pd.DataFrame
    seconds: float = 0.0


# --- seasonal naive ---------------------------------------------------------------------------------

def seasonal_naive(history: pd.DataFrame, h: int = HORIZON) -> pd.DataFrame:
    """Same hour last week (or yesterday, or the mean, for series shorter than a week), with an interval
    from the empirical quantile of its own past errors. Always computed; the baseline of every score."""
    out = []
    for uid, g in history.groupby("unique_id", sort=True):
        y = g["y"].to_numpy(dtype=float)
        last = g["ds"].iloc[-1]
        future = pd.date_range(last + pd.Timedelta(hours=1), periods=h, freq="h")
        season = SEASON if len(y) >= SEASON else (24 if len(y) >= 24 else 0)
        if season:
            tail = y[-season:]
            point = np.resize(tail, h)
            errors = np.abs(y[season:] - y[:-season])[-4 * SEASON:]
            label = f"{SEASONAL_NAIVE}_{season}h"
        else:
            point = np.full(h, float(np.nanmean(y)) if len(y) else 0.0)
            errors = np.abs(y - point[0]) if len(y) else np.array([])
            label = f"{SEASONAL_NAIVE}_mean"
        q = float(np.quantile(errors, LEVEL / 100, method="higher")) if len(errors) else float(np.nanmax(np.abs(y), initial=0))
        out.append(pd.DataFrame({"unique_id": uid, "ds": future, "point": point, "lo": np.maximum(point - q, 0),
                                 "hi": point + q, "model": label}))
    return pd.concat(out, ignore_index=True) if out else _empty()


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"unique_id": pd.Series(dtype=str), "ds": pd.Series(dtype="datetime64[ns]"),
                         "point": pd.Series(dtype=float), "lo": pd.Series(dtype=float), "hi": pd.Series(dtype=float),
                         "model": pd.Series(dtype=str)})


# --- gradient boosting on calendar features and weekly lags, MAPIE conformal intervals --------------

def _calendar(ds: pd.Series, tz: str) -> pd.DataFrame:
    local = ds.dt.tz_localize("UTC").dt.tz_convert(tz)
    return pd.DataFrame({"local_hour": local.dt.hour.to_numpy(), "local_weekday": local.dt.weekday.to_numpy(),
                         "hour_of_week": (local.dt.weekday * 24 + local.dt.hour).to_numpy()})


def _design(frame: pd.DataFrame, tz: str, codes: dict[str, int]) -> pd.DataFrame:
    """Features of each row from values at least a week before it: every lag reaches back >= 168 hours,
    so a forecast up to 7 days ahead uses only what was known at its origin (a direct model, no recursion)."""
    frame = frame.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    by = frame.groupby("unique_id", sort=False)["y"]
    feats = pd.DataFrame({f"lag_{k}": by.shift(k) for k in LAGS})
    feats["lag_mean"] = feats.mean(axis=1)
    feats["level_week"] = by.transform(lambda s: s.shift(SEASON).rolling(SEASON, min_periods=24).mean())
    feats["level_4weeks"] = by.transform(lambda s: s.shift(SEASON).rolling(4 * SEASON, min_periods=SEASON).mean())
    feats = pd.concat([feats, _calendar(frame["ds"], tz)], axis=1)
    feats["series"] = frame["unique_id"].map(codes).astype(int)
    return pd.concat([frame, feats], axis=1)


FEATURE_COLUMNS = [*(f"lag_{k}" for k in LAGS), "lag_mean", "level_week", "level_4weeks", "local_hour", "local_weekday",
                   "hour_of_week", "series"]


def hgb_conformal(history: pd.DataFrame, h: int = HORIZON, tz: str = "UTC", seed: int = 0) -> pd.DataFrame:
    """One global HistGradientBoostingRegressor (absolute error: the median, which is what MAE rewards on
    sparse counts) across all series, on the last TRAIN_WEEKS; MAPIE split-conformal 95% intervals
    calibrated on the last CONFORMAL_WEEKS of history, never on the rows it was fitted on."""
    from mapie.regression import SplitConformalRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor

    codes = {uid: i for i, uid in enumerate(sorted(history["unique_id"].unique()))}
    last = history.groupby("unique_id")["ds"].max()
    future = pd.concat([pd.DataFrame({"unique_id": uid, "ds": pd.date_range(t + pd.Timedelta(hours=1), periods=h, freq="h"),
                                      "y": np.nan}) for uid, t in last.items()], ignore_index=True)
    cutoff = history["ds"].max() - pd.Timedelta(weeks=TRAIN_WEEKS + 4)
    recent = history[history["ds"] > cutoff]
    design = _design(pd.concat([recent[["unique_id", "ds", "y"]], future], ignore_index=True), tz, codes)
    known = design[design["y"].notna() & design["lag_168"].notna()]
    if "observed" in history.columns:
        observed = history.set_index(["unique_id", "ds"])["observed"]
        known = known[observed.reindex(pd.MultiIndex.from_frame(known[["unique_id", "ds"]])).fillna(True).to_numpy()]
    split_at = known["ds"].max() - pd.Timedelta(weeks=CONFORMAL_WEEKS)
    fit_rows, conf_rows = known[known["ds"] <= split_at], known[known["ds"] > split_at]
    model = HistGradientBoostingRegressor(loss="absolute_error", max_iter=150, learning_rate=0.08,
                                          max_leaf_nodes=31, categorical_features=[FEATURE_COLUMNS.index("series")],
                                          random_state=seed)
    target = design[design["y"].isna()]
    with ml_threads():
        model.fit(fit_rows[FEATURE_COLUMNS], fit_rows["y"])
        conformal = SplitConformalRegressor(model, confidence_level=LEVEL / 100, prefit=True)
        conformal.conformalize(conf_rows[FEATURE_COLUMNS], conf_rows["y"])
        point, bounds = conformal.predict_interval(target[FEATURE_COLUMNS])
    point = np.maximum(point, 0)
    return pd.DataFrame({"unique_id": target["unique_id"].to_numpy(), "ds": target["ds"].to_numpy(), "point": point,
                         "lo": np.maximum(bounds[:, 0, 0], 0), "hi": bounds[:, 1, 0], "model": HGB})


# --- statsforecast: seasonal window average ----------------------------------------------------------
# MSTL (daily + weekly seasonality, AutoETS trend, conformal intervals) was tried on the 300-student demo:
# 315 s for a 4-origin backtest of 40 courses on these two cores, MASE 1.07 and 95% coverage 0.63 (its
# mean forecast and Gaussian-ish errors fit hourly counts of 0-3 poorly). The statsforecast candidate is
# the mean of the same hour over the last four weeks, with statsforecast's conformal intervals.

def seasonal_window_average(history: pd.DataFrame, h: int = HORIZON, tz: str = "UTC", seed: int = 0) -> pd.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalWindowAverage
    from statsforecast.utils import ConformalIntervals

    cutoff = history["ds"].max() - pd.Timedelta(weeks=TRAIN_WEEKS)
    recent = history.loc[history["ds"] > cutoff, ["unique_id", "ds", "y"]]
    model = SeasonalWindowAverage(season_length=SEASON, window_size=4, alias="SWA",
                                  prediction_intervals=ConformalIntervals(h=h, n_windows=2))
    sf = StatsForecast(models=[model], freq="h", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = sf.forecast(df=recent, h=h, level=[LEVEL])
    out = out.reset_index() if "unique_id" not in out.columns else out
    return pd.DataFrame({"unique_id": out["unique_id"].to_numpy(), "ds": out["ds"].to_numpy(),
                         "point": np.maximum(out["SWA"].to_numpy(), 0),
                         "lo": np.maximum(out[f"SWA-lo-{LEVEL}"].to_numpy(), 0),
                         "hi": out[f"SWA-hi-{LEVEL}"].to_numpy(), "model": SWA})


MODELS = {HGB: hgb_conformal, SWA: seasonal_window_average}


# --- forecasting with the short-series fallback ------------------------------------------------------

def forecast(history: pd.DataFrame, model: str, h: int = HORIZON, tz: str = "UTC") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(forecast, seasonal naive) for every series. Series shorter than MIN_HISTORY, or every series if
    `model` is seasonal naive, get the seasonal-naive forecast, labelled as such."""
    naive = seasonal_naive(history, h)
    lengths = history.groupby("unique_id").size()
    long_ids = lengths[lengths >= MIN_HISTORY].index
    if model.startswith(SEASONAL_NAIVE) or len(long_ids) == 0:
        return naive.copy(), naive
    fitted = MODELS[model](history[history["unique_id"].isin(long_ids)], h, tz)
    short = naive[~naive["unique_id"].isin(long_ids)]
    return pd.concat([fitted, short], ignore_index=True), naive


# --- scores ---------------------------------------------------------------------------------------

def mase_scale(history: pd.DataFrame) -> pd.Series:
    """In-sample MAE of the seasonal-naive forecast per series (Hyndman's MASE denominator, m = 168)."""
    def scale(g: pd.DataFrame) -> float:
        y = g["y"].to_numpy(dtype=float)
        if len(y) <= SEASON:
            return float("nan")
        err = np.abs(y[SEASON:] - y[:-SEASON])
        if "observed" in g.columns:
            ok = g["observed"].to_numpy()
            err = err[ok[SEASON:] & ok[:-SEASON]]
        return float(err.mean()) if len(err) else float("nan")

    return history.groupby("unique_id").apply(scale, include_groups=False)


def score(pred: pd.DataFrame, actual: pd.DataFrame, scale: pd.Series) -> pd.DataFrame:
    """Per series: hours scored, MAE, MASE (MAE / in-sample seasonal-naive MAE) and 95% coverage."""
    joined = pred.merge(actual[["unique_id", "ds", "y", *(["observed"] if "observed" in actual else [])]],
                        on=["unique_id", "ds"], how="inner")
    if "observed" in joined:
        joined = joined[joined["observed"]]
    joined = joined.assign(err=(joined["y"] - joined["point"]).abs(),
                           inside=(joined["y"] >= joined["lo"] - 1e-9) & (joined["y"] <= joined["hi"] + 1e-9))
    per = joined.groupby("unique_id").agg(hours=("err", "size"), mae=("err", "mean"), coverage=("inside", "mean"))
    per["mase"] = per["mae"] / scale.reindex(per.index)
    return per


# --- backtest origins -------------------------------------------------------------------------------

def weekly_origins(last_hour: pd.Timestamp, n: int, tz: str, h: int = HORIZON) -> list[pd.Timestamp]:
    """The starts (UTC, tz-naive) of the last `n` weeks of the calendar in `tz` (Monday 00:00 local)
    whose `h`-hour horizon has been recorded (ends with `last_hour`, the latest recorded hour, or
    before it), oldest first.

    The grid is the calendar's, not the data's: new hours inside the current week leave the origins
    where they were, so a rerun after a delta can reuse the backtest; they move once a week, when the
    last hour of a week is recorded. (Should that hour still be filling up, the sessions that arrive
    later change the backtest's inputs, and the next run refits: nothing stale is kept.)"""
    local = pd.Timestamp(last_hour).tz_localize("UTC").tz_convert(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    origins: list[pd.Timestamp] = []
    week = 0
    while len(origins) < n:
        day = monday - dt.timedelta(weeks=week)
        # Midnight can be skipped or repeated by a DST change in a few zones: take the first instant.
        start = pd.Timestamp(day).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
        start = start.tz_convert("UTC").tz_localize(None)
        if start + pd.Timedelta(hours=h) <= last_hour + pd.Timedelta(hours=1):
            origins.append(start)
        week += 1
    return sorted(origins)


@functools.cache
def code_version(candidates: tuple[str, ...] = CANDIDATES) -> str:
    """What a backtest's figures depend on besides its data: this module (the models, the scores, the
    choice), the candidates, and the libraries the candidates fit with (an upgrade can move a split or
    a quantile)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    libraries = {name: version(name) for name in ("numpy", "pandas", "scikit-learn", "mapie", "statsforecast")}
    digest.update(repr((candidates, HORIZON, SEASON, LEVEL, MIN_HISTORY, TRAIN_WEEKS, CONFORMAL_WEEKS, LAGS,
                        sorted(libraries.items()))).encode())
    return digest.hexdigest()


@dataclass
class Backtest:
    origins: list[pd.Timestamp]
    # per (model, unique_id): hours, mae, mase, coverage; model "seasonal_naive" is the baseline
    per_series: pd.DataFrame
    overall: pd.DataFrame  # per model: mase, coverage, mae, hours
    chosen: str
    seconds: dict[str, float] = field(default_factory=dict)
    # per origin, per model: the forecast made at that origin (unique_id, ds, point, lo, hi, model)
    forecasts: dict[pd.Timestamp, dict[str, pd.DataFrame]] = field(default_factory=dict)

    @property
    def last_origin_forecasts(self) -> dict[str, pd.DataFrame]:
        return self.forecasts[self.origins[-1]]


def backtest(frame: pd.DataFrame, origins: int | Sequence[pd.Timestamp] = 4, h: int = HORIZON, tz: str = "UTC",
             candidates: tuple[str, ...] = CANDIDATES) -> Backtest:
    """Rolling origin: each origin's forecast from the history before it, scored on the `h` hours from
    it. `origins` is either the origins themselves (`weekly_origins`: ml/forecast_backtest) or a number
    of weeks ending at the frame's last hour (`studentops forecast-eval` on a file). MASE is
    scaled by the seasonal-naive in-sample MAE of the history before the first origin; coverage counts
    actuals inside the 95% interval. The candidate with the lowest overall MASE is chosen, seasonal
    naive included: a model that cannot beat it is not used."""
    if isinstance(origins, int):
        end = frame["ds"].max() + pd.Timedelta(hours=1)
        starts = [end - pd.Timedelta(hours=h * k) for k in range(origins, 0, -1)]
    else:
        starts = sorted(pd.Timestamp(o) for o in origins)
    first = starts[0]
    scale = mase_scale(frame[frame["ds"] < first])
    rows, seconds, forecasts = [], {}, {}
    for origin in starts:
        history = frame[frame["ds"] < origin]
        actual = frame[(frame["ds"] >= origin) & (frame["ds"] < origin + pd.Timedelta(hours=h))]
        naive = seasonal_naive(history, h)
        outputs = {SEASONAL_NAIVE: naive}
        for name in candidates:
            t0 = time.perf_counter()
            fitted, _ = forecast(history, name, h, tz)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
            outputs[name] = fitted
        for name, pred in outputs.items():
            per = score(pred, actual, scale).assign(model=name, origin=origin)
            rows.append(per.reset_index())
        forecasts[origin] = outputs
    per_origin = pd.concat(rows, ignore_index=True)
    # Per series over all origins: hour-weighted means.
    per_origin["abs_sum"] = per_origin["mae"] * per_origin["hours"]
    per_origin["in_sum"] = per_origin["coverage"] * per_origin["hours"]
    per_series = per_origin.groupby(["model", "unique_id"]).agg(hours=("hours", "sum"), abs_sum=("abs_sum", "sum"),
                                                                in_sum=("in_sum", "sum")).reset_index()
    per_series["mae"] = per_series["abs_sum"] / per_series["hours"]
    per_series["coverage"] = per_series["in_sum"] / per_series["hours"]
    per_series["mase"] = per_series["mae"] / scale.reindex(per_series["unique_id"]).to_numpy()
    per_series = per_series.drop(columns=["abs_sum", "in_sum"])
    scored = per_series[np.isfinite(per_series["mase"])]
    overall = scored.groupby("model").apply(
        lambda g: pd.Series({"mase": g["mase"].mean(), "mae": np.average(g["mae"], weights=g["hours"]),
                             "coverage": np.average(g["coverage"], weights=g["hours"]), "hours": g["hours"].sum(),
                             "series": len(g)}), include_groups=False)
    chosen = str(overall["mase"].idxmin()) if len(overall) else SEASONAL_NAIVE
    return Backtest(starts, per_series, overall, chosen, seconds, forecasts)


def summary(bt: Backtest) -> dict:
    """The figures `forecast-eval --json` prints: `overall` and `series` with mase, mase_seasonal_naive,
    coverage and model (the chosen one)."""
    def figures(model_rows: pd.DataFrame, naive_rows: pd.DataFrame) -> dict:
        return {"mase": _f(model_rows["mase"]), "mase_seasonal_naive": _f(naive_rows["mase"]),
                "coverage": _f(model_rows["coverage"]), "model": bt.chosen}

    series = {}
    chosen = bt.per_series[bt.per_series["model"] == bt.chosen].set_index("unique_id")
    naive = bt.per_series[bt.per_series["model"] == SEASONAL_NAIVE].set_index("unique_id")
    for uid in chosen.index:
        series[str(uid)] = {"mase": _f(chosen.loc[uid, "mase"]), "mase_seasonal_naive": _f(naive.loc[uid, "mase"]),
                            "coverage": _f(chosen.loc[uid, "coverage"]), "model": bt.chosen,
                            "hours": int(chosen.loc[uid, "hours"])}
    o = bt.overall
    overall = {"mase": _f(o.loc[bt.chosen, "mase"]), "mase_seasonal_naive": _f(o.loc[SEASONAL_NAIVE, "mase"]),
               "coverage": _f(o.loc[bt.chosen, "coverage"]), "model": bt.chosen,
               "origins": [str(t) for t in bt.origins],
               "candidates": {m: {"mase": _f(o.loc[m, "mase"]), "coverage": _f(o.loc[m, "coverage"])} for m in o.index}}
    return {"overall": overall, "series": series}


def _f(value) -> float | None:
    if isinstance(value, pd.Series):
        value = value.mean()
    value = float(value)
    return round(value, 4) if np.isfinite(value) else None
