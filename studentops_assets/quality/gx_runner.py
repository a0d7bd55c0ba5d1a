"""Runs a Great Expectations suite against one warehouse table, inside Postgres.

GX 1.x is called directly (dagster-ge pins GX < 1). Each validation builds a throwaway in-memory
context with a SQL datasource on the warehouse and validates the table, or the rows of it a run can
have rewritten (tested_windows.py): GX compiles every expectation to SQL, so rows stay in Postgres
and only counts and a few sample rows come back.
GX itself is imported on first use, not with this module: it costs about two seconds, and every
Dagster process that loads the code location would otherwise pay it.
"""

from __future__ import annotations

import os

# GX reads this when it builds a context. Set before anything here imports great_expectations, so
# no validation can try to send usage statistics: nothing in this project may touch the network.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

import datetime as dt
import decimal
import math
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studentops_assets.core.urls import sqlalchemy_psycopg2_url

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.datasource.fluent import SQLDatasource
    from great_expectations.expectations import Expectation

MARTS = "marts"
# Sample rows kept per failed expectation, and the longest text value kept in one: enough to find
# the culprits, small enough for the check's metadata in the event log.
SAMPLE_ROWS = 5
MAX_TEXT_CHARS = 200


@dataclass(frozen=True)
class GoldSuite:
    """A named expectation suite guarding one gold table.

    `expectations` builds fresh GX expectations on every call (GX binds an expectation to the suite
    it is added to); each carries `meta={"name": ...}`, the stable key its outcome is reported under.
    `row_key` names the columns that identify a row in the sample rows of a failure; `reads` lists
    the other tables of the schema the suite's SQL joins to.
    """

    name: str
    table: str
    description: str
    row_key: tuple[str, ...]
    expectations: Callable[[], list["Expectation"]]
    reads: tuple[str, ...] = ()
    schema: str = MARTS

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    expectation_type: str
    description: str
    success: bool
    # Rows (or values) that broke the expectation; None for expectations that count nothing.
    unexpected_count: int | None
    samples: list[dict[str, Any]]
    # The error GX caught while computing the expectation (it then reports it as failed).
    error: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    table: str
    expectations: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.expectations)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.expectations if not outcome.success]


def validate_suite(database_url: str, suite: GoldSuite, sample_rows: int = SAMPLE_ROWS,
                   rows: str | None = None) -> SuiteOutcome:
    """Validate `suite` on its table in the warehouse at `database_url` (a libpq URL): the rows that
    match `rows` (a SQL condition; tested_windows.py), or the whole table. Rules that look across
    tables (meta `whole_table`, e.g. a lookup in a dimension: a dimension row that goes away orphans
    old rows too) always read the whole table.

    Two passes. The first asks GX only whether each expectation holds: GX then folds the column rules
    into one aggregate query over the table. Only the expectations that failed are validated again,
    with their counts and sample rows: asking for samples up front costs one more query per
    expectation, over the whole table, on every run, to describe failures that are rare. A passing
    expectation has nothing unexpected (none of the suites uses GX's `mostly`)."""
    expectations = suite.expectations()
    _require_unique_names(suite, expectations)
    _require_every_row(suite, expectations)
    whole = {_expectation_name(e) for e in expectations if rows is None or reads_whole_table(e)}
    context = _ephemeral_context()
    with warnings.catch_warnings():
        # The generic SQL datasource accepts every libpq URL form (the Postgres one rejects a URL
        # whose host is only a socket directory in the query string); GX warns that a more specific
        # type exists each time it builds an engine.
        warnings.filterwarnings("ignore", message=".*more specific PostgresDatasource.*")
        datasource = _warehouse_datasource(context, database_url, suite.schema)
        try:
            verdicts: dict[str, Any] = {}
            details: dict[str, Any] = {}
            for reads_whole, query in ((True, None), (False, f"select * from {suite.qualified_table} where {rows}")):
                names = {_expectation_name(e) for e in expectations if (_expectation_name(e) in whole) == reads_whole}
                if not names:
                    continue
                asset = (datasource.add_table_asset(name=suite.table, table_name=suite.table) if query is None
                         else datasource.add_query_asset(name=f"{suite.table}__window", query=query))
                found, failed = _two_passes(context, asset, suite, names, sample_rows)
                verdicts.update(found)
                details.update(failed)
        finally:
            _dispose_engines(datasource)
    return SuiteOutcome(
        suite=suite.name,
        table=suite.qualified_table,
        expectations=[
            _outcome(details[name], sample_rows) if name in details else _passed(verdicts[name].expectation_config)
            for name in (_expectation_name(e) for e in expectations)
        ],
    )


