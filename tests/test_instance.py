"""The Dagster instance StudentOps configures: Postgres storage, queued runs, limits for 2 cores."""

from __future__ import annotations

import dagster as dg
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from resources.postgres_server import resolve_urls
from studentops_assets.core.instance import prepare_dagster_home
from studentops_assets.core.settings import load_config


def test_instance_is_postgres_backed(session_home, monkeypatch):
    for name, value in session_home.env().items():
        monkeypatch.setenv(name, value)
    config = load_config(session_home.path)
    urls = resolve_urls(config)
    home = prepare_dagster_home(config, urls.dagster)
    assert home == session_home.path / "dagster"
    assert (home / "dagster.yaml").resolve().name == "dagster.yaml"
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        settings = instance.get_concurrency_config()
        assert settings.run_queue_config.max_concurrent_runs == 2
        assert settings.pool_config.default_pool_limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
        assert not instance.telemetry_enabled
