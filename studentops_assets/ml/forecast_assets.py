"""`ml/forecast_backtest` (choose the model), `ml/demand_forecast` (7 days ahead, kept, never
overwritten) and `ml/forecast_accuracy` (every past forecast against what happened), with checks."""


import datetime as dt
import hashlib
import json
import time
import uuid

import dagster as dg
import numpy as np
import pandas as pd

from resources.warehouse import WarehouseResource

from .freshness_policies import ML_WEEKLY
from . import forecast as fc
from .charts import forecast_chart

DEMAND_KEY = dg.AssetKey(["marts", "fact_hourly_demand"])
BACKTEST_KEY = dg.AssetKey(["ml", "forecast_backtest"])
FORECAST_KEY = dg.AssetKey(["ml", "demand_forecast"])
ACCURACY_KEY = dg.AssetKey(["ml", "forecast_accuracy"])
ORIGINS = 4
COVERAGE_BOUNDS = (0.90, 0.99)
# The history ml/demand_forecast reads: the most any model looks back from its origin (gradient
# boosting's TRAIN_WEEKS plus the four weeks its longest lag reaches; seasonal naive's interval five
# weeks, the MASE scale TRAIN_WEEKS). It covers MIN_HISTORY too, so the short-series fallback picks
# the same courses as on the whole history.
FORECAST_HISTORY_WEEKS = fc.TRAIN_WEEKS + 4

BACKTEST_DDL = """
create schema if not exists ml;
create table if not exists ml.forecast_backtest (
    backtest_id   text        not null,
    evaluated_at  timestamptz not null,
    model         text        not null,
    scope         text        not null check (scope in ('series', 'overall')),
    course_code   text,
    hours         integer     not null,
    mae           double precision,
    mase          double precision,
    coverage      double precision,
    chosen        boolean     not null,
    origins       jsonb       not null
);
comment on table ml.forecast_backtest is
    'Rolling-origin backtests of the demand forecasters: MASE against seasonal naive and 95% coverage, per course and overall.';
create table if not exists ml.forecast_backtest_inputs (
    backtest_id  text        primary key,
    fingerprint  text        not null,
    origins      jsonb       not null,
    data_until   timestamptz not null,
    demand_rows  bigint      not null,
    computed_at  timestamptz not null default now()
);
comment on table ml.forecast_backtest_inputs is
    'Fingerprint of what each backtest of ml.forecast_backtest read (the hourly demand before its last origin''s '
    'horizon end, its origins, the candidates and their code); a rerun whose fingerprint equals the latest '
    'backtest''s reuses it instead of refitting. Delete a row to force the next run to refit.';
"""

FORECAST_DDL = """
create table if not exists ml.demand_forecast (
    forecast_id          text             not null,
    course_code          text             not null,
    hour_start           timestamptz      not null,
    point                double precision not null,
    lo95                 double precision not null,
    hi95                 double precision not null,
    seasonal_naive       double precision not null,
    model                text             not null,
    model_version        text             not null,
    origin               timestamptz      not null,
    mase_scale           double precision,
    forecasted_at        timestamptz      not null,
    primary key (forecast_id, course_code, hour_start)
);
create index if not exists demand_forecast_hour on ml.demand_forecast (course_code, hour_start);
comment on table ml.demand_forecast is
    'Hourly demand forecasts per course for the 7 days after their origin, 95% intervals; every run is kept.';
"""