def suite_fingerprint(suite: GoldSuite) -> str:
    """A hash of the suite's expectations as configured: a validation mark made by another version of
    the suite (an expectation added, a bound moved) does not carry over (tested_windows.py)."""
    import hashlib
    import json

    configs = [e.configuration.to_json_dict() for e in suite.expectations()]
    for config in configs:
        config.pop("id", None)
    return hashlib.sha256(json.dumps(configs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reads_whole_table(expectation) -> bool:
    """Whether an expectation must see the whole table even when only a window of it changed."""
    return bool((expectation.meta or {}).get("whole_table"))


def _two_passes(context, asset, suite: GoldSuite, names: set[str], sample_rows: int):
    """The pass/fail verdicts of the expectations named `names` on `asset`, and the detailed results
    of those that failed (the second pass)."""
    import great_expectations as gx

    batch = asset.add_batch_definition_whole_table("whole_table").get_batch()
    wanted = [e for e in suite.expectations() if _expectation_name(e) in names]
    verdicts = batch.validate(
        context.suites.add(gx.ExpectationSuite(name=f"{asset.name}-{suite.name}", expectations=wanted)),
        result_format="BOOLEAN_ONLY",
    )
    found = {_expectation_name(r.expectation_config): r for r in verdicts.results}
    failed = {name for name, r in found.items() if not r.success}
    details = {}
    if failed:
        again = [e for e in suite.expectations() if _expectation_name(e) in failed]
        result = batch.validate(
            context.suites.add(gx.ExpectationSuite(name=f"{asset.name}-{suite.name}-failures", expectations=again)),
            result_format=_result_format(suite, sample_rows),
        )
        details = {_expectation_name(r.expectation_config): r for r in result.results}
    return found, details


def _passed(config) -> ExpectationOutcome:
    return ExpectationOutcome(
        name=_expectation_name(config), expectation_type=config.type, description=config.description or "",
        success=True, unexpected_count=0, samples=[],
    )


def _require_every_row(suite: GoldSuite, expectations: list["Expectation"]) -> None:
    # A pass is reported as 0 unexpected rows: true only when an expectation must hold on every row.
    partial = [_expectation_name(e) for e in expectations if getattr(e, "mostly", 1) not in (None, 1)]
    if partial:
        raise ValueError(f"suite {suite.name}: expectations with `mostly` below 1 are not supported: {partial}")


def _expectation_name(expectation) -> str:
    """The stable name of an expectation, or of the configuration a validation result carries."""
    return (expectation.meta or {}).get("name") or getattr(expectation, "expectation_type", None) or expectation.type


def _require_unique_names(suite: GoldSuite, expectations: list["Expectation"]) -> None:
    names = [_expectation_name(e) for e in expectations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"suite {suite.name}: expectation names must be unique, repeated: {duplicates}")


def _ephemeral_context():
    """An in-memory GX context: no project directory, no stores on disk, no docs, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        # tqdm bars on stderr would only clutter the Dagster step logs.
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _warehouse_datasource(context, database_url: str, schema: str) -> "SQLDatasource":
    # psycopg2 explicitly: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, not installed here.
    # The schema goes on the connection's search_path (GX deprecated per-asset schema names).
    return context.data_sources.add_sql(
        name="warehouse",
        connection_string=sqlalchemy_psycopg2_url(database_url),
        kwargs={"connect_args": {"options": f"-c search_path={schema}"}},
    )


def _dispose_engines(datasource: "SQLDatasource") -> None:
    """Close the pooled connections GX opened: it never disposes its engines itself, and a check
    that runs every materialisation must not leave connections behind until garbage collection."""
    engines = {id(e): e for e in (datasource.get_engine(), datasource.get_execution_engine().engine)}
    for engine in engines.values():
        engine.dispose()


def _result_format(suite: GoldSuite, sample_rows: int) -> dict[str, Any]:
    # COMPLETE is the format in which UnexpectedRowsExpectation returns its rows (GX caps them at
    # 200); column expectations return their first `sample_rows` failures with the row key beside.
    return {
        "result_format": "COMPLETE",
        "partial_unexpected_count": sample_rows,
        "unexpected_index_column_names": list(suite.row_key),
        "return_unexpected_index_query": False,
    }


def _outcome(result: "ExpectationValidationResult", sample_rows: int) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    is_sql_rule = config.type == "unexpected_rows_expectation"
    if is_sql_rule:
        unexpected_count = details.get("observed_value")
        samples = (details.get("details") or {}).get("unexpected_rows") or []
    else:
        unexpected_count = details.get("unexpected_count")
        # Column rules give the failing value with the row key beside it; multicolumn rules give
        # the failing combination itself.
        samples = details.get("partial_unexpected_index_list") or [
            value if isinstance(value, Mapping) else {"value": value}
            for value in details.get("partial_unexpected_list") or []
        ]
    return ExpectationOutcome(
        name=(config.meta or {}).get("name") or config.type,
        expectation_type=config.type,
        description=config.description or "",
        success=bool(result.success),
        unexpected_count=int(unexpected_count) if isinstance(unexpected_count, (int, float)) else None,
        samples=[{k: jsonable(v) for k, v in row.items()} for row in samples[:sample_rows]],
        error=_error_message(result.exception_info),
    )


def _error_message(exception_info: Mapping[str, Any] | None) -> str | None:
    """GX reports an error either as one flat record or as one record per metric that failed."""
    if not exception_info:
        return None
    records = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    messages = [str(r.get("exception_message")) for r in records if isinstance(r, Mapping) and r.get("raised_exception")]
    return _clip("; ".join(dict.fromkeys(messages))) if messages else None


def jsonable(value: Any) -> Any:
    """A sample value as JSON metadata can carry it: numbers stay numbers, text is clipped."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return _clip(str(value))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"
