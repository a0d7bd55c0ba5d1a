"""Asset checks every raw table shares."""

from __future__ import annotations

import dagster as dg

from resources.warehouse import WarehouseResource

DEFAULT_MAX_QUARANTINE_RATE = 0.05


def quarantine_rate_check(
    asset_key: dg.AssetKey, source: str, table: str, max_rate: float = DEFAULT_MAX_QUARANTINE_RATE
) -> dg.AssetChecksDefinition:
    """Warn when more than `max_rate` of a source's items sit in meta.quarantine.

    The rate is quarantined items over quarantined + loaded rows of `raw.<table>` for that source;
    a WARN, because the good records of the batch loaded and downstream can still run.
    """

    @dg.asset_check(
        asset=asset_key,
        name="quarantine_rate",
        description=f"At most {max_rate:.0%} of {source} input is quarantined (meta.quarantine).",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("select count(*) from meta.quarantine where source = %s", (source,))
            quarantined = cur.fetchone()[0]
            cur.execute("select to_regclass(%s) is not null", (f"raw.{table}",))
            loaded = 0
            if cur.fetchone()[0]:
                cur.execute(f'select count(*) from raw."{table}"')
                loaded = cur.fetchone()[0]
            cur.execute(
                "select reason, count(*) from meta.quarantine where source = %s group by 1 order by 2 desc limit 5",
                (source,),
            )
            top = cur.fetchall()
        total = quarantined + loaded
        rate = quarantined / total if total else 0.0
        return dg.AssetCheckResult(
            passed=rate <= max_rate,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "quarantined": quarantined,
                "loaded_rows": loaded,
                "rate": dg.MetadataValue.float(round(rate, 4)),
                "threshold": dg.MetadataValue.float(max_rate),
                "top_reasons": dg.MetadataValue.md("\n".join(f"- {n} x {r}" for r, n in top) or "none"),
            },
        )

    return _check