def demand_frame(conn, until: pd.Timestamp | None = None, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """The hourly demand (UTC, tz-naive `ds`) with `since < ds < until` (either bound optional)."""
    bounds, params = [], []
    if since is not None:
        bounds.append("hour_start > %s")
        params.append(_utc(since))
    if until is not None:
        bounds.append("hour_start < %s")
        params.append(_utc(until))
    where = f"where {' and '.join(bounds)} " if bounds else ""
    with conn.cursor() as cur:
        cur.execute("select course_code, hour_start at time zone 'UTC', demand::float8 from marts.fact_hourly_demand "
                    f"{where}order by course_code, hour_start", params)
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"]).astype({"y": float})


def _utc(ts: pd.Timestamp) -> dt.datetime:
    """A tz-naive UTC timestamp of the frames as an aware datetime, so Postgres never reads it in the
    session's zone."""
    return pd.Timestamp(ts).tz_localize("UTC").to_pydatetime()


def _demand_hours(conn) -> tuple[pd.Timestamp, pd.Timestamp, int] | None:
    """(first hour, last hour, distinct hours) of fact_hourly_demand, UTC tz-naive; None when empty."""
    with conn.cursor() as cur:
        cur.execute("select min(hour_start) at time zone 'UTC', max(hour_start) at time zone 'UTC', "
                    "count(distinct hour_start) from marts.fact_hourly_demand")
        first, last, hours = cur.fetchone()
    return None if first is None else (pd.Timestamp(first), pd.Timestamp(last), int(hours))


# The demand rows a backtest reads, hashed in the warehouse (one scan, nothing shipped): the row count
# and the sum of the rows' hashes. A sum does not depend on row order and sees duplicates; the row
# hash is hashed again because hash_record_extended is linear in its columns' hashes (two courses
# swapping their demand in an hour would cancel out in a sum of linear hashes). Same scheme as
# ml/feature_inputs.py.
_DEMAND_FINGERPRINT = """
select count(*), coalesce(sum(hashtextextended(hash_record_extended(row(course_code, hour_start, demand), 0)::text, 0)),
                          0)::text
from marts.fact_hourly_demand
where hour_start < %s
"""


def backtest_fingerprint(conn, origins: list[pd.Timestamp], tz: str, h: int = fc.HORIZON,
                         candidates: tuple[str, ...] = fc.CANDIDATES) -> tuple[str, int]:
    """(fingerprint, demand rows) of everything a backtest at `origins` reads: every demand row before
    the last origin's horizon end (the history of every origin, the MASE scale and the scored hours),
    the origins, the horizon, the timezone (the calendar features) and the candidates' code."""
    until = origins[-1] + pd.Timedelta(hours=h)
    with conn.cursor() as cur:
        cur.execute(_DEMAND_FINGERPRINT, (_utc(until),))
        rows, total = cur.fetchone()
    text = "|".join([fc.code_version(tuple(candidates)), tz, str(h), ",".join(o.isoformat() for o in origins),
                     f"demand {rows}:{total}"])
    return hashlib.sha256(text.encode()).hexdigest(), int(rows)


def _latest_backtest(conn) -> tuple[str, str | None] | None:
    """(backtest_id, its input fingerprint or None) of the latest backtest, the one the checks and
    ml/demand_forecast read; None before the first."""
    with conn.cursor() as cur:
        cur.execute("select b.backtest_id, i.fingerprint from "
                    "(select backtest_id from ml.forecast_backtest order by evaluated_at desc limit 1) as b "
                    "left join ml.forecast_backtest_inputs as i using (backtest_id)")
        row = cur.fetchone()
    return None if row is None else (row[0], row[1])


def _stored_overall(conn, backtest_id: str) -> pd.DataFrame:
    """The overall rows of a stored backtest, indexed by model, as `Backtest.overall` (with `chosen`)."""
    with conn.cursor() as cur:
        cur.execute("select model, mase, coverage, mae, hours, chosen, origins from ml.forecast_backtest "
                    "where backtest_id = %s and scope = 'overall' order by model", (backtest_id,))
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["model", "mase", "coverage", "mae", "hours", "chosen", "origins"]).set_index("model")


def _insert_frame(conn, table: str, frame: pd.DataFrame) -> None:
    import polars as pl

    from .tables import copy_frame

    copy_frame(conn, table, pl.from_pandas(frame))


