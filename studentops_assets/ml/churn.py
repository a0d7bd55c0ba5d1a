"""The churn (disengagement) model: a time-based split, a calibrated logistic-regression champion
family and a gradient-boosting challenger, the metrics they are judged by, and per-student reasons.

Everything here is a pure function of frames, so the asset, the tests and a notebook share it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .features import FEATURES
from .threads import ml_threads

TEST_WEEKS = 6
MIN_TRAIN_ROWS = 50


@dataclass(frozen=True)
class Split:
    """Train on older as-of dates, test on the newest labelled ones. Train as-of dates end a full
    label horizon before the test starts (an embargo): a training label is then known on the first
    test day, and no training label looks into the test period."""

    train_as_of: list[dt.date]
    test_as_of: list[dt.date]

    @property
    def train_window(self) -> tuple[dt.date, dt.date]:
        return min(self.train_as_of), max(self.train_as_of)

    @property
    def test_window(self) -> tuple[dt.date, dt.date]:
        return min(self.test_as_of), max(self.test_as_of)


class NotEnoughHistory(ValueError):
    pass


def time_split(labelled_as_of: list[dt.date], horizon_days: int, test_weeks: int = TEST_WEEKS) -> Split:
    dates = sorted(set(labelled_as_of))
    if len(dates) < test_weeks + 2:
        raise NotEnoughHistory(
            f"{len(dates)} labelled as-of dates; a time-based holdout needs at least {test_weeks + 2} "
            f"(a longer history: the demo's --days)"
        )
    test = dates[-test_weeks:]
    train = [d for d in dates if d + dt.timedelta(days=horizon_days) <= test[0]]
    if len(train) < 2:
        raise NotEnoughHistory(
            f"only {len(train)} as-of dates end a {horizon_days}-day horizon before the test window "
            f"starts on {test[0]}: the history is too short for an honest holdout"
        )
    return Split(train, test)


def champion_pipeline(seed: int = 0) -> Pipeline:
    return Pipeline([
        ("scale", StandardScaler()),
        ("model", LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)),
    ])


def challenger_model(seed: int = 0) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                          class_weight="balanced", random_state=seed)


def calibrated(estimator, n_splits: int = 3) -> CalibratedClassifierCV:
    """Class weights push raw probabilities up; sigmoid calibration on folds of the training window
    brings them back to observed frequencies. The folds are stratified (the early weeks of a history
    can hold no churn at all, which a time-series fold cannot fit); they never reach the holdout."""
    return CalibratedClassifierCV(estimator, method="sigmoid", cv=StratifiedKFold(n_splits=n_splits))


def metrics(y: np.ndarray, p: np.ndarray, threshold: float, bins: int = 10) -> dict:
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    base_rate = float(y.mean()) if len(y) else 0.0
    both = len(set(y.tolist())) == 2
    predicted = (p >= threshold).astype(int)
    frac, mean_pred = calibration_curve(y, p, n_bins=bins, strategy="quantile") if both else ([], [])
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "base_rate": round(base_rate, 5),
        "roc_auc": round(float(roc_auc_score(y, p)), 5) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 5) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 5),
        "brier_base_rate": round(float(brier_score_loss(y, np.full(len(y), base_rate))), 5),
        "threshold": threshold,
        "precision_at_threshold": round(float(precision_score(y, predicted, zero_division=0)), 5),
        "recall_at_threshold": round(float(recall_score(y, predicted, zero_division=0)), 5),
        "calibration_bins": [
            {"mean_predicted": round(float(m), 4), "observed": round(float(f), 4)} for m, f in zip(mean_pred, frac)
        ],
    }


@dataclass
class TrainedChurn:
    split: Split
    champion: CalibratedClassifierCV
    explainer: Pipeline
    challenger: CalibratedClassifierCV
    champion_metrics: dict
    challenger_metrics: dict
    typical: dict[str, float]
    test_frame: pl.DataFrame = field(repr=False)
    test_probability: np.ndarray = field(repr=False)
    params: dict = field(default_factory=dict)


def matrix(frame: pl.DataFrame, features: list[str] = FEATURES) -> np.ndarray:
    return frame.select(features).to_numpy().astype(float)


def train(data: pl.DataFrame, horizon_days: int, threshold: float, seed: int = 0) -> TrainedChurn:
    """`data`: active students' feature rows with `churned`. Returns fitted models and holdout metrics."""
    split = time_split(data["as_of_date"].unique().to_list(), horizon_days)
    train_rows = data.filter(pl.col("as_of_date").is_in(split.train_as_of)).sort("as_of_date", "student_id")
    test_rows = data.filter(pl.col("as_of_date").is_in(split.test_as_of)).sort("as_of_date", "student_id")
    y_train = train_rows["churned"].cast(pl.Int8).to_numpy()
    if len(train_rows) < MIN_TRAIN_ROWS or len(set(y_train.tolist())) < 2:
        raise NotEnoughHistory(
            f"the training window {split.train_window[0]}..{split.train_window[1]} has {len(train_rows)} rows "
            f"and {int(y_train.sum())} churned: not enough to fit a model"
        )
    x_train, x_test = matrix(train_rows), matrix(test_rows)
    y_test = test_rows["churned"].cast(pl.Int8).to_numpy()

    with ml_threads():
        champion = calibrated(champion_pipeline(seed)).fit(x_train, y_train)
        challenger = calibrated(challenger_model(seed)).fit(x_train, y_train)
        explainer = champion_pipeline(seed).fit(x_train, y_train)
        p_champion = champion.predict_proba(x_test)[:, 1]
        p_challenger = challenger.predict_proba(x_test)[:, 1]
    typical = {f: float(np.median(train_rows[f].to_numpy())) for f in FEATURES}
    return TrainedChurn(
        split=split,
        champion=champion,
        explainer=explainer,
        challenger=challenger,
        champion_metrics=metrics(y_test, p_champion, threshold),
        challenger_metrics=metrics(y_test, p_challenger, threshold),
        typical=typical,
        test_frame=test_rows,
        test_probability=p_champion,
        params={
            "family": "logistic_regression",
            "scaler": "StandardScaler",
            "class_weight": "balanced",
            "calibration": "sigmoid, StratifiedKFold(3) within the training window",
            "challenger": "HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15)",
            "horizon_days": horizon_days,
            "threshold": threshold,
            "seed": seed,
            "train_rows": int(len(train_rows)),
            "train_positives": int(y_train.sum()),
        },
    )


