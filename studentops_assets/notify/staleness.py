"""Which assets a digest reads are stale by their freshness policy.

Dagster 1.13 records each asset's freshness state (PASS/WARN/FAIL/UNKNOWN) when the daemon evaluates
the policies (`instance.get_freshness_state_records(keys)`). Under `studentops materialize` no daemon
runs, so for an asset without a record the same rule the daemon's TimeWindowFreshnessPolicyEvaluator
applies is applied here: seconds since the last materialisation against the policy's windows.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import dagster as dg

# What each digest reads, with the words a student understands.
STUDENT_SOURCES = {
    dg.AssetKey(["marts", "dim_assessments"]): "Your assessments",
    dg.AssetKey(["marts", "fact_study_sessions"]): "Your study sessions",
    dg.AssetKey(["marts", "fact_readings"]): "Your reading list",
    dg.AssetKey(["ai", "note_summaries"]): "Note summaries",
}
STAFF_SOURCES = {
    dg.AssetKey(["ml", "churn_scores"]): "Churn scores",
}


@dataclass(frozen=True)
class Stale:
    key: str
    label: str
    state: str  # WARN | FAIL | UNKNOWN (never materialised)
    last_update: str | None

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "state": self.state, "last_update": self.last_update}


def _graph(context: dg.AssetExecutionContext):
    try:
        return context.repository_def.asset_graph
    except Exception:  # noqa: BLE001 - a bare `materialize([...])` has no code location around it
        return None


def _policy(graph, key: dg.AssetKey):
    if graph is None:
        from studentops_assets.freshness import DAILY

        return DAILY  # what every source of the digests declares (freshness.py)
    return graph.get(key).freshness_policy


def _evaluate(policy, last_ts: float | None) -> str:
    if last_ts is None:
        return "UNKNOWN"
    if isinstance(policy, dg.FreshnessPolicy) and hasattr(policy, "fail_window"):
        age = time.time() - last_ts
        fail = policy.fail_window.to_timedelta().total_seconds()
        warn = policy.warn_window.to_timedelta().total_seconds() if policy.warn_window else None
        if age >= fail:
            return "FAIL"
        if warn and age >= warn:
            return "WARN"
        return "PASS"
    return "PASS"  # cron policies are evaluated by the daemon only; without a record, no claim


def stale_sources(context: dg.AssetExecutionContext, sources: dict[dg.AssetKey, str]) -> list[Stale]:
    instance = context.instance
    graph = _graph(context)
    keys = [k for k in sources if graph is None or graph.has(k)]
    records = instance.get_freshness_state_records(keys) if keys else {}
    out: list[Stale] = []
    for key in keys:
        event = instance.get_latest_materialization_event(key)
        last_ts = event.timestamp if event else None
        last = dt.datetime.fromtimestamp(last_ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if last_ts else None
        record = records.get(key)
        # A record older than the latest materialisation is the daemon's verdict on older data.
        if record and not (last_ts and last_ts > record.updated_at.timestamp()):
            state = record.freshness_state.value
        else:
            state = _evaluate(_policy(graph, key), last_ts)
        if state in ("WARN", "FAIL", "UNKNOWN"):
            out.append(Stale(key.to_user_string(), sources[key], state, last))
    return out