@dg.asset(
    key=BACKTEST_KEY,
    group_name="ml",
    kinds={"statsforecast", "scikitlearn", "postgres"},
    pool="ml_forecast",
    deps=[DEMAND_KEY],
    freshness_policy=ML_WEEKLY,
    description=(
        "Rolling-origin backtest of the hourly demand forecasters (origins: the last 4 calendar weeks, Monday "
        "00:00 in the study timezone, whose 7-day horizon has been recorded): gradient boosting with MAPIE "
        "conformal intervals and statsforecast's seasonal window average with conformal intervals, against the "
        "seasonal-naive baseline. MASE (scaled by seasonal naive) and 95% interval coverage per course and "
        "overall; the lowest MASE is the model ml/demand_forecast uses. A rerun whose inputs (the demand up to "
        "the last horizon's end, the origins, the candidates' code) are unchanged reuses the latest backtest."
    ),
)
def forecast_backtest(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    tz = warehouse.settings().timezone
    with warehouse.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(BACKTEST_DDL)
        conn.commit()
        with conn.cursor() as cur:
            # One snapshot for the fingerprint and the rows: a dbt run committing in between cannot
            # make the stored fingerprint describe other rows than the ones fitted on.
            cur.execute("set transaction isolation level repeatable read, read only")
        span = _demand_hours(conn)
        origins = fc.weekly_origins(span[1], ORIGINS, tz) if span else []
        if span is None or origins[0] < span[0] + pd.Timedelta(hours=fc.MIN_HISTORY):
            # A young warehouse: nothing to choose between; ml/demand_forecast falls back to seasonal naive.
            hours = span[2] if span else 0
            reason = (f"fact_hourly_demand has {hours} hours; a {ORIGINS}-origin backtest on calendar weeks needs "
                      f"{fc.MIN_HISTORY} hours before its first origin"
                      + (f" ({origins[0]} UTC)" if origins else "") + ": no backtest, forecasts are seasonal naive")
            context.log.warning(reason)
            return dg.MaterializeResult(metadata={"dagster/row_count": 0, "backtested": False, "reason": reason})
        t0 = time.perf_counter()
        fingerprint, demand_rows = backtest_fingerprint(conn, origins, tz)
        fingerprint_seconds = round(time.perf_counter() - t0, 3)
        latest = _latest_backtest(conn)
        if latest is not None and latest[1] == fingerprint:
            return _reused(context, conn, latest[0], fingerprint, fingerprint_seconds, started)
        until = origins[-1] + pd.Timedelta(hours=fc.HORIZON)
        frame = demand_frame(conn, until=until)
    bt = fc.backtest(frame, origins, tz=tz)
    figures = fc.summary(bt)
    backtest_id = f"bt-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.timezone.utc)
    origins_json = json.dumps([str(o) for o in bt.origins])
    series = bt.per_series.rename(columns={"unique_id": "course_code"}).assign(scope="series")
    overall = bt.overall.reset_index().assign(scope="overall", course_code=None)
    rows = pd.concat([series, overall], ignore_index=True)
    rows = rows.assign(backtest_id=backtest_id, evaluated_at=pd.Timestamp(now), chosen=rows["model"] == bt.chosen,
                       origins=origins_json, hours=rows["hours"].astype(int))
    rows = rows[["backtest_id", "evaluated_at", "model", "scope", "course_code", "hours", "mae", "mase", "coverage",
                 "chosen", "origins"]]
    rows["mase"] = rows["mase"].replace([np.inf, -np.inf], np.nan)
    with warehouse.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(BACKTEST_DDL)
        _insert_frame(conn, "ml.forecast_backtest", rows)
        # In the transaction that writes the rows: rows and fingerprint cannot disagree.
        with conn.cursor() as cur:
            cur.execute("insert into ml.forecast_backtest_inputs (backtest_id, fingerprint, origins, data_until, "
                        "demand_rows, computed_at) values (%s, %s, %s, %s, %s, %s)",
                        (backtest_id, fingerprint, origins_json, _utc(until), demand_rows, now))
        conn.commit()

    # Chart: the busiest course at the last origin, chosen model against what happened.
    busiest = frame.groupby("unique_id")["y"].sum().idxmax()
    last = bt.last_origin_forecasts[bt.chosen]
    last = last[last["unique_id"] == busiest]
    actual = frame[(frame["unique_id"] == busiest) & (frame["ds"] >= bt.origins[-1] - pd.Timedelta(days=7))]
    chart = forecast_chart((actual["ds"], actual["y"]), None, (last["ds"], last["point"], last["lo"], last["hi"]),
                           f"{busiest}: backtest at the last origin, {bt.chosen}")
    o = figures["overall"]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "backtested": True,
        "backtest_reused": False,
        "backtest_id": backtest_id,
        "backtest_fingerprint": fingerprint,
        "fingerprint_seconds": fingerprint_seconds,
        "chosen_model": bt.chosen,
        "mase": o["mase"],
        "mase_seasonal_naive": o["mase_seasonal_naive"],
        "coverage": o["coverage"],
        "candidates": dg.MetadataValue.md(_candidates_table(bt.overall, bt.chosen)),
        "origins": dg.MetadataValue.json([str(t) for t in bt.origins]),
        "demand_rows_read": demand_rows,
        "fit_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in bt.seconds.items()}),
        "backtest_chart": chart,
        "seconds": round(time.perf_counter() - started, 2),
    })


