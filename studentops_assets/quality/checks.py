"""The gold suites as blocking Dagster asset checks.

One check per suite, on the asset key of the table it guards. Blocking with ERROR severity: when a
suite fails, assets downstream of that table do not run in the same run, so a broken gold table
never feeds reports or models.
"""

import dagster as dg

from resources.warehouse import WarehouseResource

from .gx_runner import GoldSuite, SuiteOutcome, suite_fingerprint, validate_suite
from .suites import GOLD_SUITES
from .tested_windows import ValidationScope, last_passing_scope, tested_window, validation_scope


def gold_suite_check(suite: GoldSuite) -> dg.AssetChecksDefinition:
    key = dg.AssetCheckKey(dg.AssetKey([suite.schema, suite.table]), f"gx_{suite.name}")

    @dg.asset_check(
        asset=key.asset_key,
        name=key.name,
        description=f"Great Expectations suite '{suite.name}' on {suite.qualified_table}: {suite.description}",
        blocking=True,
        # The suite's SQL joins these tables: in a run that rebuilds them, validate after they are.
        additional_deps=[dg.AssetKey([suite.schema, table]) for table in suite.reads],
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        # The large incremental facts: only the rows written since the suite last passed.
        last = last_passing_scope(context.instance, key)
        with warehouse.connection() as conn, conn.cursor() as cur:
            scope = validation_scope(cur, suite.qualified_table, tested_window(suite.qualified_table), last,
                                     fingerprint=suite_fingerprint(suite))
        outcome = validate_suite(warehouse.url(), suite, rows=scope.condition)
        for failed in outcome.failed:
            reason = failed.error or f"{failed.unexpected_count} unexpected"
            context.log.warning(f"{outcome.table}: expectation {failed.name} failed ({reason})")
        return check_result(outcome, scope)

    return _check


def check_result(outcome: SuiteOutcome, scope: ValidationScope) -> dg.AssetCheckResult:
    """The suite's outcome as an ERROR-severity check result: one metadata entry per expectation
    (success, unexpected count, a few sample rows) beside the suite's name, a summary table and the
    rows it validated (with how far they went, which the next run starts from if this one passed)."""
    failed = [o.name for o in outcome.failed]
    metadata: dict[str, dg.MetadataValue] = {
        "suite": dg.MetadataValue.text(outcome.suite),
        "table": dg.MetadataValue.text(outcome.table),
        "failed_expectations": dg.MetadataValue.json(failed),
        "summary": dg.MetadataValue.md(_summary_table(outcome)),
        **scope.metadata(),
    }
    for o in outcome.expectations:
        entry = {
            "success": o.success,
            "unexpected_count": o.unexpected_count,
            "sample_unexpected_rows": o.samples,
            "expectation_type": o.expectation_type,
            "description": o.description,
        }
        if o.error:
            entry["error"] = o.error
        metadata[o.name] = dg.MetadataValue.json(entry)
    total = len(outcome.expectations)
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(failed)} of {total} expectations failed: {', '.join(failed)}"
            if failed
            else f"All {total} expectations passed."
        ),
        metadata=metadata,
    )


def _summary_table(outcome: SuiteOutcome) -> str:
    lines = ["| expectation | result | unexpected |", "|---|---|---|"]
    for o in outcome.expectations:
        count = "" if o.unexpected_count is None else str(o.unexpected_count)
        lines.append(f"| {o.name} | {'pass' if o.success else '**FAIL**'} | {count} |")
    return "\n".join(lines)


GOLD_SUITE_CHECKS = [gold_suite_check(suite) for suite in GOLD_SUITES]
