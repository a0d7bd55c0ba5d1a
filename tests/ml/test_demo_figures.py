"""The issue's "done when" figures, read from the ml.* tables (and the asset metadata) of the shared,
fully materialised demo: `studentops materialize` built all of it, features partitions included."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture(scope="module")
def demo(shared_demo):
    return shared_demo


def test_churn_model_on_the_time_based_holdout(demo):
    (version, metrics, train_end, test_start, params), = demo.query(
        "select version, metrics, train_end, test_start, params from ml.model_versions where status = 'production'")
    assert metrics["roc_auc"] >= 0.85
    assert metrics["brier"] < metrics["brier_base_rate"]
    assert metrics["positives"] >= 20 and params["train_positives"] >= 10
    # The embargo: every training label was known when the test window starts.
    assert train_end + dt.timedelta(days=params["horizon_days"]) <= test_start


def test_forecast_backtest_beats_seasonal_naive_with_honest_intervals(demo):
    rows = demo.query("select model, mase, coverage, chosen, jsonb_array_length(origins) from ml.forecast_backtest "
                      "where scope = 'overall' and backtest_id = (select max(backtest_id) from ml.forecast_backtest)")
    by_model = {r[0]: r for r in rows}
    (chosen,) = [r for r in rows if r[3]]
    assert chosen[4] >= 4
    assert chosen[1] < 0.9 and chosen[1] < by_model["seasonal_naive"][1]
    assert 0.90 <= chosen[2] <= 0.99
    assert len(by_model) >= 3  # two candidates and the baseline
    (series,), = demo.query("select count(distinct course_code) from ml.forecast_backtest where scope = 'series'")
    assert series == 40


def test_every_feature_week_was_built_in_one_run(demo):
    (weeks, latest), = demo.query("select count(distinct as_of_date), max(as_of_date) from ml.student_features")
    assert weeks >= 60 and latest.weekday() == 0  # the Monday after each study week


def test_churn_scores_contract(demo):
    (as_of,), = demo.query("select max(as_of_date) from ml.churn_scores")
    assert as_of == dt.date(2026, 11, 16)  # the first as-of date after the demo's last day
    (n, students, bad_p, tiers, bad_reasons), = demo.query(
        "select count(*), count(distinct student_id), count(*) filter (where probability not between 0 and 1), "
        "array_agg(distinct risk_tier order by risk_tier), "
        "count(*) filter (where jsonb_array_length(reasons) <> 3) from ml.churn_scores where as_of_date = %s", (as_of,))
    (active,), = demo.query("select count(*) from ml.student_features where is_active and as_of_date = %s", (as_of,))
    assert n == students == active and bad_p == 0 and bad_reasons == 0
    assert set(tiers) <= {"high", "low", "medium"} and "high" in tiers
    (reasons,), = demo.query("select reasons from ml.churn_scores where as_of_date = %s order by probability desc limit 1",
                             (as_of,))
    assert [r["contribution"] for r in reasons] == sorted((r["contribution"] for r in reasons), reverse=True)
    assert all("typical" in r["text"] for r in reasons)


def test_demand_forecast_seven_days_per_course(demo):
    (hours, courses, bad, first, last), = demo.query(
        "select count(*), count(distinct course_code), count(*) filter (where not (lo95 <= point and point <= hi95)), "
        "min(hour_start), max(hour_start) from ml.demand_forecast "
        "where forecast_id = (select max(forecast_id) from ml.demand_forecast)")
    assert courses == 40 and hours == 40 * 168 and bad == 0
    assert last - first == dt.timedelta(hours=167)
    (latest_actual,), = demo.query("select max(hour_start) from marts.fact_hourly_demand")
    assert first == latest_actual + dt.timedelta(hours=1)


def test_figures_and_charts_are_in_the_asset_metadata(demo):
    dagster = demo.db_url("--database", "dagster")

    def latest_event(key: str) -> str:
        (event,), = demo.query(
            "select event from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' and asset_key = %s "
            "order by id desc limit 1", (f'["ml", "{key}"]',), url=dagster)
        return event

    model = latest_event("churn_model")
    for name in ("roc_auc", "pr_auc", "brier_base_rate", "precision_at_threshold", "gate_decision", "challenger_metrics"):
        assert f'"{name}"' in model
    assert "calibration_curve" in model and "data:image/png;base64," in model
    backtest = latest_event("forecast_backtest")
    assert "mase_seasonal_naive" in backtest and "coverage" in backtest and "data:image/png;base64," in backtest
    assert "data:image/png;base64," in latest_event("demand_forecast")
