"""The raw loaders that reach a network (the platform database, Google Calendar, iCal URLs, Zotero,
OpenAlex/Crossref) carry their own RetryPolicy, so every run retries them: the schedules' jobs, the
drop-folder sensor's runs, declarative automation and `studentops materialize` alike (a job's
`op_retry_policy` only reached the runs of that one job).

dagster-dlt 0.29.27's `dlt_assets` has no `retry_policy` parameter; it is `build_dlt_asset_specs` and a
subsettable `multi_asset`. `network_dlt_assets` is the same two calls with the policy added, so the
assets are what `dlt_assets` builds, plus the retry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltTranslator, build_dlt_asset_specs

# A step that still fails after its client's own retries (429 Retry-After, 5xx, timeouts) runs again
# after about 1, 2, then 4 minutes (jittered), so a short outage at 06:30 does not cost a day. Failures
# that will not go away (a refused key, `dg.Failure(allow_retries=False)`) are not retried.
# STUDENTOPS_LOADER_RETRY_DELAY_SECONDS shortens the first wait (the tests use 0).
LOADER_RETRY_DELAY_SECONDS = float(os.environ.get("STUDENTOPS_LOADER_RETRY_DELAY_SECONDS") or 60)
LOADER_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=LOADER_RETRY_DELAY_SECONDS, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def network_dlt_assets(
    *,
    dlt_source: Any,
    dlt_pipeline: Any,
    name: str,
    dagster_dlt_translator: DagsterDltTranslator,
    pool: str,
    check_specs: Callable[[Sequence[dg.AssetKey]], Sequence[dg.AssetCheckSpec]] | None = None,
    retry_policy: dg.RetryPolicy = LOADER_RETRY_POLICY,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`dagster_dlt.dlt_assets` for a loader that reaches a network: the same assets, with a RetryPolicy
    and the checks the loader evaluates itself (`check_specs(asset keys)`, e.g. source_configured)."""
    specs = build_dlt_asset_specs(
        dlt_source=dlt_source, dlt_pipeline=dlt_pipeline, dagster_dlt_translator=dagster_dlt_translator
    )
    return dg.multi_asset(
        name=name,
        can_subset=True,
        specs=specs,
        check_specs=list(check_specs([spec.key for spec in specs])) if check_specs else None,
        pool=pool,
        retry_policy=retry_policy,
    )