def _candidates_table(overall: pd.DataFrame, chosen: str) -> str:
    return "| model | MASE | coverage 95% | MAE |\n|---|---|---|---|\n" + "\n".join(
        f"| {m}{' (chosen)' if m == chosen else ''} | {_num(r.mase)} | {_num(r.coverage)} | {_num(r.mae)} |"
        for m, r in overall.iterrows())


def _num(value) -> str:
    return "-" if value is None or not np.isfinite(float(value)) else f"{float(value):.3f}"


def _reused(context: dg.AssetExecutionContext, conn, backtest_id: str, fingerprint: str, fingerprint_seconds: float,
            started: float) -> dg.MaterializeResult:
    """The latest backtest read exactly these inputs: it stands, nothing is refitted or written. Its
    figures go into this materialisation's metadata, so the asset's latest event says what is in force."""
    overall = _stored_overall(conn, backtest_id)
    chosen = str(overall.index[overall["chosen"]][0])
    with conn.cursor() as cur:
        cur.execute("select count(*) from ml.forecast_backtest where backtest_id = %s", (backtest_id,))
        (n,) = cur.fetchone()
    context.log.info(f"backtest inputs unchanged (fingerprint {fingerprint[:12]}): {backtest_id} stands, no refit")

    def figure(model: str, column: str):
        value = overall.loc[model, column] if model in overall.index else None
        return None if value is None or not np.isfinite(float(value)) else round(float(value), 4)

    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(n),
        "backtested": True,
        "backtest_reused": True,
        "backtest_id": backtest_id,
        "reused_backtest_id": backtest_id,
        "backtest_fingerprint": fingerprint,
        "fingerprint_seconds": fingerprint_seconds,
        "chosen_model": chosen,
        "mase": figure(chosen, "mase"),
        "mase_seasonal_naive": figure(fc.SEASONAL_NAIVE, "mase"),
        "coverage": figure(chosen, "coverage"),
        "candidates": dg.MetadataValue.md(_candidates_table(overall, chosen)),
        "origins": dg.MetadataValue.json(list(overall["origins"].iloc[0])),
        "seconds": round(time.perf_counter() - started, 2),
    })


_NO_BACKTEST = ("no backtest yet (the history is shorter than a 4-origin backtest needs): every forecast is the "
                "seasonal-naive baseline, labelled as such")


def _latest_overall(warehouse: WarehouseResource) -> dict | None:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('ml.forecast_backtest')")
        if cur.fetchone()[0] is None:
            return None
        cur.execute(
            "select b.backtest_id, b.model, b.mase, b.coverage, n.mase from ml.forecast_backtest b "
            "join ml.forecast_backtest n on n.backtest_id = b.backtest_id and n.scope = 'overall' "
            "and n.model = 'seasonal_naive' where b.scope = 'overall' and b.chosen "
            "order by b.evaluated_at desc limit 1")
        row = cur.fetchone()
    return None if row is None else dict(zip(("backtest_id", "model", "mase", "coverage", "mase_naive"), row))


@dg.asset_check(asset=BACKTEST_KEY, name="mase_below_seasonal_naive",
                description="The chosen forecaster's backtest MASE (scaled by seasonal naive) is below 1: it beats "
                            "'same hour last week'.")
