"""The `ml` group: features, the churn model and its scores, the demand forecast and its scores."""

import dagster as dg

from .churn_assets import (
    churn_model,
    churn_scores,
    feature_drift_psi,
    production_auc_floor,
    production_brier_below_base_rate,
    scores_from_production_model,
)
from .feature_assets import build_student_features
from .forecast_assets import (
    demand_forecast,
    forecast_accuracy,
    forecast_backtest,
    interval_coverage_95,
    mase_below_seasonal_naive,
)



def ml_definitions(timezone: str) -> dg.Definitions:
    """Built when the code location loads: the feature partitions are study weeks in `timezone`."""
    return dg.Definitions(
        assets=[build_student_features(timezone), churn_model, churn_scores, forecast_backtest, demand_forecast,
                forecast_accuracy],
        asset_checks=[production_auc_floor, production_brier_below_base_rate, scores_from_production_model,
                      feature_drift_psi, mase_below_seasonal_naive, interval_coverage_95],
    )