# --- reasons ---------------------------------------------------------------------------------------

_REASON_TEXT = {
    "sessions_last_1w": "{v:.0f} study sessions in the last week (typical: {t:.0f})",
    "sessions_per_week_4w": "{v:.1f} sessions a week over the last 4 weeks (typical: {t:.1f})",
    "days_since_last_activity": "no activity for {v:.0f} days (typical: {t:.0f})",
    "active_days_4w": "active on {v:.0f} of the last 28 days (typical: {t:.0f})",
    "active_minutes_4w": "{v:.0f} minutes of study in the last 4 weeks (typical: {t:.0f})",
    "completion_rate_4w": "finishes {v:.0%} of the files opened (typical: {t:.0%})",
    "completion_rate_trend": "completion rate {v:+.0%} over the last 2 weeks against the 4 before (typical: {t:+.0%})",
    "xp_per_week_4w": "{v:.0f} XP a week (typical: {t:.0f})",
    "tasks_done_4w": "{v:.0f} planner tasks done in 4 weeks (typical: {t:.0f})",
    "notes_4w": "{v:.0f} notes written in 4 weeks (typical: {t:.0f})",
    "calendar_study_minutes_4w": "{v:.0f} minutes of study blocks in the calendar in 4 weeks (typical: {t:.0f})",
    "tenure_days": "on the platform for {v:.0f} days (typical: {t:.0f})",
    "active_courses_4w": "studied {v:.0f} courses in the last 4 weeks (typical: {t:.0f})",
}


def reason_text(feature: str, value: float, typical: float) -> str:
    return _REASON_TEXT.get(feature, feature + " = {v:g} (typical: {t:g})").format(v=value, t=typical)


def contributions(explainer: Pipeline, x: np.ndarray) -> np.ndarray:
    """Signed contribution of each feature to the log-odds: coefficient x standardised value."""
    scaler, model = explainer.named_steps["scale"], explainer.named_steps["model"]
    return scaler.transform(x) * model.coef_[0]


def top_reasons(explainer: Pipeline, x: np.ndarray, typical: dict[str, float], features: list[str] = FEATURES,
                k: int = 3) -> list[list[dict]]:
    """Per row, the k features pushing the risk up the most (largest positive contributions; if fewer
    than k push up, the smallest negative ones follow), in words."""
    contrib = contributions(explainer, x)
    order = np.argsort(-contrib, axis=1)[:, :k]
    out = []
    for i, idx in enumerate(order):
        out.append([
            {"feature": features[j], "contribution": round(float(contrib[i, j]), 4),
             "text": reason_text(features[j], float(x[i, j]), typical[features[j]])}
            for j in idx
        ])
    return out


def risk_tier(p: np.ndarray, medium: float, high: float) -> list[str]:
    return np.where(p >= high, "high", np.where(p >= medium, "medium", "low")).tolist()


def gate(candidate: dict, current: dict | None, auc_tolerance: float = 0.01) -> tuple[bool, str]:
    """Promote if there is no current model, or the candidate's AUC is at least the current's minus
    the tolerance and its Brier is no worse (both measured on the same holdout)."""
    if current is None:
        return True, "no production model yet"
    if candidate.get("roc_auc") is None:
        return False, "the candidate has no AUC (one class in the holdout)"
    cur_auc = current.get("roc_auc") or 0.0
    if candidate["roc_auc"] < cur_auc - auc_tolerance:
        return False, f"AUC {candidate['roc_auc']:.4f} < current {cur_auc:.4f} - {auc_tolerance}"
    if candidate["brier"] > current["brier"]:
        return False, f"Brier {candidate['brier']:.4f} worse than current {current['brier']:.4f}"
    return True, f"AUC {candidate['roc_auc']:.4f} >= {cur_auc:.4f} - {auc_tolerance}, Brier {candidate['brier']:.4f} <= {current['brier']:.4f}"
