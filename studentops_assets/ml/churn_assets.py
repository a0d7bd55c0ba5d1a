"""`ml/churn_model` (train, version, gate) and `ml/churn_scores` (score, explain, alert), with checks."""


import datetime as dt
import json
import os
import time

import dagster as dg
import numpy as np
import polars as pl

from resources.warehouse import WarehouseResource

from .freshness_policies import ML_WEEKLY
from . import churn, versions, warehouse_reads
from .charts import calibration_chart
from .drift import drift_report
from .features import FEATURES, churn_labels
from .versions import ArtifactStore

MODEL_KEY = dg.AssetKey(["ml", "churn_model"])
SCORES_KEY = dg.AssetKey(["ml", "churn_scores"])
FEATURES_KEY = dg.AssetKey(["ml", "student_features"])


def auc_floor() -> float:
    """The AUC a published model must reach (STUDENTOPS_CHURN_AUC_FLOOR, default 0.75)."""
    return float(os.environ.get("STUDENTOPS_CHURN_AUC_FLOOR", "0.75"))


class ChurnTrainingConfig(dg.Config):
    horizon_days: int = 60
    operating_threshold: float = 0.3
    auc_tolerance: float = 0.01
    seed: int = 0


class ChurnScoringConfig(dg.Config):
    medium_threshold: float = 0.1
    high_threshold: float = 0.3


def _labelled(conn, horizon_days: int) -> tuple[pl.DataFrame, dt.date]:
    wm = warehouse_reads.watermark(conn)
    if wm is None:
        raise churn.NotEnoughHistory("no viewing sessions in the warehouse yet: nothing to learn from")
    rows = warehouse_reads.stored_features(conn, "is_active and as_of_date <= %s", [wm])
    if rows.height == 0:
        raise churn.NotEnoughHistory("ml.student_features has no active rows: materialise its partitions first")
    daily = warehouse_reads.daily_engagement(conn, rows["as_of_date"].min(), wm)
    labels = churn_labels(daily, rows.select("student_id", "as_of_date"), horizon_days, wm)
    return rows.join(labels, on=["student_id", "as_of_date"], how="inner"), wm