def mase_below_seasonal_naive(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    o = _latest_overall(warehouse)
    if o is None:
        return dg.AssetCheckResult(passed=True, metadata={"applicable": False}, description=_NO_BACKTEST)
    return dg.AssetCheckResult(passed=bool(o["mase"] < 1), metadata={k: v for k, v in o.items()},
                               description=f"{o['model']}: MASE {o['mase']:.3f} (seasonal naive {o['mase_naive']:.3f})")


@dg.asset_check(asset=BACKTEST_KEY, name="interval_coverage_95",
                description="The chosen forecaster's 95% intervals cover between 90% and 99% of backtest actuals "
                            "(too few: overconfident; too many: uselessly wide).")
def interval_coverage_95(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    o = _latest_overall(warehouse)
    if o is None:
        return dg.AssetCheckResult(passed=True, metadata={"applicable": False}, description=_NO_BACKTEST)
    lo, hi = COVERAGE_BOUNDS
    return dg.AssetCheckResult(passed=bool(lo <= o["coverage"] <= hi), metadata={k: v for k, v in o.items()},
                               description=f"{o['model']}: coverage {o['coverage']:.3f}, bounds [{lo}, {hi}]")


@dg.asset(
    key=FORECAST_KEY,
    group_name="ml",
    kinds={"statsforecast", "scikitlearn", "postgres"},
    pool="ml_forecast",
    deps=[BACKTEST_KEY, DEMAND_KEY],
    description=(
        "Hourly demand per course for the 7 days after the latest recorded hour: point forecast, 95% interval, "
        "the seasonal-naive forecast beside it, model name and version (the model the latest backtest chose). "
        "Courses with too little history get the seasonal-naive forecast, labelled as such. Every run is kept, "
        "so ml/forecast_accuracy can score each forecast on the future it predicted."
    ),
)
def demand_forecast(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    tz = warehouse.settings().timezone
    chosen = _latest_overall(warehouse)
    model = chosen["model"] if chosen else fc.SEASONAL_NAIVE
    with warehouse.connection() as conn:
        span = _demand_hours(conn)
        # Only the weeks a forecast reads (FORECAST_HISTORY_WEEKS): the forecast is the same as from the
        # whole history, which grows with every week of data while the fit's window does not.
        frame = demand_frame(conn, since=span[1] - pd.Timedelta(weeks=FORECAST_HISTORY_WEEKS)) if span else demand_frame(conn)
    if frame.empty:
        context.log.warning("no hourly demand recorded yet: nothing to forecast")
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "reason": "no hourly demand recorded yet"})
    pred, naive = fc.forecast(frame, model, tz=tz)
    scale = fc.mase_scale(frame[frame["ds"] > frame["ds"].max() - pd.Timedelta(weeks=fc.TRAIN_WEEKS)])
    now = dt.datetime.now(dt.timezone.utc)
    forecast_id = f"fc-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    out = pred.merge(naive[["unique_id", "ds", "point"]].rename(columns={"point": "seasonal_naive"}),
                     on=["unique_id", "ds"], how="left")
    out = pd.DataFrame({
        "forecast_id": forecast_id,
        "course_code": out["unique_id"],
        "hour_start": pd.to_datetime(out["ds"]).dt.tz_localize("UTC"),
        "point": out["point"].round(4), "lo95": out["lo"].round(4), "hi95": out["hi"].round(4),
        "seasonal_naive": out["seasonal_naive"].round(4),
        "model": out["model"],
        "model_version": out["model"] + "@" + (chosen["backtest_id"] if chosen else "no-backtest"),
        "origin": pd.Timestamp(frame["ds"].max() + pd.Timedelta(hours=1), tz="UTC"),
        "mase_scale": out["unique_id"].map(scale).astype(float),
        "forecasted_at": pd.Timestamp(now),
    })
    with warehouse.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(FORECAST_DDL)
        _insert_frame(conn, "ml.demand_forecast", out)
        conn.commit()
    busiest = frame.groupby("unique_id")["y"].sum().idxmax()
    hist = frame[(frame["unique_id"] == busiest) & (frame["ds"] > frame["ds"].max() - pd.Timedelta(days=14))]
    mine = out[out["course_code"] == busiest]
    chart = forecast_chart((hist["ds"], hist["y"]), None,
                           (mine["hour_start"].dt.tz_localize(None), mine["point"], mine["lo95"], mine["hi95"]),
                           f"{busiest}: the last two weeks and the next 7 days ({model})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(out),
        "forecast_id": forecast_id,
        "model": model,
        "courses_by_model": dg.MetadataValue.json(out.groupby("model")["course_code"].nunique().to_dict()),
        "origin": str(out["origin"].iloc[0]) if len(out) else "",
        "forecast_chart": chart,
        "forecasting_seconds": round(time.perf_counter() - started, 2),
    })


