"""Small pure functions whose mistakes would leak a secret or fail a whole load."""

from __future__ import annotations

from resources.postgres_server import PgParams, redact
from studentops_assets.core.quarantine import Issue, QuarantineBatch


def test_redact_hides_passwords_in_userinfo_and_query():
    assert redact("postgresql://u:s3cret@db:5432/w") == "postgresql://u:***@db:5432/w"
    assert redact("postgresql://u@db/w?sslmode=require&password=s3cret") == "postgresql://u@db/w?sslmode=require&password=***"
    assert "s3cret" not in redact("postgresql://u:s3cret@db/w?password=s3cret")
    assert PgParams.from_url("postgresql://u:p%40ss@db:6543/w").password == "p@ss"


def test_the_same_problem_twice_in_a_file_is_one_quarantine_row():
    batch = QuarantineBatch("zotero")
    batch.record("s1", "lib", [Issue("extra", "not a DOI"), Issue("extra", "not a DOI", "x"), Issue("title", "empty")])
    assert [(i.location, i.reason) for i in batch.files[("s1", "lib")]] == [("extra", "not a DOI"), ("title", "empty")]


def test_csv_load_files_write_zoned_timestamps_as_the_same_utc_instants(tmp_path):
    import csv
    import datetime as dt
    import io
    from pathlib import Path
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    from studentops_assets.platform.load_files import CsvLoadFiles

    amsterdam = ZoneInfo("Europe/Amsterdam")
    instants = [
        dt.datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=dt.timezone.utc),  # the night clocks go forward
        dt.datetime(2026, 10, 25, 2, 30, tzinfo=amsterdam),  # the hour that happens twice
        dt.datetime(1969, 12, 31, 23, 0, 0, 1, tzinfo=dt.timezone.utc),  # before the epoch
        None,
    ]
    table = pa.table({
        "Started At": pa.array(instants, type=pa.timestamp("us", tz="Europe/Amsterdam")),
        "due": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5)] * 3 + [None], type=pa.timestamp("us")),
        "note": ["", None, 'a,"b"', "x"],
    })
    # Through the map step itself: its deferred write returns dlt's file-import marker.
    marker = CsvLoadFiles(tmp_path)(table)()
    assert marker.meta.metrics.items_count == 4
    assert marker.data.schema == table.schema  # the hints keep the arrow types: timestamptz, not text
    text = Path(marker.meta.file_path).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    # dlt's column names, so the COPY job finds every header column in the table.
    assert rows[0] == ["started_at", "due", "note"]
    parsed = [dt.datetime.fromisoformat(r[0]) if r[0] else None for r in rows[1:]]
    assert [p and p.timestamp() for p in parsed] == [i and i.timestamp() for i in instants]
    assert all(r[0].endswith("Z") for r in rows[1:4])
    # A zone-free timestamp stays zone-free; NULL is an unquoted empty field, '' a quoted one.
    assert rows[1][1] == "2026-01-02 03:04:05.000000"
    assert text.splitlines()[1].endswith(',""') and text.splitlines()[2].endswith(",")