@dg.asset(
    key=MODEL_KEY,
    group_name="ml",
    kinds={"scikitlearn", "python", "postgres"},
    pool="ml_training",
    freshness_policy=ML_WEEKLY,
    deps=[FEATURES_KEY, dg.AssetKey(["marts", "fact_daily_engagement"])],
    description=(
        "The churn (disengagement) model: calibrated logistic regression with balanced class weights (the "
        "interpretable champion family) and a gradient-boosting challenger, trained on older weekly as-of dates "
        "and tested on the newest labelled ones (label: no platform activity in the next horizon_days). Each "
        "training is a version in ml.model_versions with its artifact file and hash; it replaces the production "
        "model only through the promotion gate."
    ),
)
def churn_model(context: dg.AssetExecutionContext, config: ChurnTrainingConfig, warehouse: WarehouseResource,
                artifacts: ArtifactStore) -> dg.MaterializeResult:
    started = time.perf_counter()
    with warehouse.connection() as conn:
        versions.ensure_table(conn)
        conn.commit()
        try:
            data, wm = _labelled(conn, config.horizon_days)
            trained = churn.train(data, config.horizon_days, config.operating_threshold, config.seed)
        except churn.NotEnoughHistory as exc:
            # A young warehouse is not an error: no version is recorded, nothing will be scored.
            context.log.warning(f"no churn model trained: {exc}")
            return dg.MaterializeResult(metadata={"trained": False, "reason": str(exc)})
        train_s = time.perf_counter() - started
        candidate = trained.champion_metrics

        current = versions.production(conn)
        current_metrics = None
        if current is not None:
            # The current model is judged on the candidate's holdout, so the gate compares like with like.
            try:
                bundle = versions.load_artifact(current)
                x = churn.matrix(trained.test_frame, bundle["features"])
                p = bundle["model"].predict_proba(x)[:, 1]
                current_metrics = churn.metrics(trained.test_frame["churned"].cast(pl.Int8).to_numpy(), p,
                                                config.operating_threshold)
            except Exception as exc:  # noqa: BLE001 - a broken current model must not block a good candidate
                context.log.warning(f"current model {current['version']} cannot be re-scored ({exc}); "
                                    "using its recorded metrics")
                current_metrics = current["metrics"]

        floor = auc_floor()
        problems = []
        if candidate["roc_auc"] is None or candidate["roc_auc"] < floor:
            problems.append(f"AUC {candidate['roc_auc']} below the floor {floor}")
        if candidate["brier"] >= candidate["brier_base_rate"]:
            problems.append(f"Brier {candidate['brier']} not below the base rate's {candidate['brier_base_rate']}")
        passed_gate, gate_reason = churn.gate(candidate, current_metrics, config.auc_tolerance)
        promote = passed_gate and not problems
        reason = "; ".join(problems) if problems else gate_reason

        now = dt.datetime.now(dt.timezone.utc)
        version = f"churn-{now:%Y%m%dT%H%M%S}Z"
        bundle = {"version": version, "model": trained.champion, "explainer": trained.explainer,
                  "features": list(FEATURES), "typical": trained.typical}
        path, digest = artifacts.save(versions.CHURN_MODEL, version, bundle)
        decision = {"promoted": promote, "reason": reason, "candidate": candidate, "current": current_metrics,
                    "current_version": current["version"] if current else None, "auc_floor": floor,
                    "auc_tolerance": config.auc_tolerance}
        versions.record(
            conn, version=version, model_name=versions.CHURN_MODEL, family="logistic_regression",
            status="candidate" if promote else "rejected", trained_at=now, params=trained.params,
            features=list(FEATURES), train_start=trained.split.train_window[0], train_end=trained.split.train_window[1],
            test_start=trained.split.test_window[0], test_end=trained.split.test_window[1], metrics=candidate,
            challenger_metrics=trained.challenger_metrics, gate=decision, artifact_path=str(path),
            artifact_sha256=digest,
        )
        if promote:
            versions.promote(conn, version)
        conn.commit()
        live = versions.production(conn)

    def brief(m: dict | None) -> dict | None:
        return None if m is None else {k: v for k, v in m.items() if k != "calibration_bins"}

    context.log.info(f"{version}: AUC {candidate['roc_auc']}, Brier {candidate['brier']} "
                     f"(base rate {candidate['brier_base_rate']}); promoted={promote}: {reason}")
    return dg.MaterializeResult(metadata={
        "version": version,
        "production_version": live["version"] if live else "none",
        "promoted": promote,
        "gate_decision": dg.MetadataValue.json(decision),
        "roc_auc": candidate["roc_auc"],
        "pr_auc": candidate["pr_auc"],
        "brier": candidate["brier"],
        "brier_base_rate": candidate["brier_base_rate"],
        "precision_at_threshold": candidate["precision_at_threshold"],
        "recall_at_threshold": candidate["recall_at_threshold"],
        "champion_metrics": dg.MetadataValue.json(brief(candidate)),
        "challenger_metrics": dg.MetadataValue.json(brief(trained.challenger_metrics)),
        "calibration_bins": dg.MetadataValue.json(candidate["calibration_bins"]),
        "calibration_curve": calibration_chart(candidate["calibration_bins"], "logistic regression (calibrated)"),
        "train_window": f"{trained.split.train_window[0]} .. {trained.split.train_window[1]}",
        "test_window": f"{trained.split.test_window[0]} .. {trained.split.test_window[1]}",
        "data_watermark": str(wm),
        "features": dg.MetadataValue.json(list(FEATURES)),
        "artifact_sha256": digest,
        "training_seconds": round(train_s, 2),
    })


def _production_metrics(warehouse: WarehouseResource) -> tuple[dict | None, dict | None, int]:
    with warehouse.connection() as conn:
        live = versions.production(conn)
        trained = len(versions.list_versions(conn))
    return live, (live or {}).get("metrics"), trained


_NEVER_TRAINED = ("no churn model trained yet (the history is too short for a labelled holdout): "
                  "nothing is scored, so nothing is published")


@dg.asset_check(asset=MODEL_KEY, name="production_auc_floor", blocking=True,
                description="The production churn model's holdout ROC-AUC is at least the floor "
                            "(STUDENTOPS_CHURN_AUC_FLOOR, default 0.75); scores wait for it.")
