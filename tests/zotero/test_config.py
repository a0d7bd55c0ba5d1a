"""The `zotero:` section of a student in studentops.yaml, and where each student's key comes from."""

from __future__ import annotations

from types import MappingProxyType

from resources.zotero import ZoteroResource, student_key_env
from studentops_assets.core.settings import Student
from studentops_assets.zotero.config import plan_student

SECRET = "zk-Sup3rSecret0000000000"


def student(slug: str = "ada", **options) -> Student:
    return Student(id=f"id-{slug}", slug=slug, name=slug, options=MappingProxyType({"id": f"id-{slug}", "slug": slug, **options}))


def plan(s: Student, key: str | None = SECRET):
    return plan_student(s, lambda slug: key, student_key_env)


def test_user_and_group_libraries():
    ada = plan(student(zotero={"library_type": "user", "library_id": "475425"}))
    assert ada.status == "configured" and ada.issues == ()
    assert (ada.library.path, ada.library.cursor_id) == ("users/475425", "id-ada:users/475425")
    group = plan(student(zotero={"library_type": "Group", "library_id": 36222}))
    assert group.library.path == "groups/36222"


def test_no_section_means_not_configured():
    got = plan(student())
    assert got.library is None and got.status.startswith("not configured") and got.issues == ()


def test_missing_key_means_not_configured_and_names_the_variables():
    got = plan(student("ada-l", zotero={"library_type": "user", "library_id": "1"}), key=None)
    assert got.library is None and got.library_path == "users/1"
    assert "STUDENTOPS_ZOTERO_API_KEY_ADA_L" in got.status


def test_broken_sections_are_reported_per_field():
    got = plan(student(zotero={"library_type": "team", "library_id": "12a"}))
    assert got.library is None and got.status.startswith("invalid config")
    assert [(i.location, i.snippet) for i in got.issues] == [
        ("students[ada].zotero.library_type", "'team'"),
        ("students[ada].zotero.library_id", "'12a'"),
    ]
    for bad in (True, 0, -3, "", None, 1.5, "٣"):
        assert plan(student(zotero={"library_type": "user", "library_id": bad})).library is None, bad
    assert plan(student(zotero="users/1")).issues[0].reason.startswith("zotero must be a mapping")


def test_a_key_written_in_the_yaml_is_ignored_and_never_echoed():
    got = plan(student(zotero={"library_type": "user", "library_id": "1", "api_key": SECRET}), key="from-env")
    assert got.library is not None and got.library.api_key == "from-env"
    (issue,) = got.issues
    assert issue.location == "students[ada].zotero.api_key" and issue.snippet is None
    assert SECRET not in repr(got) and SECRET not in issue.reason


def test_per_student_key_wins_over_the_shared_one(monkeypatch):
    resource = ZoteroResource(api_key="shared")
    monkeypatch.delenv("STUDENTOPS_ZOTERO_API_KEY_GRACE_H", raising=False)
    assert resource.api_key_for("grace-h") == "shared"
    monkeypatch.setenv("STUDENTOPS_ZOTERO_API_KEY_GRACE_H", "own")
    assert resource.api_key_for("grace-h") == "own"
    assert ZoteroResource().api_key_for("ada") is None
    # The key is not part of a library's repr (log lines, tracebacks).
    lib = plan(student(zotero={"library_type": "user", "library_id": "1"})).library
    assert SECRET not in repr(lib)


def test_definitions_load_with_the_resources_the_code_location_binds():
    import dagster as dg
    from dagster_dlt import DagsterDltResource

    from resources.warehouse import WarehouseResource
    from resources.zotero import zotero_resource
    from studentops_assets.zotero.definitions import defs

    merged = dg.Definitions.merge(
        defs,
        dg.Definitions(resources={"warehouse": WarehouseResource(), "dlt": DagsterDltResource(), "zotero": zotero_resource()}),
    )
    dg.Definitions.validate_loadable(merged)
    (spec,) = merged.resolve_all_asset_specs()
    assert spec.key == dg.AssetKey(["raw", "zotero_items"]) and spec.group_name == "references"
    assert spec.kinds == {"dlt", "postgres"} and "Zotero Web API v3" in spec.description
    assert spec.metadata["dagster/table_name"] == "warehouse.raw.zotero_items"
    assert dg.AssetCheckKey(spec.key, "quarantine_rate") in merged.resolve_asset_graph().asset_check_keys
