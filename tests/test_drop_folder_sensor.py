"""The drop-folder sensor requests exactly the raw assets whose files changed."""

from __future__ import annotations

import json
import os

import dagster as dg
import yaml

from sensors.drop_folders import build_drop_folder_sensor

NOTES = dg.AssetKey(["raw", "notes"])
BIBTEX = dg.AssetKey(["raw", "bibtex_entries"])


def tick(sensor, cursor):
    context = dg.build_sensor_context(cursor=cursor)
    results = list(sensor(context))
    return results, context.cursor


def test_sensor_requests_only_affected_assets(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDENTOPS_HOME", str(tmp_path))
    (tmp_path / "studentops.yaml").write_text(yaml.safe_dump({"students": [{"id": "s1", "slug": "ada"}]}))
    note = tmp_path / "vault/ada/a.md"
    note.parent.mkdir(parents=True)
    note.write_text("# A\n")
    (tmp_path / "vault/ada/.obsidian").mkdir()
    (tmp_path / "vault/ada/.obsidian/app.md").write_text("settings")
    (tmp_path / "inbox").mkdir()
    sensor = build_drop_folder_sensor({NOTES, BIBTEX})

    (request,), cursor = tick(sensor, None)
    assert isinstance(request, dg.RunRequest) and request.asset_selection == [NOTES]
    assert list(json.loads(cursor)) == ["vault:s1:a.md"]

    (skip,), cursor = tick(sensor, cursor)
    assert isinstance(skip, dg.SkipReason)

    # A touch moves the mtime but not the content: nothing to do.
    stat = note.stat()
    os.utime(note, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    (skip,), cursor = tick(sensor, cursor)
    assert isinstance(skip, dg.SkipReason)

    (tmp_path / "inbox/refs-ada.bib").write_text("@article{k, title={T}}\n")
    (tmp_path / "inbox/feed.ics").write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")  # no ical asset here
    (request,), cursor = tick(sensor, cursor)
    assert request.asset_selection == [BIBTEX]

    note.write_text("# A, edited\n")
    (request,), cursor = tick(sensor, cursor)
    assert request.asset_selection == [NOTES]

    note.unlink()
    (request,), cursor = tick(sensor, cursor)
    assert request.asset_selection == [NOTES]
    (skip,), _ = tick(sensor, cursor)
    assert isinstance(skip, dg.SkipReason)


def test_first_tick_after_a_materialisation_loads_nothing_twice(tmp_path, monkeypatch):
    """The first `studentops dev` after `studentops materialize`: the sensor has no cursor yet, but the
    files that materialisation loaded are not requested again; a file written after it is."""
    import time

    monkeypatch.setenv("STUDENTOPS_HOME", str(tmp_path))
    (tmp_path / "studentops.yaml").write_text(yaml.safe_dump({"students": [{"id": "s1", "slug": "ada"}]}))
    (tmp_path / "inbox").mkdir()
    note = tmp_path / "vault/ada/a.md"
    note.parent.mkdir(parents=True)
    note.write_text("# A\n")
    (tmp_path / "inbox/refs-ada.bib").write_text("@article{k, title={T}}\n")
    time.sleep(0.05)
    sensor = build_drop_folder_sensor({NOTES, BIBTEX})
    with dg.instance_for_test() as instance:
        for key in (NOTES, BIBTEX):  # what `studentops materialize` recorded
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
        context = dg.build_sensor_context(instance=instance, cursor=None)
        (skip,) = list(sensor(context))
        assert isinstance(skip, dg.SkipReason)
        assert sorted(json.loads(context.cursor)) == ["inbox:refs-ada.bib", "vault:s1:a.md"]

        # Without a cursor, a note written after the last load is new.
        time.sleep(0.05)
        (tmp_path / "vault/ada/b.md").write_text("# B\n")
        context = dg.build_sensor_context(instance=instance, cursor=None)
        (request,) = list(sensor(context))
        assert request.asset_selection == [NOTES]
