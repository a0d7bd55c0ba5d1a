"""The dbt models (staging views, the SCD2 snapshot, gold dimensions and facts) as Dagster assets;
dbt tests become checks. One `@dbt_assets` step per layer (see layers.py), so the blocking Great
Expectations suites on the gold tables run between the layers and stop what reads a broken table."""


import os

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from resources.warehouse import WarehouseResource
from studentops_assets.quality.suites import GOLD_SUITES

from .layers import selections
from .metadata import model_metadata, node_finished
from .project import warehouse_dbt_project
from .translator import WarehouseDbtTranslator

GUARDED_TABLES = frozenset(suite.table for suite in GOLD_SUITES)


def _layer_assets(project: DbtProject, index: int, select: str) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        select=select,
        name="warehouse_dbt_models" if index == 0 else f"warehouse_dbt_models_layer{index}",
        pool="dbt_warehouse",
    )
    def _models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        # dbt/profiles.yml reads the connection from the environment; the dbt subprocess inherits it.
        os.environ.update(warehouse.dbt_env())
        os.environ["STUDENTOPS_TIMEZONE"] = warehouse.settings().timezone
        # A test runs in the layer where all its parents are built (a relationships test from a fact
        # to a dimension of an earlier layer runs with the fact). Dagster overrides this when it
        # runs a subset.
        os.environ.setdefault("DBT_INDIRECT_SELECTION", "buildable")
        described = _column_descriptions(context)
        invocation = dbt.cli(["build"], context=context)
        # Row counts and column schemas from one connection, mostly without a query per model
        # (metadata.py) instead of dagster-dbt's fetch_row_counts()/fetch_column_metadata(). No
        # column lineage: parsing every model's SQL costs more than the build on this machine.
        with warehouse.connection() as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                yield from _events_with_metadata(context, invocation, cur, described)

    return _models


def warehouse_dbt_layers() -> list[dg.AssetsDefinition]:
    """The dbt models, one multi-asset per layer, built from the manifest when the code location loads
    (importing this module reads no manifest and runs no dbt)."""
    project = warehouse_dbt_project()
    return [_layer_assets(project, i, select)
            for i, select in enumerate(selections(project.manifest_path, GUARDED_TABLES))]


def _column_descriptions(context: dg.AssetExecutionContext) -> dict[str, dict[str, str]]:
    """Output name -> column -> description, from the definitions (the dbt yml files)."""
    out: dict[str, dict[str, str]] = {}
    specs = context.assets_def.specs_by_key
    for output_name, key in context.assets_def.keys_by_output_name.items():
        schema = specs[key].metadata.get("dagster/column_schema") if key in specs else None
        schema = getattr(schema, "schema", schema)
        if isinstance(schema, dg.TableSchema):
            out[output_name] = {c.name: c.description for c in schema.columns if c.description}
    return out


def _events_with_metadata(context, invocation, cur, described: dict[str, dict[str, str]]):
    """dagster-dbt's events of the invocation, each model's output with its row count and column
    schema attached. dbt logs a model's result line (dagster-dbt makes the output from it) just before
    its NodeFinished event, which carries the adapter response: the output waits for that event."""
    nodes = invocation.manifest["nodes"]
    waiting: dict[str, dg.Output] = {}

    def attach(unique_id: str, response) -> dg.Output:
        event = waiting.pop(unique_id)
        extra = model_metadata(cur, nodes[unique_id], response)
        return _with_descriptions(event.with_metadata({**event.metadata, **extra}), described)

    for raw in invocation.stream_raw_events():
        for event in raw.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        ):
            unique_id = _unique_id(event)
            if isinstance(event, dg.Output) and unique_id in nodes:
                waiting[unique_id] = event
            else:
                yield event
        finished = node_finished(raw.raw_event)
        if finished and finished[0] in waiting:
            yield attach(*finished)
    # A result without its NodeFinished (not seen from dbt, but never drop an output): counted.
    for unique_id in list(waiting):
        yield attach(unique_id, {})


def _unique_id(event) -> str | None:
    value = (getattr(event, "metadata", None) or {}).get("unique_id")
    return getattr(value, "text", value)


def _with_descriptions(event, described: dict[str, dict[str, str]]):
    if not isinstance(event, dg.Output) or event.metadata is None:
        return event
    value = event.metadata.get("dagster/column_schema")
    schema = getattr(value, "schema", value)
    descriptions = described.get(event.output_name, {})
    if not isinstance(schema, dg.TableSchema) or not descriptions:
        return event
    columns = [
        dg.TableColumn(name=c.name, type=c.type, description=c.description or descriptions.get(c.name),
                       constraints=c.constraints, tags=c.tags)
        for c in schema.columns
    ]
    return event.with_metadata({**event.metadata, "dagster/column_schema": dg.TableSchema(columns=columns)})
