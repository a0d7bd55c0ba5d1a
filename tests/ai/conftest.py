"""A small home with real notes (the demo's three vault students) loaded into raw.notes by dlt."""

from __future__ import annotations

import pytest

from resources.llm import LLMResource
from resources.warehouse import WarehouseResource

from ..conftest import Home, free_port


@pytest.fixture(scope="package")
def notes_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("ai-home"), free_port())
    home.cli("demo", "--students", "4", "--days", "21", "--seed", "5", "--vault-students", "3", "--end-date", "2026-11-15")
    home.cli("materialize", "--select", "key:raw/notes or key:raw/citation_cache")
    yield home
    home.stop()


def warehouse_for(home: Home) -> WarehouseResource:
    return WarehouseResource(home=str(home.path))


def llm_for(url: str, **kwargs) -> LLMResource:
    kwargs.setdefault("max_retries", 4)
    return LLMResource(api_key="sk-ant-test", base_url=url, timeout_seconds=10, **kwargs)