# One accuracy row per forecast, model version, course and local date of the forecast hours: a function
# of that forecast's rows of that date and the actual demand of the same hours (same instants, so the
# same local date). `{where}` picks which rows are (re)computed.
_ACCURACY_SELECT = """
select
    f.forecast_id,
    f.model_version,
    f.course_code,
    (f.hour_start at time zone %(tz)s)::date                        as forecast_local_date,
    min(f.forecasted_at)                                             as forecasted_at,
    count(*)                                                         as hours_observed,
    avg(abs(d.demand - f.point))                                     as mae,
    avg(abs(d.demand - f.point)) / nullif(max(f.mase_scale), 0)      as mase,
    avg(abs(d.demand - f.seasonal_naive)) / nullif(max(f.mase_scale), 0) as mase_seasonal_naive,
    avg(case when d.demand between f.lo95 and f.hi95 then 1.0 else 0.0 end) as coverage
from ml.demand_forecast as f
join marts.fact_hourly_demand as d on d.course_code = f.course_code and d.hour_start = f.hour_start
{where}
group by 1, 2, 3, 4
"""

ACCURACY_DDL = f"""
create table if not exists ml.forecast_accuracy as {_ACCURACY_SELECT.format(where="")} with no data;
create index if not exists forecast_accuracy_date on ml.forecast_accuracy (forecast_local_date);
create index if not exists forecast_accuracy_forecast on ml.forecast_accuracy (forecast_id);
comment on table ml.forecast_accuracy is
    'Every past demand forecast against the actual demand, once it exists: MASE and 95%% coverage by course and forecast date.';
create table if not exists ml.forecast_accuracy_inputs (
    local_date  date        primary key,
    fingerprint text        not null,
    scored_at   timestamptz not null default now()
);
comment on table ml.forecast_accuracy_inputs is
    'Fingerprint of each local day of actual demand ml.forecast_accuracy was last computed from; the rows of a '
    'day whose fingerprint moved are recomputed. Truncate it to recompute every row.';
create table if not exists ml.forecast_accuracy_forecasts (
    forecast_id text        primary key,
    scored_at   timestamptz not null default now()
);
comment on table ml.forecast_accuracy_forecasts is
    'The demand forecasts ml.forecast_accuracy has scored; a forecast not in it gets all its rows computed.';
"""

# Per local day of the actuals: row count and sum of row hashes (the scheme of ml/feature_inputs.py),
# one scan of fact_hourly_demand. The timezone and the accuracy SQL are part of every day's
# fingerprint: a change to either moves every day, so every row is recomputed.
_DEMAND_DAYS = """
select (hour_start at time zone %(tz)s)::date, count(*),
       sum(hashtextextended(hash_record_extended(row(course_code, hour_start, demand), 0)::text, 0))::text
from marts.fact_hourly_demand
group by 1
"""
# The distinct forecast ids by walking the primary key (one index probe per forecast) instead of
# reading every forecast row: the table grows by a week of hours per course with every run.
_FORECAST_IDS = """
with recursive ids as (
    (select forecast_id from ml.demand_forecast order by forecast_id limit 1)
    union all
    select (select f.forecast_id from ml.demand_forecast as f where f.forecast_id > ids.forecast_id
            order by f.forecast_id limit 1)
    from ids where ids.forecast_id is not null
)
select forecast_id from ids where forecast_id is not null
"""


