"""Blocking checks that the platform database still has the schema the warehouse was built on."""


from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import psycopg2
import yaml

from resources.warehouse import WarehouseResource

from .tables import PLATFORM_TABLES

CONTRACT_FILE = Path(__file__).with_name("source_contract.yaml")
CHECK_NAME = "source_contract"


def load_contract() -> "dict[str, dict[str, str]]":
    return yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8"))


def compare(expected: Mapping[str, str], live: Mapping[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(set(live) - set(expected)),
        "dropped": sorted(set(expected) - set(live)),
        "type_changed": sorted(
            f"{c}: {expected[c]} -> {live[c]}" for c in set(expected) & set(live) if expected[c] != live[c]
        ),
    }


def live_columns(platform_url: str, schema: str = "public") -> dict[str, dict[str, str]]:
    conn = psycopg2.connect(platform_url, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = %s order by table_name, ordinal_position",
                (schema,),
            )
            columns: dict[str, dict[str, str]] = {}
            for table, column, data_type in cur.fetchall():
                columns.setdefault(table, {})[column] = data_type
            return columns
    finally:
        conn.close()


def source_contract_checks() -> list[dg.AssetChecksDefinition]:
    specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=dg.AssetKey(["raw", table.raw_table]),
            blocking=True,
            description=f"The platform's `{table.name}` still has the columns and types in source_contract.yaml.",
        )
        for table in PLATFORM_TABLES
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="platform_source_contract")
    def platform_source_contract(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        from .availability import platform_configured

        contract = load_contract()
        urls = warehouse.urls()
        configured, why = platform_configured(urls)
        if not configured:
            for check_key in context.selected_asset_check_keys:
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key, check_name=CHECK_NAME, passed=True,
                    metadata={"status": f"not configured: {why}"},
                )
            return
        live = live_columns(urls.platform)
        for check_key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.to_user_string()):
            raw_table = check_key.asset_key.path[-1]
            source_table = raw_table.removeprefix("platform_")
            if source_table not in live:
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=CHECK_NAME,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"problem": f"table public.{source_table} is gone from the platform database"},
                )
                continue
            diff = compare(contract.get(source_table, {}), live[source_table])
            breaking = bool(diff["dropped"] or diff["type_changed"])
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=CHECK_NAME,
                passed=not (breaking or diff["added"]),
                # New columns do not break the models (they select columns by name): warn only.
                severity=dg.AssetCheckSeverity.ERROR if breaking else dg.AssetCheckSeverity.WARN,
                metadata={k: dg.MetadataValue.json(v) for k, v in diff.items()},
            )

    return [platform_source_contract]
