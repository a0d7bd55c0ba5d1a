"""`ml/forecast_backtest` refits only when what it reads changed, and its origins never see the future.

The backtest's origins are calendar weeks (Monday 00:00 in the study timezone), so new hours inside the
current week leave them, and the backtest, as they were; a change to the demand before the last origin's
horizon end, or a week completing, makes it refit. The warehouse here is a home of its own with a small
synthetic `marts.fact_hourly_demand` (three courses, Poisson counts with a daily and weekly profile, over
the autumn DST change), written in SQL: the forecast assets read nothing else, and the dbt model that
builds the table in production is tested elsewhere. Every test starts from the same rows.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import psycopg2.extras
import pytest

from studentops_assets.ml import forecast as fc
from studentops_assets.ml.forecast_assets import (
    _ACCURACY_SELECT,
    FORECAST_DDL,
    FORECAST_HISTORY_WEEKS,
    demand_forecast,
    forecast_accuracy,
    forecast_backtest,
    interval_coverage_95,
    mase_below_seasonal_naive,
)

TZ = "Europe/Amsterdam"
COURSES = {"CS101": 1.0, "MATH201": 2.5, "PHYS110": 0.6}
# Monday 15 June 2026 00:00 in Amsterdam, to Thursday 3 December 10:00: 24 whole weeks (more than
# ml/demand_forecast reads) and a part-week, across the end of summer time (25 October).
FIRST_HOUR = pd.Timestamp("2026-06-14 22:00")
LAST_HOUR = pd.Timestamp("2026-12-03 09:00")
PROFILE = np.array([0.1, 0.05, 0, 0, 0, 0, 0.2, 0.8, 2, 3, 3.5, 3.5, 3, 3.5, 4, 4.5, 4.5, 4, 3.5, 4, 4.5, 4, 2.5, 1])
# The four local Mondays whose week of actuals is complete by LAST_HOUR, as UTC instants.
ORIGINS = [pd.Timestamp(t) for t in ("2026-11-01 23:00", "2026-11-08 23:00", "2026-11-15 23:00", "2026-11-22 23:00")]
BACKTEST = [forecast_backtest, mase_below_seasonal_naive, interval_coverage_95]


def demand_rows(first: pd.Timestamp, last: pd.Timestamp, seed: int = 3) -> pd.DataFrame:
    """unique_id, ds (UTC, tz-naive), y: hourly counts whose profile follows the local clock."""
    hours = pd.date_range(first, last, freq="h")
    local = hours.tz_localize("UTC").tz_convert(TZ)
    weekday = np.where(local.weekday >= 5, 0.5, 1.0)
    rng = np.random.default_rng(seed)
    frames = [pd.DataFrame({"unique_id": course, "ds": hours,
                            "y": rng.poisson(PROFILE[local.hour] * weekday * scale).astype(float)})
              for course, scale in COURSES.items()]
    return pd.concat(frames, ignore_index=True)


BASE = demand_rows(FIRST_HOUR, LAST_HOUR)


def write_demand(warehouse, frame: pd.DataFrame) -> None:
    """Replace the demand table's rows with `frame`'s (the columns the forecast assets read)."""
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts; create table if not exists marts.fact_hourly_demand "
                    "(course_code text not null, hour_start timestamptz not null, demand integer not null, "
                    "primary key (course_code, hour_start)); truncate marts.fact_hourly_demand")
        psycopg2.extras.execute_values(
            cur, "insert into marts.fact_hourly_demand (course_code, hour_start, demand) values %s",
            [(u, t.to_pydatetime().replace(tzinfo=dt.timezone.utc), int(y)) for u, t, y in frame.itertuples(index=False)],
            page_size=5000)
        conn.commit()


def query(warehouse, sql: str, params=None) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
    return rows


def materialize(warehouse, assets=BACKTEST) -> dict:
    """Materialise for real (in process); the first asset's metadata, plain values."""
    result = dg.materialize(assets, resources={"warehouse": warehouse}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    (event,) = result.asset_materializations_for_node(assets[0].op.name)
    meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
    if assets is BACKTEST:
        # The checks read the backtest in force, reused or not.
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == 2
        assert {e.metadata["backtest_id"].value for e in evaluations} == {meta["backtest_id"]}
    return meta


def backtest_ids(warehouse) -> list[str]:
    return [b for (b,) in query(warehouse, "select backtest_id from ml.forecast_backtest group by 1 order by min(evaluated_at)")]


def series_figures(warehouse, backtest_id: str) -> dict[tuple[str, str], tuple]:
    rows = query(warehouse, "select model, course_code, hours, mae, coverage from ml.forecast_backtest "
                            "where backtest_id = %s and scope = 'series'", (backtest_id,))
    return {(m, c): (h, mae, cov) for m, c, h, mae, cov in rows}


@pytest.fixture(scope="module")
def warehouse(new_home):
    _, warehouse = new_home(timezone=TZ)
    return warehouse


@pytest.fixture
def baseline(warehouse) -> dict:
    """The base rows in the warehouse and a backtest that read exactly them (refitted or reused)."""
    write_demand(warehouse, BASE)
    meta = materialize(warehouse)
    assert meta["backtested"] and meta["backtest_id"] == backtest_ids(warehouse)[-1]
    return meta


# --- the origins, without a warehouse ------------------------------------------------------------

def test_origins_are_the_last_complete_local_weeks():
    assert fc.weekly_origins(LAST_HOUR, 4, TZ) == ORIGINS
    zone = ZoneInfo(TZ)
    for origin in ORIGINS:
        local = origin.tz_localize("UTC").tz_convert(zone)
        assert (local.weekday(), local.hour, local.minute) == (0, 0, 0)
    # New hours inside the week: the same origins, until the week's last hour is recorded.
    last_of_week = pd.Timestamp("2026-12-06 22:00")  # Sunday 6 December 23:00 in Amsterdam
    assert fc.weekly_origins(last_of_week - pd.Timedelta(hours=1), 4, TZ) == ORIGINS
    # Then the week is complete and the origins move by a week.
    assert fc.weekly_origins(last_of_week, 4, TZ) == [*ORIGINS[1:], pd.Timestamp("2026-11-29 23:00")]
    # Across the autumn DST change the origins stay on local midnight (22:00 UTC before it, 23:00 after).
    assert fc.weekly_origins(pd.Timestamp("2026-11-01 10:00"), 2, TZ) == [pd.Timestamp("2026-10-11 22:00"),
                                                                         pd.Timestamp("2026-10-18 22:00")]


def test_no_origin_fits_on_data_at_or_after_itself():
    before = fc.backtest(BASE, ORIGINS, tz=TZ)
    # Every value from the first origin on is replaced by nonsense: the forecasts made at the first
    # origin cannot move (they fit on what came before it), the later ones must.
    altered = BASE.assign(y=np.where(BASE["ds"] >= ORIGINS[0], BASE["y"] * 7 + 11, BASE["y"]))
    after = fc.backtest(altered, ORIGINS, tz=TZ)
    assert set(before.forecasts[ORIGINS[0]]) == {fc.SEASONAL_NAIVE, *fc.CANDIDATES}
    for model, first in before.forecasts[ORIGINS[0]].items():
        pd.testing.assert_frame_equal(first, after.forecasts[ORIGINS[0]][model])
    for model in fc.CANDIDATES:
        assert not before.forecasts[ORIGINS[1]][model]["point"].equals(after.forecasts[ORIGINS[1]][model]["point"])
    # Each origin forecasts (and is scored on) exactly the week after it.
    for origin, outputs in before.forecasts.items():
        for pred in outputs.values():
            assert pred["ds"].min() == origin and pred["ds"].max() == origin + pd.Timedelta(hours=fc.HORIZON - 1)
    assert set(before.per_series["hours"]) == {len(ORIGINS) * fc.HORIZON}


# --- the asset: reuse and refit -----------------------------------------------------------------------

def test_a_rerun_on_unchanged_inputs_reuses_the_backtest(warehouse, baseline):
    ids = backtest_ids(warehouse)
    meta = materialize(warehouse)
    assert meta["backtest_reused"] is True and meta["reused_backtest_id"] == meta["backtest_id"] == ids[-1]
    assert meta["backtest_fingerprint"] == baseline["backtest_fingerprint"]
    assert meta["chosen_model"] == baseline["chosen_model"] and meta["mase"] == baseline["mase"]
    assert backtest_ids(warehouse) == ids
    (stored,), = query(warehouse, "select fingerprint from ml.forecast_backtest_inputs where backtest_id = %s", (ids[-1],))
    assert stored == meta["backtest_fingerprint"]
    # What the backtest in force read: the demand before the last origin's horizon end, four local weeks.
    (origins, until, rows), = query(warehouse, "select origins, data_until, demand_rows from ml.forecast_backtest_inputs "
                                               "where backtest_id = %s", (ids[-1],))
    assert origins == [str(o) for o in ORIGINS]
    end = ORIGINS[-1] + pd.Timedelta(hours=fc.HORIZON)
    assert until == end.tz_localize("UTC") and rows == int((BASE["ds"] < end).sum())
    assert {h for h, _, _ in series_figures(warehouse, ids[-1]).values()} == {len(ORIGINS) * fc.HORIZON}


def test_new_and_late_hours_after_the_window_reuse_the_backtest(warehouse, baseline):
    ids = backtest_ids(warehouse)
    # A delta: five new hours (still Thursday in Amsterdam), and late sessions for Tuesday of this week.
    grown = pd.concat([BASE, demand_rows(LAST_HOUR + pd.Timedelta(hours=1), LAST_HOUR + pd.Timedelta(hours=5), seed=9)])
    late = grown["ds"] == pd.Timestamp("2026-12-01 09:00")
    grown.loc[late, "y"] += 4
    write_demand(warehouse, grown)
    meta = materialize(warehouse)
    assert meta["backtest_reused"] is True and meta["backtest_id"] == ids[-1]
    assert backtest_ids(warehouse) == ids
    # ml/demand_forecast still forecasts from the latest hour, with the model the reused backtest chose.
    forecast = materialize(warehouse, [demand_forecast])
    (origin, versions, first, last), = query(
        warehouse, "select min(origin), array_agg(distinct model_version), min(hour_start), max(hour_start) "
                   "from ml.demand_forecast where forecast_id = %s", (forecast["forecast_id"],))
    newest = (LAST_HOUR + pd.Timedelta(hours=6)).tz_localize("UTC")
    assert origin == first == newest and last == newest + pd.Timedelta(hours=fc.HORIZON - 1)
    assert {v.split("@")[1] for v in versions} == {ids[-1]}


@pytest.mark.parametrize("moved", ["scored hour of the last origin", "history before the first origin"])
def test_changed_history_inside_the_window_refits(warehouse, baseline, moved):
    ids = backtest_ids(warehouse)
    hour = ORIGINS[-1] + pd.Timedelta(hours=40) if moved.startswith("scored") else ORIGINS[0] - pd.Timedelta(weeks=3)
    changed = BASE.copy()
    changed.loc[(changed["unique_id"] == "MATH201") & (changed["ds"] == hour), "y"] += 30
    write_demand(warehouse, changed)
    meta = materialize(warehouse)
    assert meta["backtest_reused"] is False and "reused_backtest_id" not in meta
    assert meta["backtest_fingerprint"] != baseline["backtest_fingerprint"]
    assert backtest_ids(warehouse) == [*ids, meta["backtest_id"]]
    old, new = series_figures(warehouse, ids[-1]), series_figures(warehouse, meta["backtest_id"])
    # The refit saw the change: MATH201's figures moved (its scored error, or its MASE scale's history
    # and so its forecasts) and no other course's did for the seasonal-naive baseline.
    naive = fc.SEASONAL_NAIVE
    if moved.startswith("scored"):
        assert new[(naive, "MATH201")][1] > old[(naive, "MATH201")][1]
    else:
        mase = dict(query(warehouse, "select backtest_id, mase from ml.forecast_backtest where scope = 'series' "
                                     "and model = %s and course_code = 'MATH201' and backtest_id = any(%s)",
                          (naive, [ids[-1], meta["backtest_id"]])))
        assert mase[meta["backtest_id"]] != mase[ids[-1]] and new[(naive, "MATH201")][1] == old[(naive, "MATH201")][1]
    for course in ("CS101", "PHYS110"):
        assert new[(naive, course)] == old[(naive, course)]
    # And the next run reuses the refit.
    again = materialize(warehouse)
    assert again["backtest_reused"] is True and again["backtest_id"] == meta["backtest_id"]


def test_a_completed_week_moves_the_origins_and_refits(warehouse, baseline):
    ids = backtest_ids(warehouse)
    last_of_week = pd.Timestamp("2026-12-06 22:00")  # Sunday 23:00 in Amsterdam
    grown = pd.concat([BASE, demand_rows(LAST_HOUR + pd.Timedelta(hours=1), last_of_week, seed=9)])
    write_demand(warehouse, grown)
    meta = materialize(warehouse)
    assert meta["backtest_reused"] is False and meta["backtest_id"] not in ids
    assert meta["origins"] == [str(o) for o in [*ORIGINS[1:], pd.Timestamp("2026-11-29 23:00")]]


def test_the_forecast_from_its_window_equals_the_forecast_from_the_whole_history(warehouse, baseline):
    assert BASE["ds"].min() < BASE["ds"].max() - pd.Timedelta(weeks=FORECAST_HISTORY_WEEKS)  # the window cuts
    meta = materialize(warehouse, [demand_forecast])
    stored = pd.DataFrame(query(
        warehouse, "select course_code, hour_start at time zone 'UTC', point, lo95, hi95, seasonal_naive, model "
                   "from ml.demand_forecast where forecast_id = %s order by 1, 2", (meta["forecast_id"],)),
        columns=["unique_id", "ds", "point", "lo", "hi", "naive", "model"])
    pred, naive = fc.forecast(BASE, baseline["chosen_model"], tz=TZ)
    whole = pred.merge(naive[["unique_id", "ds", "point"]].rename(columns={"point": "naive"}), on=["unique_id", "ds"])
    whole = whole.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    assert len(stored) == len(COURSES) * fc.HORIZON and set(stored["model"]) == {baseline["chosen_model"]}
    for column in ("point", "lo", "hi", "naive"):
        np.testing.assert_allclose(stored[column], whole[column].round(4), atol=1e-9)
    pd.testing.assert_series_equal(stored["ds"], pd.Series(whole["ds"].to_numpy(), name="ds"), check_dtype=False)


# --- ml/forecast_accuracy: incremental, and what a from-scratch computation gives ----------------------

def accuracy_rows(warehouse) -> set[tuple]:
    return set(query(warehouse, "select forecast_id, model_version, course_code, forecast_local_date, forecasted_at, "
                                "hours_observed, round(mae::numeric, 9), round(mase::numeric, 9), "
                                "round(mase_seasonal_naive::numeric, 9), round(coverage, 9) from ml.forecast_accuracy"))


def accuracy_from_scratch(warehouse) -> set[tuple]:
    sql = _ACCURACY_SELECT.format(where="")
    return set(query(warehouse, f"select forecast_id, model_version, course_code, forecast_local_date, forecasted_at, "
                                f"hours_observed, round(mae::numeric, 9), round(mase::numeric, 9), "
                                f"round(mase_seasonal_naive::numeric, 9), round(coverage, 9) from ({sql}) as a",
                     {"tz": TZ}))


def test_forecast_accuracy_recomputes_only_the_rows_whose_inputs_moved(warehouse, baseline):
    query(warehouse, FORECAST_DDL)
    query(warehouse, "delete from ml.demand_forecast where forecast_id like 'fc-past-%%'")
    # Two forecasts "made" in the past, over hours whose actuals exist: off by one and by two sessions.
    for name, offset, days_back in (("fc-past-1", 1, 6), ("fc-past-2", 2, 3)):
        query(warehouse, "insert into ml.demand_forecast select %(name)s, course_code, hour_start, demand + %(off)s, "
                         "demand, demand + 3, demand + 2, 'hgb_conformal', 'hgb_conformal@test', %(origin)s, 0.5, now() "
                         "from marts.fact_hourly_demand where hour_start >= %(origin)s "
                         "and hour_start < %(origin)s + interval '7 days'",
              {"name": name, "off": offset,
               "origin": (LAST_HOUR - pd.Timedelta(days=days_back)).tz_localize("UTC").to_pydatetime()})
    first = materialize(warehouse, [forecast_accuracy])
    assert first["forecasts_new"] >= 2 and accuracy_rows(warehouse) == accuracy_from_scratch(warehouse)
    (mae,), = query(warehouse, "select avg(mae) from ml.forecast_accuracy where forecast_id = 'fc-past-1'")
    assert float(mae) == pytest.approx(1.0)

    # Nothing moved: nothing is recomputed, the rows stay.
    rows = accuracy_rows(warehouse)
    again = materialize(warehouse, [forecast_accuracy])
    assert (again["rows_recomputed"], again["days_recomputed"], again["forecasts_new"]) == (0, 0, 0)
    assert accuracy_rows(warehouse) == rows

    # Late data for one hour both forecasts cover: exactly that local day's rows are recomputed.
    hour = (LAST_HOUR - pd.Timedelta(days=2, hours=5)).tz_localize("UTC")
    query(warehouse, "update marts.fact_hourly_demand set demand = demand + 10 where course_code = 'CS101' "
                     "and hour_start = %s", (hour.to_pydatetime(),))
    late = materialize(warehouse, [forecast_accuracy])
    day = hour.tz_convert(TZ).date()
    (per_day,), = query(warehouse, "select count(*) from ml.forecast_accuracy where forecast_local_date = %s", (day,))
    assert late["days_recomputed"] == 1 and late["rows_recomputed"] == per_day > 0 and late["forecasts_new"] == 0
    after = accuracy_rows(warehouse)
    assert after == accuracy_from_scratch(warehouse)
    assert {r for r in after ^ rows} and all(r[3] == day for r in after ^ rows)

    # A forecast no longer kept loses its rows.
    query(warehouse, "delete from ml.demand_forecast where forecast_id = 'fc-past-2'")
    dropped = materialize(warehouse, [forecast_accuracy])
    assert dropped["forecasts_dropped"] == 1
    assert accuracy_rows(warehouse) == accuracy_from_scratch(warehouse)
    assert not query(warehouse, "select 1 from ml.forecast_accuracy where forecast_id = 'fc-past-2'")
