"""The StudentOps code location: every domain's definitions merged, freshness applied in one place.

Importing this module has no side effects: it reads no studentops.yaml, creates no dlt folder, runs no
dbt, leaves PATH and the garbage collector alone. The definitions are built when the code location
loads, from the studentops.yaml of that moment (the study timezone of the schedules, the feature
partitions and the freshness deadlines) and the dbt manifest prepared beforehand (`studentops
materialize`, `studentops dev`, the image build):

- `code_location` is Dagster's lazy `@dg.definitions`: what `dagster code-server start -m
  studentops_assets.definitions` and `dagster definitions validate -m ...` find; built on each load.
- `defs` (workspace.yaml's attribute, the CLI, the tests) is the same, built once per process when it
  is first used.
"""

from __future__ import annotations

import gc
import os
import warnings

import dagster as dg

from resources.embedder import Embedder
from resources.google_calendar import google_calendar_resource
from resources.llm import llm_from_env
from resources.mailer import mailer_from_env
from resources.scholarly_apis import scholarly_apis_from_env
from resources.warehouse import WarehouseResource
from resources.zotero import zotero_resource
from sensors.definitions import sensor_definitions

from .ai.definitions import defs as ai_defs
from .automation import with_automation
from .calendar.definitions import defs as calendar_defs
from .core.dlt_support import DescribedDltResource
from .core.settings import StudentOpsConfig, load_config
from .freshness import with_freshness
from .ml.definitions import ml_definitions
from .ml.versions import ArtifactStore
from .notes.definitions import defs as notes_defs
from .notify.definitions import defs as notify_defs
from .operations.definitions import operations_definitions
from .platform.definitions import defs as platform_defs
from .quality.definitions import defs as quality_defs
from .references.definitions import defs as references_defs
from .search.definitions import defs as search_defs
from .warehouse.definitions import warehouse_definitions
from .warehouse.project import WarehouseDbtCliResource, dbt_executable, warehouse_dbt_project
from .zotero.definitions import defs as zotero_defs

# Two cores: at most two steps of one run at a time. Steps fork from a server that has built the
# definitions once (step_forkserver.py); spawning each step afresh re-imported dagster, dlt and the
# dbt manifest per step (3 s), which cost more than most steps themselves. The module is named
# explicitly: with `forkserver: {}` Dagster 1.13 reads the missing `preload_modules` as an empty list
# and preloads nothing of ours.
STEP_FORKSERVER_MODULE = "studentops_assets.step_forkserver"
STEP_EXECUTOR = dg.multiprocess_executor.configured(
    {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": [STEP_FORKSERVER_MODULE]}}}
)


def _warehouse() -> WarehouseResource:
    # Bound to the variable, not its value: the UI and run config show the name, never the URL.
    if os.environ.get("STUDENTOPS_DATABASE_URL"):
        return WarehouseResource(database_url=dg.EnvVar("STUDENTOPS_DATABASE_URL"))
    return WarehouseResource()


def _resources() -> dict[str, object]:
    return {
        "warehouse": _warehouse(),
        "dlt": DescribedDltResource(),
        "google_calendar": google_calendar_resource(),
        "zotero": zotero_resource(),
        "scholarly_apis": scholarly_apis_from_env(),
        "artifacts": ArtifactStore(),
        "llm": llm_from_env(),
        "mailer": mailer_from_env(),
        "embedder": Embedder(),
        "dbt": WarehouseDbtCliResource(project_dir=warehouse_dbt_project(), dbt_executable=dbt_executable()),
    }


def _asset_keys(domains: list[dg.Definitions]) -> set[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for domain in domains:
        for asset in domain.assets or []:
            keys |= set(asset.keys) if isinstance(asset, dg.AssetsDefinition) else {asset.key}
    return keys


def build_definitions(config: StudentOpsConfig | None = None) -> dg.Definitions:
    """The whole code location, for `config` (default: `$STUDENTOPS_HOME/studentops.yaml`, read now)."""
    timezone = (config or load_config()).timezone
    domains = [notes_defs, calendar_defs, references_defs, zotero_defs, platform_defs, warehouse_definitions(),
               quality_defs, ml_definitions(timezone), search_defs, ai_defs, notify_defs,
               operations_definitions(timezone)]
    merged = dg.Definitions.merge(
        *domains,
        sensor_definitions(_asset_keys(domains), timezone),
        dg.Definitions(resources=_resources(), executor=STEP_EXECUTOR),
    )
    with warnings.catch_warnings():
        # map_asset_specs is marked "preview" in 1.13; it is how dagster-open-platform applies policies
        # in bulk, and the one place we rely on it.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        # Freshness policies and automation conditions by group, in one place.
        return merged.map_asset_specs(func=lambda spec: with_automation(with_freshness(spec, timezone)))


# This process's definitions: built by the first use of `defs`, or by the step forkserver.
_process_defs: dg.Definitions | None = None
_built_for_steps = False


@dg.definitions
def code_location() -> dg.Definitions:
    """The code location as Dagster loads it. A step forked from the step forkserver gets the
    definitions the forkserver built; every other load reads studentops.yaml again."""
    if _built_for_steps and _process_defs is not None:
        return _process_defs
    return build_definitions()


def loaded_definitions() -> dg.Definitions:
    """This process's definitions, built on first use."""
    global _process_defs
    if _process_defs is None:
        _process_defs = build_definitions()
    return _process_defs


def build_for_steps() -> None:
    """Run once in the step forkserver, where the steps start (step_forkserver.py).

    Everything built here (dagster, dlt, dbt's manifest, the definitions) lives as long as the
    process. Frozen, those objects are left out of every later garbage collection in the forked
    steps, which otherwise rescan them over and over (the platform replication spent 40% of building
    its dlt source in the collector). Python's own advice for processes that fork without exec (see
    gc.freeze); garbage is collected first, so none of it is frozen with them."""
    global _built_for_steps
    loaded_definitions()
    _built_for_steps = True
    gc.collect()
    gc.freeze()


def __getattr__(name: str) -> dg.Definitions:
    # `defs` is built when it is first asked for (`from studentops_assets.definitions import defs`,
    # workspace.yaml's `attribute: defs`), not when the module is imported.
    if name == "defs":
        return loaded_definitions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
