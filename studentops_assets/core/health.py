"""How a raw loader says "not configured" and "the API is down", so neither looks green and fresh.

Not configured (no platform database, nobody with Google credentials, no Zotero library or key):
the loader writes no materialisation, so the raw table's freshness policy (which Dagster evaluates
on materialisations only, freshness_evaluator.py) never counts it as fresh. Instead it records an
`AssetObservation` saying "not configured: <why>", and its `source_configured` check (a check spec of
the loader's own multi-asset, evaluated in the same step) fails with WARN severity. The empty raw tables still exist (created once by dlt or the contract), because the dbt
models downstream read them.

Those dbt models must still build in the same run. Dagster 1.13 skips a whole downstream step when
one upstream output was not yielded (dagster-io/dagster#9408: a `@dbt_assets` step is skipped if any
raw table feeding it is), and it has no public way to yield a step output without an asset event.
`_log_materialization_or_observation_events_for_asset` (dagster/_core/execution/plan/execute_step.py)
writes no asset event for an output that carries the source-asset-observation marker, the one Dagster
itself uses for outputs that must not materialise; `not_configured_outputs` yields that, so the
downstream steps run and no materialisation is recorded. tests/operations/test_source_health.py pins
both halves on a real run (no materialisation record; the dbt models downstream built). Declarative
automation would see such a table as "missing" for good: automation.py lets the eager dbt models
ignore these loaders when it looks for missing parents.

Outages (5xx/429 past the client's retries, timeouts, refused connections, refused keys): the loader
first loads what it could (others' calendars and libraries are not lost), then raises `source_failure`:
a `dg.Failure` whose one line names the source and the students, never a secret. The step is red, the
run fails and the run-failure sensor opens an alert. Refused credentials are not retried (they will
not fix themselves in a few minutes); transient failures are, by the loaders' RetryPolicy
(core/network_loaders.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import dagster as dg
from dagster._core.definitions.source_asset import SYSTEM_METADATA_KEY_SOURCE_ASSET_OBSERVATION

NOT_CONFIGURED = "not configured"
SOURCE_STATUS = "source_status"


def not_configured_outputs(
    context: dg.AssetExecutionContext, why: str, extra_metadata: dict | None = None
) -> Iterator[dg.AssetObservation | dg.Output]:
    """For every selected key: an observation saying why the source is not configured, then the
    step output (no materialisation: see the module docstring) so that steps downstream still run."""
    status = f"{NOT_CONFIGURED}: {why}"
    context.log.warning(f"{context.op_def.name}: {status}; no materialisation recorded")
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        yield dg.AssetObservation(
            asset_key=key,
            description=status,
            metadata={SOURCE_STATUS: dg.MetadataValue.text(status), **(extra_metadata or {})},
        )
        yield dg.Output(
            None,
            output_name=context.assets_def.get_output_name_for_asset_key(key),
            metadata={SYSTEM_METADATA_KEY_SOURCE_ASSET_OBSERVATION: True},
        )


SOURCE_CONFIGURED = "source_configured"


def source_configured_specs(keys: Iterable[dg.AssetKey], what: str) -> list[dg.AssetCheckSpec]:
    """`source_configured` on each raw table of a loader, evaluated by the loader itself (it knows)."""
    return [
        dg.AssetCheckSpec(
            SOURCE_CONFIGURED,
            asset=key,
            description=f"{what} is configured. Fails (WARN) while it is not: the loader then records "
            "an observation saying why and no materialisation, so the table is not fresh either.",
        )
        for key in keys
    ]


def source_configured_results(context: dg.AssetExecutionContext, why_not: str | None, detail: str = "") -> Iterator[dg.AssetCheckResult]:
    """One result per selected `source_configured` check: passed, or WARN with "not configured: <why>"."""
    status = f"{NOT_CONFIGURED}: {why_not}" if why_not else ("configured" + (f": {detail}" if detail else ""))
    for check_key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.to_user_string()):
        if check_key.name != SOURCE_CONFIGURED:
            continue
        yield dg.AssetCheckResult(
            asset_key=check_key.asset_key,
            check_name=SOURCE_CONFIGURED,
            passed=why_not is None,
            severity=dg.AssetCheckSeverity.WARN,
            description=status,
            metadata={SOURCE_STATUS: dg.MetadataValue.text(status)},
        )


def source_failure(source: str, failures: Sequence[str], retryable: bool, loaded: str = "") -> dg.Failure:
    """The step's failure: one line naming the source and who failed (`failures` must hold no secret)."""
    description = f"{source} unavailable: " + "; ".join(failures)
    if loaded:
        description += f" ({loaded})"
    return dg.Failure(
        description=description,
        metadata={"source": dg.MetadataValue.text(source), "failures": dg.MetadataValue.json(list(failures))},
        allow_retries=retryable,
    )
