"""`raw/notes`: the students' markdown vaults, loaded with dlt."""


import datetime as dt

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from resources.warehouse import WarehouseResource
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.quarantine import QuarantineBatch
from studentops_assets.core.raw_loads import QuarantineFlusher, raw_table_stats

from .source import SOURCE, VaultSpec, vault_source

translator = RawTableTranslator(
    group_name="notes",
    descriptions={
        "notes": (
            "One row per markdown note per configured student, from the Obsidian-style vault under "
            "`$STUDENTOPS_HOME/vault/<student>` (frontmatter parsed with python-frontmatter). Notes whose "
            "frontmatter is broken load without metadata; unreadable files go to meta.quarantine."
        )
    },
)


@dlt_assets(
    dlt_source=vault_source(),
    dlt_pipeline=raw_pipeline("notes"),
    name="raw_notes",
    dagster_dlt_translator=translator,
    pool="dlt_notes",
)
def raw_notes(context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource):
    config = warehouse.settings()
    vaults = [VaultSpec(s.id, config.student_vault(s), s.timezone) for s in config.students]
    flush_quarantine = QuarantineFlusher(warehouse)
    source = vault_source(
        vaults=vaults,
        quarantine=QuarantineBatch(SOURCE),
        loaded_at=dt.datetime.now(dt.timezone.utc),
        flush_quarantine=flush_quarantine,
    )
    pipeline = raw_pipeline("notes", config, warehouse.dlt_credentials())
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    stats = raw_table_stats(warehouse, "notes", SOURCE)
    for result in results:
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                **stats.metadata(flush_quarantine.issues),
                "vaults_configured": dg.MetadataValue.int(len(vaults)),
            },
        )