def _accuracy_days(cur, tz: str) -> dict[dt.date, str]:
    version = hashlib.sha256(f"{tz}|{_ACCURACY_SELECT}".encode()).hexdigest()[:16]
    cur.execute(_DEMAND_DAYS, {"tz": tz})
    return {day: f"{version}|{n}:{total}" for day, n, total in cur.fetchall()}


@dg.asset(
    key=ACCURACY_KEY,
    group_name="ml",
    kinds={"sql", "postgres"},
    pool="ml_forecast",
    deps=[FORECAST_KEY, DEMAND_KEY],
    description=(
        "Every kept demand forecast joined to the actual hourly demand once those hours exist: MAE, MASE "
        "(forecast and seasonal naive, scaled by the seasonal-naive in-sample error) and 95% interval coverage "
        "per forecast, course and local forecast date: the forecast scored on the future it predicted. Each run "
        "recomputes the rows of new forecasts and of the local days whose actual demand changed."
    ),
)
def forecast_accuracy(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    tz = warehouse.settings().timezone
    with warehouse.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(FORECAST_DDL)
            cur.execute(ACCURACY_DDL, {"tz": tz})  # the table's column types come from the query
            # Only the rows whose inputs moved: the days of actuals whose fingerprint changed (late or new
            # hours), every day of a forecast not scored yet, none of a forecast no longer kept.
            t0 = time.perf_counter()
            current = _accuracy_days(cur, tz)
            cur.execute("select local_date, fingerprint from ml.forecast_accuracy_inputs")
            stored = dict(cur.fetchall())
            days = sorted({d for d, fp in current.items() if stored.get(d) != fp} | (set(stored) - set(current)))
            cur.execute(_FORECAST_IDS)
            kept = {f for (f,) in cur.fetchall()}
            cur.execute("select forecast_id from ml.forecast_accuracy_forecasts")
            scored = {f for (f,) in cur.fetchall()}
            new, gone = sorted(kept - scored), sorted(scored - kept)
            fingerprint_seconds = round(time.perf_counter() - t0, 3)
            cur.execute("delete from ml.forecast_accuracy where forecast_local_date = any(%(days)s) "
                        "or forecast_id = any(%(forecasts)s)", {"days": days, "forecasts": new + gone})
            if days:
                cur.execute("insert into ml.forecast_accuracy " + _ACCURACY_SELECT.format(
                    where="where (d.hour_start at time zone %(tz)s)::date = any(%(days)s) "
                          "and f.forecast_id <> all(%(new)s)"), {"tz": tz, "days": days, "new": new})
                recomputed = cur.rowcount
            else:
                recomputed = 0
            if new:
                cur.execute("insert into ml.forecast_accuracy " + _ACCURACY_SELECT.format(
                    where="where f.forecast_id = any(%(new)s)"), {"tz": tz, "new": new})
                recomputed += cur.rowcount
            cur.execute("delete from ml.forecast_accuracy_inputs where local_date = any(%s)", (days,))
            cur.execute("insert into ml.forecast_accuracy_inputs (local_date, fingerprint) "
                        "select * from unnest(%s::date[], %s::text[])",
                        ([d for d in days if d in current], [current[d] for d in days if d in current]))
            cur.execute("delete from ml.forecast_accuracy_forecasts where forecast_id = any(%s)", (gone,))
            cur.execute("insert into ml.forecast_accuracy_forecasts (forecast_id) select unnest(%s::text[])", (new,))
            cur.execute("select count(*), sum(hours_observed), avg(mase), avg(mase_seasonal_naive), "
                        "sum(coverage * hours_observed) / nullif(sum(hours_observed), 0), count(distinct forecast_id) "
                        "from ml.forecast_accuracy")
            n, hours, mase, naive, coverage, forecasts = cur.fetchone()
        conn.commit()

    def num(v):
        return float(v) if v is not None else None

    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(n),
        "rows_recomputed": int(recomputed),
        "days_recomputed": len(days),
        "forecasts_new": len(new),
        "forecasts_dropped": len(gone),
        "fingerprint_seconds": fingerprint_seconds,
        "hours_observed": int(hours or 0),
        "forecasts_scored": int(forecasts),
        "mase": num(mase),
        "mase_seasonal_naive": num(naive),
        "coverage": num(coverage),
    })
