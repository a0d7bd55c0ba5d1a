"""`ml/student_features`: one row per student per weekly as-of date, a partition per study week."""


import datetime as dt
import time
import warnings

import dagster as dg

from resources.warehouse import WarehouseResource

from .freshness_policies import ML_WEEKLY
from . import warehouse_reads
from .features import FEATURES, LOOKBACK_DAYS, features_for
from .tables import copy_frame, ensure_schema

# The first study week with a partition: the start of academic year 2025/26. Weeks before any data
# hold no students and cost nothing.
FIRST_WEEK = "2025-09-01"

WEEK = dt.timedelta(days=7)


def study_weeks(timezone: str) -> dg.WeeklyPartitionsDefinition:
    """Weeks run Monday to Monday in the study timezone. The timezone is part of the definition (Dagster
    needs it to cut the weeks), so the asset is built when the code location loads, as the schedules are."""
    return dg.WeeklyPartitionsDefinition(start_date=FIRST_WEEK, timezone=timezone, day_offset=1)


DDL = f"""
create table if not exists ml.student_features (
    student_id uuid not null,
    as_of_date date not null,
    {", ".join(f"{f} double precision not null" for f in FEATURES)},
    is_active boolean not null,
    computed_at timestamptz not null default now(),
    primary key (as_of_date, student_id)
);
comment on table ml.student_features is
    'Churn features per student per weekly as-of date, from events strictly before that date.';
"""


def as_of_date(partition_key: str) -> dt.date:
    """A week's as-of date is the day after it ends: its features see the whole week, nothing later.
    The key is the week's first (local) day, so the date is the same in every timezone."""
    return dt.date.fromisoformat(partition_key) + WEEK


def _asset(**kwargs):
    # `backfill_policy` is marked beta in 1.13; single-run backfills are what the issue asks for.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(**kwargs)


def build_student_features(timezone: str) -> dg.AssetsDefinition:
    """`ml/student_features` partitioned by the study weeks of `timezone` (the code location's)."""

    @_asset(
        key=["ml", "student_features"],
        group_name="ml",
        kinds={"python", "polars", "postgres"},
        partitions_def=study_weeks(timezone),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="ml_features",
        freshness_policy=ML_WEEKLY,
        deps=[dg.AssetKey(["marts", "fact_daily_engagement"]), dg.AssetKey(["marts", "fact_material_views"]),
              dg.AssetKey(["marts", "dim_students"])],
        description=(
            "Churn features per student as of the Monday after each study week (weekly partitions in the study "
            "timezone): sessions in the last 1 and 4 weeks, days since last activity, active minutes, completion "
            "rate and its 2-vs-4-week trend, XP velocity, tasks, notes, calendar study minutes, tenure and active "
            "courses, all from events strictly before the as-of date. A new week adds a partition; a backfill of "
            "many weeks runs as one run."
        ),
    )
    def student_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = time.perf_counter()
        dates = sorted(as_of_date(k) for k in context.partition_keys)
        since = dates[0] - dt.timedelta(days=LOOKBACK_DAYS)
        with warehouse.connection() as conn:
            daily = warehouse_reads.daily_engagement(conn, since, dates[-1])
            views = warehouse_reads.course_views(conn, since, dates[-1])
            people = warehouse_reads.students(conn)
            read_s = time.perf_counter() - started
            frame = features_for(daily, views, people, dates)
            compute_s = time.perf_counter() - started - read_s
            ensure_schema(conn)
            with conn.cursor() as cur:
                cur.execute(DDL)
                # The partitions of this run are replaced whole: a rerun gives the same rows, never twice.
                cur.execute("delete from ml.student_features where as_of_date = any(%s)", (dates,))
            copy_frame(conn, "ml.student_features", frame)
            conn.commit()
        active = int(frame["is_active"].sum()) if frame.height else 0
        context.log.info(f"{len(dates)} weeks, {frame.height} rows in {time.perf_counter() - started:.1f}s")
        # One materialisation per week of the range, all with this metadata: the rows are the run's, not a
        # week's (so not `dagster/row_count`, which would be summed once per week).
        return dg.MaterializeResult(metadata={
            "rows_in_run": frame.height,
            "as_of_dates": dg.MetadataValue.text(f"{dates[0]} .. {dates[-1]} ({len(dates)} weeks)"),
            "active_rows": active,
            "features": dg.MetadataValue.json(FEATURES),
            "read_seconds": round(read_s, 2),
            "compute_seconds": round(compute_s, 2),
        })

    return student_features
