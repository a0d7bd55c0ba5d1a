"""The StudentOps code location: every domain's definitions merged, freshness applied in one place."""

from __future__ import annotations

import gc
import os
import warnings

import dagster as dg
from dagster_dbt import DbtCliResource
from studentops_assets.core.dlt_support import DescribedDltResource

from resources.embedder import Embedder
from resources.google_calendar import google_calendar_resource
from resources.llm import llm_from_env
from resources.mailer import mailer_from_env
from resources.scholarly_apis import scholarly_apis_from_env
from resources.warehouse import WarehouseResource
from resources.zotero import zotero_resource
from sensors.definitions import sensor_definitions

from .ai.definitions import defs as ai_defs
from .calendar.definitions import defs as calendar_defs
from .automation import with_automation
from .core.settings import load_config
from .freshness import with_freshness
from .ml.definitions import defs as ml_defs
from .ml.versions import ArtifactStore
from .notes.definitions import defs as notes_defs
from .operations.definitions import defs as operations_defs
from .notify.definitions import defs as notify_defs
from .platform.definitions import defs as platform_defs
from .quality.definitions import defs as quality_defs
from .references.definitions import defs as references_defs
from .search.definitions import defs as search_defs
from .warehouse.definitions import defs as warehouse_defs
from .warehouse.project import DBT_EXECUTABLE, warehouse_dbt_project
from .zotero.definitions import defs as zotero_defs


def _warehouse() -> WarehouseResource:
    # Bound to the variable, not its value: the UI and run config show the name, never the URL.
    if os.environ.get("STUDENTOPS_DATABASE_URL"):
        return WarehouseResource(database_url=dg.EnvVar("STUDENTOPS_DATABASE_URL"))
    return WarehouseResource()


DOMAINS = [notes_defs, calendar_defs, references_defs, zotero_defs, platform_defs, warehouse_defs, quality_defs,
           ml_defs, search_defs, ai_defs, notify_defs, operations_defs]


def _asset_keys(domains: list[dg.Definitions]) -> set[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for domain in domains:
        for asset in domain.assets or []:
            keys |= set(asset.keys) if isinstance(asset, dg.AssetsDefinition) else {asset.key}
    return keys


# The study timezone, read when the code location loads (schedules, cron freshness deadlines).
STUDY_TIMEZONE = load_config().timezone

_merged = dg.Definitions.merge(
    *DOMAINS,
    sensor_definitions(_asset_keys(DOMAINS), STUDY_TIMEZONE),
    dg.Definitions(
        resources={
            "warehouse": _warehouse(),
            "dlt": DescribedDltResource(),
            "google_calendar": google_calendar_resource(),
            "zotero": zotero_resource(),
            "scholarly_apis": scholarly_apis_from_env(),
            "artifacts": ArtifactStore(),
            "llm": llm_from_env(),
            "mailer": mailer_from_env(),
            "embedder": Embedder(),
            "dbt": DbtCliResource(project_dir=warehouse_dbt_project(), dbt_executable=str(DBT_EXECUTABLE)),
        },
        # Two cores: at most two steps of one run at a time. Steps fork from a server that has
        # imported this code location once; spawning each step afresh re-imported dagster, dlt and
        # the dbt manifest per step (3 s), which cost more than most steps themselves. The module is
        # named explicitly: with `forkserver: {}` Dagster 1.13 reads the missing `preload_modules`
        # as an empty list and preloads nothing of ours.
        executor=dg.multiprocess_executor.configured(
            {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": [__name__]}}}
        ),
    ),
)

with warnings.catch_warnings():
    # map_asset_specs is marked "preview" in 1.13; it is how dagster-open-platform applies policies
    # in bulk, and the one place we rely on it.
    warnings.simplefilter("ignore", dg.PreviewWarning)
    # Freshness policies and automation conditions by group, in one place.
    defs = _merged.map_asset_specs(func=lambda spec: with_automation(with_freshness(spec, STUDY_TIMEZONE)))

# Everything imported so far (dagster, dlt, dbt's manifest, the definitions) lives as long as the
# process. Steps fork from a server that imported this module; frozen, those objects are left out
# of every later garbage collection in the steps, which otherwise rescan them over and over (the
# platform replication spent 40% of building its dlt source in the collector). Python's own advice
# for processes that fork without exec (see gc.freeze); garbage is collected first, so none of it
# is frozen with them.
gc.collect()
gc.freeze()