def production_auc_floor(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    live, m, trained = _production_metrics(warehouse)
    floor = auc_floor()
    if live is None:
        if trained == 0:
            return dg.AssetCheckResult(passed=True, description=_NEVER_TRAINED, metadata={"applicable": False})
        return dg.AssetCheckResult(passed=False, description="no production churn model (none passed the gate)")
    auc = m.get("roc_auc") or 0.0
    return dg.AssetCheckResult(passed=auc >= floor, metadata={"version": live["version"], "roc_auc": auc, "floor": floor},
                               description=f"{live['version']}: AUC {auc:.4f} vs floor {floor}")


@dg.asset_check(asset=MODEL_KEY, name="production_brier_below_base_rate", blocking=True,
                description="The production churn model's holdout Brier score is below that of always predicting "
                            "the base rate (it knows more than the average).")
def production_brier_below_base_rate(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    live, m, trained = _production_metrics(warehouse)
    if live is None:
        if trained == 0:
            return dg.AssetCheckResult(passed=True, description=_NEVER_TRAINED, metadata={"applicable": False})
        return dg.AssetCheckResult(passed=False, description="no production churn model (none passed the gate)")
    return dg.AssetCheckResult(
        passed=m["brier"] < m["brier_base_rate"],
        metadata={"version": live["version"], "brier": m["brier"], "brier_base_rate": m["brier_base_rate"]},
        description=f"{live['version']}: Brier {m['brier']:.4f} vs base rate {m['brier_base_rate']:.4f}",
    )


SCORES_DDL = """
create table if not exists ml.churn_scores (
    student_id    uuid             not null,
    as_of_date    date             not null,
    probability   double precision not null check (probability between 0 and 1),
    risk_tier     text             not null check (risk_tier in ('low', 'medium', 'high')),
    model_version text             not null,
    reasons       jsonb            not null,
    scored_at     timestamptz      not null,
    primary key (student_id, as_of_date)
);
comment on table ml.churn_scores is
    'Churn probability per active student per as-of date, its risk tier, model version and top 3 reasons.';
"""


def latest_scoring_date(conn) -> dt.date | None:
    wm = warehouse_reads.watermark(conn)
    with conn.cursor() as cur:
        cur.execute("select max(as_of_date) from ml.student_features where is_active and as_of_date <= %s", (wm,))
        return cur.fetchone()[0]


def sync_alerts(conn, scores: pl.DataFrame, as_of: dt.date, version: str) -> dict[str, int]:
    """Open one alert per student newly in the high tier (an open or acknowledged one is kept, never
    duplicated: the partial unique index of meta.alerts), resolve those of scored students who left it.
    Students not scored at all (no longer active) keep theirs: leaving the platform is not recovery."""
    high = scores.filter(pl.col("risk_tier") == "high")
    opened = 0
    with conn.cursor() as cur:
        for row in high.iter_rows(named=True):  # one statement per high-risk student: a handful a week
            details = {"probability": round(row["probability"], 4), "as_of_date": str(as_of), "model_version": version,
                       "reasons": json.loads(row["reasons"])}
            cur.execute(
                "insert into meta.alerts (alert_type, severity, entity_type, entity_id, summary, details) "
                "values ('churn_high_risk', %s, 'student', %s, %s, %s) "
                "on conflict (alert_type, entity_type, entity_id) where status <> 'resolved' do nothing",
                ("critical" if row["probability"] >= 0.6 else "warning", row["student_id"],
                 f"High risk of disengaging ({row['probability']:.0%}): {details['reasons'][0]['text']}",
                 json.dumps(details)),
            )
            opened += cur.rowcount
        cur.execute(
            "update meta.alerts set status = 'resolved', resolved_at = now() "
            "where alert_type = 'churn_high_risk' and entity_type = 'student' and status <> 'resolved' "
            "and entity_id = any(%s)",
            (scores.filter(pl.col("risk_tier") != "high")["student_id"].to_list(),),
        )
        resolved = cur.rowcount
        cur.execute("select count(*) from meta.alerts where alert_type = 'churn_high_risk' and status <> 'resolved'")
        still_open = cur.fetchone()[0]
    return {"opened": opened, "resolved": resolved, "open": still_open}


@dg.asset(
    key=SCORES_KEY,
    group_name="ml",
    kinds={"scikitlearn", "python", "postgres"},
    pool="ml_scoring",
    deps=[MODEL_KEY, FEATURES_KEY],
    description=(
        "Churn probability for every active student at the latest as-of date, from the production model only "
        "(blocking checks on ml/churn_model stop this asset when that model fails them): risk tier, model "
        "version and the top 3 reasons as signed contributions (coefficient x standardised value) in words. "
        "Students entering the high tier open a churn_high_risk alert in meta.alerts; leaving it resolves it."
    ),
)
def churn_scores(context: dg.AssetExecutionContext, config: ChurnScoringConfig,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    with warehouse.connection() as conn:
        live = versions.production(conn)
        if live is None:
            if versions.list_versions(conn):
                raise churn.NotEnoughHistory("no production churn model: nothing may be scored")
            context.log.warning("no churn model trained yet: nothing scored")
            return dg.MaterializeResult(metadata={"dagster/row_count": 0, "reason": _NEVER_TRAINED})
        bundle = versions.load_artifact(live)
        as_of = latest_scoring_date(conn)
        if as_of is None:
            raise churn.NotEnoughHistory("no active students in ml.student_features to score")
        rows = warehouse_reads.stored_features(conn, "is_active and as_of_date = %s", [as_of]).sort("student_id")
        x = churn.matrix(rows, bundle["features"])
        p = bundle["model"].predict_proba(x)[:, 1]
        reasons = churn.top_reasons(bundle["explainer"], x, bundle["typical"], bundle["features"])
        scored_at = dt.datetime.now(dt.timezone.utc)
        scores = pl.DataFrame({
            "student_id": rows["student_id"],
            "as_of_date": rows["as_of_date"],
            "probability": np.round(p, 6),
            "risk_tier": churn.risk_tier(p, config.medium_threshold, config.high_threshold),
            "model_version": [live["version"]] * rows.height,
            "reasons": [json.dumps(r) for r in reasons],
            "scored_at": pl.Series([scored_at] * rows.height, dtype=pl.Datetime("us", "UTC")),
        })
        from .tables import copy_frame

        with conn.cursor() as cur:
            cur.execute(SCORES_DDL)
            cur.execute("delete from ml.churn_scores where as_of_date = %s", (as_of,))
        copy_frame(conn, "ml.churn_scores", scores)
        alerts = sync_alerts(conn, scores, as_of, live["version"])
        conn.commit()
    tiers = scores.group_by("risk_tier").len().to_dicts()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": scores.height,
        "as_of_date": str(as_of),
        "model_version": live["version"],
        "tiers": dg.MetadataValue.json({t["risk_tier"]: t["len"] for t in tiers}),
        "alerts": dg.MetadataValue.json(alerts),
        "thresholds": dg.MetadataValue.json({"medium": config.medium_threshold, "high": config.high_threshold}),
        "scoring_seconds": round(time.perf_counter() - started, 2),
    })


@dg.asset_check(asset=SCORES_KEY, name="scores_from_production_model", blocking=True,
                description="Every score of the latest as-of date comes from the current production model, "
                            "one row per active student, probabilities in [0, 1] and three reasons each.")
def scores_from_production_model(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        live = versions.production(conn)
        if live is None and not versions.list_versions(conn):
            return dg.AssetCheckResult(passed=True, description=_NEVER_TRAINED, metadata={"applicable": False})
        as_of = latest_scoring_date(conn)
        with conn.cursor() as cur:
            cur.execute(
                "select count(*), count(*) filter (where model_version <> %s), "
                "count(*) filter (where jsonb_array_length(reasons) <> 3), "
                "(select count(*) from ml.student_features where is_active and as_of_date = %s) "
                "from ml.churn_scores where as_of_date = %s",
                ((live or {}).get("version", ""), as_of, as_of),
            )
            n, foreign, bad_reasons, active = cur.fetchone()
    ok = live is not None and n == active and foreign == 0 and bad_reasons == 0 and n > 0
    return dg.AssetCheckResult(passed=ok, metadata={"rows": n, "active_students": active, "other_version": foreign,
                                                    "rows_without_3_reasons": bad_reasons},
                               description=f"{n} scores for {active} active students at {as_of}")


@dg.asset_check(asset=SCORES_KEY, name="feature_drift_psi", additional_deps=[FEATURES_KEY],
                description="Population stability index of each feature between the production model's training "
                            "window and the latest scored as-of date; warns above 0.2.")
def feature_drift_psi(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        live = versions.production(conn)
        as_of = latest_scoring_date(conn)
        if live is None or as_of is None:
            return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"applicable": False},
                                       description="no production model or no scored as-of date: no drift to measure")
        train = warehouse_reads.stored_features(conn, "is_active and as_of_date between %s and %s",
                                                [live["train_start"], live["train_end"]])
        latest = warehouse_reads.stored_features(conn, "is_active and as_of_date = %s", [as_of])
    report = drift_report(train, latest, live["features"])
    drifted = {f: v for f, v in report.items() if v > 0.2}
    return dg.AssetCheckResult(
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"psi": dg.MetadataValue.json(report), "max_psi": max(report.values()) if report else 0.0,
                  "training_window": f"{live['train_start']} .. {live['train_end']}", "latest_as_of": str(as_of)},
        description=(f"PSI above 0.2 for {', '.join(sorted(drifted))}" if drifted
                     else f"every feature's PSI <= 0.2 (max {max(report.values()) if report else 0:.3f})"),
    )
