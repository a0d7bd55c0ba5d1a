"""Shared dlt plumbing: pipelines that land in the `raw` schema, and the translator for their assets."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import dlt
from dlt.common.destination import Destination
from dlt.pipeline.pipeline import Pipeline
from dagster_dlt import DagsterDltResource, DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from .postgres_destination import postgres_exact_csv, postgres_serialized_schema
from .settings import StudentOpsConfig

# dlt reports anonymous usage to its vendor by default; StudentOps runs offline and sends nothing.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# Load files are written, COPYed into Postgres on this machine and deleted: gzipping them only burns
# CPU (it was 75% of normalize time on the platform replication).
os.environ.setdefault("DATA_WRITER__DISABLE_COMPRESSION", "true")

RAW_DATASET = "raw"


def raw_pipeline(
    name: str, config: StudentOpsConfig | None = None, credentials: str | None = None, arrow_csv: bool = False
) -> dlt.Pipeline:
    """A dlt pipeline into `raw`.

    Without a config it only describes the assets (the `@dlt_assets` decorators, definition time):
    nothing is read or written. With one, it is the run's pipeline, whose working folder lives in
    `<home>/dlt`. All of them change schemas one at a time (postgres_destination.py). `arrow_csv`:
    the pipeline loads csv files written from arrow, whose COPY keeps '' apart from NULL; the other
    pipelines load dlt's default insert statements."""
    factory = postgres_exact_csv if arrow_csv else postgres_serialized_schema
    destination = factory(credentials=credentials) if credentials else factory()
    if config is None:
        return DescribingPipeline(f"studentops_{name}", destination)
    pipelines_dir = config.home / "dlt"
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    # dlt creates a new pipeline's working folder with exist_ok=False: two processes loading the
    # definitions at once on a new home (pytest workers, webserver and daemon) raced to create it
    # and one failed with FileExistsError. One process at a time creates or opens a pipeline.
    with open(pipelines_dir / ".pipelines.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return dlt.pipeline(
            pipeline_name=f"studentops_{name}",
            destination=destination,
            dataset_name=RAW_DATASET,
            pipelines_dir=str(pipelines_dir),
        )


class DescribingPipeline(Pipeline):
    """The pipeline a `@dlt_assets` decorator is given: dagster-dlt reads only its name and destination
    to build the asset specs (kinds, storage kind) and keeps it in their metadata; each run loads
    through its own `raw_pipeline(name, config, credentials)`. `Pipeline.__init__` is deliberately
    not called: it creates the working folder and writes the state file, and the code location must
    create nothing when it is imported (a read-only image, a home that is not set up yet)."""

    def __init__(self, pipeline_name: str, destination: Any):  # noqa: D107 - see the class docstring
        self.pipeline_name = pipeline_name
        self.pipelines_dir = None
        self.dataset_name = RAW_DATASET
        self._destination = Destination.from_reference(destination)
        self._staging = None


def create_table_once(state: dict[str, Any]) -> Iterator[Any]:
    """On a resource's first run, have dlt create its table with every declared column even if no
    row is yielded, so models reading it work before the first note, export or library arrives.
    Once only: an empty load every run would add a load record to dlt's tables and a rerun would
    not be a no-op."""
    if not state.get("table_created"):
        state["table_created"] = True
        yield dlt.mark.materialize_table_schema()


class RawTableTranslator(DagsterDltTranslator):
    """Each dlt resource becomes the asset `raw/<table>` of its domain's group."""

    def __init__(self, group_name: str, descriptions: Mapping[str, str]):
        super().__init__()
        self.group_name = group_name
        self.descriptions = dict(descriptions)

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        table = str(data.resource.table_name)
        return spec.replace_attributes(
            key=dg.AssetKey([RAW_DATASET, table]),
            # The files and APIs upstream are not assets of ours: the raw table is where lineage starts.
            deps=[],
            group_name=self.group_name,
            kinds={"dlt", "postgres"},
            description=self.descriptions.get(data.resource.name, spec.description),
        ).merge_attributes(metadata={"dagster/table_name": f"warehouse.{RAW_DATASET}.{table}"})


# dlt's own columns, on every raw table.
DLT_COLUMN_DESCRIPTIONS = {
    "_dlt_load_id": "dlt: the load that wrote this row (raw._dlt_loads)",
    "_dlt_id": "dlt: unique row id",
}


class DescribedDltResource(DagsterDltResource):
    """dagster-dlt's resource, with the column descriptions of the dlt schema kept in each raw table's
    column schema. dagster-dlt builds the materialisation's `dagster/column_schema` from the dlt
    schema but drops the `description` hint (it even lists it among the constraints), so the raw
    tables' pages showed types without descriptions. dagster-dlt has no public hook for this
    metadata; this overrides the one method that builds it."""

    def _extract_table_schema_metadata(self, table_name: str, schema) -> dg.TableSchema:
        try:
            columns = schema.get_table_columns(table_name).values()
        except KeyError:
            return dg.TableSchema(columns=[])
        out = []
        for column in columns:
            hints = dict(column)
            name = hints.pop("name", "")
            description = hints.pop("description", None) or DLT_COLUMN_DESCRIPTIONS.get(name)
            out.append(
                dg.TableColumn(
                    name=name,
                    type=hints.pop("data_type", "string"),
                    description=description,
                    constraints=dg.TableColumnConstraints(
                        nullable=hints.pop("nullable", True),
                        unique=hints.pop("unique", False),
                        other=sorted(k for k, v in hints.items() if v is True),
                    ),
                )
            )
        return dg.TableSchema(columns=out)
