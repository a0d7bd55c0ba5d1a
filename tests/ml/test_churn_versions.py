"""Model versions, the promotion gate, rollback, blocking checks and churn alerts, on a home of their
own (these tests change data): a 150-student demo built up to ml/churn_scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from studentops_assets.ml import churn
from studentops_assets.ml.churn_assets import sync_alerts
from studentops_assets.ml.versions import sha256
from tests.conftest import HASHING_EMBEDDER, Home, free_port

CHURN = "key:ml/churn_model"
SCORES = "key:ml/churn_scores"


@pytest.fixture(scope="module")
def ml_home(tmp_path_factory):
    # The churn model reads no embeddings: the hashing embedder spares the whole graph the model's minutes.
    home = Home(tmp_path_factory.mktemp("ml-home"), free_port(), env_defaults=HASHING_EMBEDDER)
    home.cli("demo", "--students", "150", "--days", "300", "--seed", "5", "--vault-students", "1",
             "--end-date", "2026-11-15")
    # The whole graph: a dbt subset on a fresh warehouse trips relationship tests on unselected models.
    home.cli("materialize", timeout=1800)
    yield home
    home.stop()


def versions(home: Home) -> list[dict]:
    rows = home.query("select version, status, metrics, gate, artifact_path, artifact_sha256 "
                      "from ml.model_versions order by trained_at, version")
    return [dict(zip(("version", "status", "metrics", "gate", "path", "sha"), r)) for r in rows]


def test_first_training_is_recorded_and_promoted(ml_home):
    (first,) = versions(ml_home)
    assert first["status"] == "production"
    assert first["gate"]["promoted"] and first["gate"]["reason"] == "no production model yet"
    path = Path(first["path"])
    assert path.is_relative_to(ml_home.path / "artifacts") and sha256(path) == first["sha"]
    m = first["metrics"]
    assert m["roc_auc"] >= 0.75 and m["brier"] < m["brier_base_rate"]
    (n, versions_used), = ml_home.query("select count(*), array_agg(distinct model_version) from ml.churn_scores")
    assert n > 100 and versions_used == [first["version"]]
    (feature_list,), = ml_home.query("select features from ml.model_versions")
    assert feature_list[0] == "sessions_last_1w" and len(feature_list) == 13


def test_retraining_goes_through_the_gate_and_promote_rolls_back(ml_home):
    ml_home.cli("materialize", "--select", CHURN)
    first, second = versions(ml_home)[:2]
    # Same data, same seed: the candidate equals the current model on the same holdout, so it passes.
    assert second["gate"]["current_version"] == first["version"]
    assert second["gate"]["current"]["roc_auc"] == pytest.approx(second["metrics"]["roc_auc"])
    assert second["status"] == "production" and versions(ml_home)[0]["status"] == "retired"

    out = ml_home.cli("model", "promote", first["version"]).stdout
    assert f"{first['version']} is now the production churn model (was {second['version']})" in out
    status = {v["version"]: v["status"] for v in versions(ml_home)}
    assert status == {first["version"]: "production", second["version"]: "retired"}
    listing = ml_home.cli("model", "list").stdout.splitlines()
    assert listing[0].startswith("version") and len(listing) == 3
    assert any(line.startswith(first["version"]) and " production " in line for line in listing)

    ml_home.cli("materialize", "--select", SCORES)
    (used,), = ml_home.query("select array_agg(distinct model_version) from ml.churn_scores")
    assert used == [first["version"]]


def test_promote_refuses_unknown_and_altered_versions(ml_home):
    bad = ml_home.cli("model", "promote", "churn-nope", check=False)
    assert bad.returncode == 1 and "no churn model version 'churn-nope'" in bad.stderr
    retired = next(v for v in versions(ml_home) if v["status"] == "retired")
    path = Path(retired["path"])
    saved = path.with_suffix(".saved")
    shutil.copy(path, saved)
    try:
        with open(path, "ab") as handle:
            handle.write(b"tampered")
        result = ml_home.cli("model", "promote", retired["version"], check=False)
        assert result.returncode == 1 and "changed" in result.stderr and "refusing" in result.stderr
        assert next(v for v in versions(ml_home) if v["version"] == retired["version"])["status"] == "retired"
    finally:
        shutil.move(saved, path)


def test_a_candidate_below_the_floor_is_rejected_and_scores_are_not_published(ml_home):
    (scored_before,), = ml_home.query("select max(scored_at) from ml.churn_scores")
    production_before = [v["version"] for v in versions(ml_home) if v["status"] == "production"]
    result = ml_home.cli("materialize", "--select", f"{CHURN} or {SCORES}", check=False,
                         STUDENTOPS_CHURN_AUC_FLOOR="0.9999")
    assert result.returncode == 1
    assert "production_auc_floor" in result.stdout + result.stderr
    newest = versions(ml_home)[-1]
    assert newest["status"] == "rejected" and "below the floor" in newest["gate"]["reason"]
    assert [v["version"] for v in versions(ml_home) if v["status"] == "production"] == production_before
    # The blocking check stopped ml/churn_scores: nothing new was published.
    assert ml_home.query("select max(scored_at) from ml.churn_scores") == [(scored_before,)]


def test_high_risk_alerts_open_once_and_resolve(ml_home):
    from resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(home=str(ml_home.path))
    student = "11111111-2222-3333-4444-555555555555"
    reasons = json.dumps([{"feature": "days_since_last_activity", "contribution": 1.2,
                           "text": "no activity for 23 days (typical: 3)"}] * 3)

    def scores(tier: str, p: float) -> pl.DataFrame:
        return pl.DataFrame({"student_id": [student], "probability": [p], "risk_tier": [tier], "reasons": [reasons]})

    def alerts():
        return ml_home.query("select status, severity, summary from meta.alerts where alert_type = 'churn_high_risk' "
                             "and entity_type = 'student' and entity_id = %s order by alert_id", (student,))

    with warehouse.connection() as conn:
        assert sync_alerts(conn, scores("high", 0.7), "2026-11-16", "v")["opened"] == 1
        conn.commit()
        assert sync_alerts(conn, scores("high", 0.8), "2026-11-23", "v")["opened"] == 0  # no duplicate
        conn.commit()
    (only,) = alerts()
    assert only[0] == "open" and only[1] == "critical" and "no activity for 23 days (typical: 3)" in only[2]
    ml_home.query("update meta.alerts set status = 'acknowledged', acknowledged_at = now() "
                  "where entity_id = %s", (student,))
    with warehouse.connection() as conn:
        assert sync_alerts(conn, scores("high", 0.5), "2026-11-30", "v")["opened"] == 0  # acknowledged counts
        result = sync_alerts(conn, scores("medium", 0.2), "2026-12-07", "v")
        conn.commit()
    assert result["resolved"] == 1 and [a[0] for a in alerts()] == ["resolved"]
    with warehouse.connection() as conn:
        assert sync_alerts(conn, scores("high", 0.4), "2026-12-14", "v")["opened"] == 1  # back in the tier
        conn.commit()
    assert [(a[0], a[1]) for a in alerts()] == [("resolved", "critical"), ("open", "warning")]


def test_the_real_scores_alert_exactly_the_high_tier(ml_home):
    high = ml_home.query("select student_id::text from ml.churn_scores where risk_tier = 'high' and as_of_date = "
                         "(select max(as_of_date) from ml.churn_scores) order by 1")
    open_alerts = ml_home.query("select entity_id from meta.alerts where alert_type = 'churn_high_risk' "
                                "and status <> 'resolved' and entity_id in (select student_id::text from ml.churn_scores) "
                                "order by 1")
    assert high and open_alerts == high


def test_gate_rules():
    current = {"roc_auc": 0.90, "brier": 0.040}
    assert churn.gate({"roc_auc": 0.80, "brier": 0.05}, None)[0]
    assert churn.gate({"roc_auc": 0.895, "brier": 0.039}, current)[0]
    assert not churn.gate({"roc_auc": 0.885, "brier": 0.030}, current)[0]
    assert not churn.gate({"roc_auc": 0.95, "brier": 0.041}, current)[0]


def test_forecast_accuracy_scores_past_forecasts_on_what_happened(ml_home):
    from studentops_assets.ml.forecast_assets import FORECAST_DDL

    # A forecast "made" two days before the data ends, off by exactly one session every hour; its
    # interval holds the actual in the even hours only; seasonal naive is off by two.
    ml_home.query(FORECAST_DDL)
    ml_home.query(
        "insert into ml.demand_forecast select 'fc-test', course_code, hour_start, demand + 1, "
        "case when extract(hour from hour_start)::int % 2 = 0 then demand - 0.5 else demand + 0.5 end, demand + 2, "
        "demand + 2, 'hgb_conformal', 'hgb_conformal@test', (select max(hour_start) from marts.fact_hourly_demand) "
        "- interval '47 hours', 0.5, now() - interval '2 days' from marts.fact_hourly_demand "
        "where course_code = (select min(course_code) from marts.fact_hourly_demand) "
        "and hour_start > (select max(hour_start) from marts.fact_hourly_demand) - interval '48 hours'")
    ml_home.cli("materialize", "--select", "key:ml/forecast_accuracy")
    rows = ml_home.query("select hours_observed, mae, mase, mase_seasonal_naive, coverage from ml.forecast_accuracy "
                         "where forecast_id = 'fc-test' order by forecast_local_date")
    assert sum(r[0] for r in rows) == 48
    for hours, mae, mase, naive, coverage in rows:
        assert mae == pytest.approx(1.0) and mase == pytest.approx(2.0) and naive == pytest.approx(4.0)
    total = sum(r[0] * r[4] for r in rows) / 48
    assert total == pytest.approx(0.5)
