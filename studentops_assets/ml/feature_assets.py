"""`ml/student_features`: one row per student per weekly as-of date, a partition per study week."""


import datetime as dt
import time
import warnings

import dagster as dg

from resources.warehouse import WarehouseResource

from .freshness_policies import ML_WEEKLY
from . import warehouse_reads
from . import feature_inputs
from .features import FEATURES, LOOKBACK_DAYS, empty_features, features_for
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
            f"many weeks runs as one run. A week whose inputs (engagement and course views in its {LOOKBACK_DAYS}-day "
            "window, the students, the feature code) are unchanged since it was computed keeps its rows and is "
            "not recomputed (ml.student_features_inputs; delete a week's row there to force it)."
        ),
    )
    def student_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = time.perf_counter()
        dates = sorted(as_of_date(k) for k in context.partition_keys)
        with warehouse.connection() as conn:
            # One snapshot for the fingerprints, the reads and the write: the rows stored beside a
            # fingerprint are computed from exactly the data it describes, even if dbt writes meanwhile.
            conn.set_session(isolation_level="REPEATABLE READ")
            ensure_schema(conn)
            with conn.cursor() as cur:
                cur.execute(DDL)
                cur.execute(feature_inputs.DDL)
            current = feature_inputs.fingerprints(conn, dates)
            kept = feature_inputs.stored(conn, dates)
            changed = [d for d in dates if kept.get(d) != current[d]]
            fingerprint_s = time.perf_counter() - started
            frame, read_s, compute_s = empty_features(), 0.0, 0.0
            if changed:
                # Only the window the changed weeks need (their dates may be far apart; the range
                # between them is read once, and features_for computes the changed dates only).
                since = changed[0] - dt.timedelta(days=LOOKBACK_DAYS)
                daily = warehouse_reads.daily_engagement(conn, since, changed[-1])
                views = warehouse_reads.course_views(conn, since, changed[-1])
                people = warehouse_reads.students(conn)
                read_s = time.perf_counter() - started - fingerprint_s
                frame = features_for(daily, views, people, changed)
                compute_s = time.perf_counter() - started - fingerprint_s - read_s
                with conn.cursor() as cur:
                    # A recomputed week is replaced whole: a rerun gives the same rows, never twice.
                    cur.execute("delete from ml.student_features where as_of_date = any(%s)", (changed,))
                copy_frame(conn, "ml.student_features", frame)
                feature_inputs.record(conn, {d: current[d] for d in changed})
            conn.commit()
        active = int(frame["is_active"].sum()) if frame.height else 0
        context.log.info(
            f"{len(changed)} of {len(dates)} weeks recomputed ({len(dates) - len(changed)} unchanged inputs), "
            f"{frame.height} rows in {time.perf_counter() - started:.1f}s"
        )
        # One materialisation per week of the range, all with this metadata: the rows are the run's, not a
        # week's (so not `dagster/row_count`, which would be summed once per week).
        return dg.MaterializeResult(metadata={
            "weeks_recomputed": len(changed),
            "weeks_unchanged": len(dates) - len(changed),
            "rows_in_run": frame.height,  # rows written: the recomputed weeks'
            "as_of_dates": dg.MetadataValue.text(f"{dates[0]} .. {dates[-1]} ({len(dates)} weeks)"),
            "recomputed_as_of_dates": dg.MetadataValue.text(
                f"{changed[0]} .. {changed[-1]}" if changed else "none"),
            "active_rows": active,
            "features": dg.MetadataValue.json(FEATURES),
            "fingerprint_seconds": round(fingerprint_s, 2),
            "read_seconds": round(read_s, 2),
            "compute_seconds": round(compute_s, 2),
        })

    return student_features
