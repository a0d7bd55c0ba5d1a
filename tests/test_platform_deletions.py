"""Deletion detection by bucketed checksums (platform/deletions.py), through Dagster and directly.

The sessions table is grown at the source to 100k+ rows so it spans many checksum buckets: a few
deletions must then stream the ids of a few buckets, not of the table.
"""

from __future__ import annotations

import psycopg2
import pytest

from studentops_assets.platform.deletions import WHOLE_STREAM_SHARE, remove_deleted_rows
from studentops_assets.platform.tables import BY_RAW_TABLE, PLATFORM_TABLES

from .conftest import HASHING_EMBEDDER, Home, free_port
from .test_platform_replication import latest_materialization

SESSIONS = "file_viewing_sessions"
EXTRA_SESSIONS = 100_000
SESSION_COLUMNS = ("user_id, file_id, course_id, started_at, active_seconds, required_active_seconds, "
                   "completion_score, is_complete")


@pytest.fixture(scope="module")
def deletions_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("deletions-home"), free_port(), env_defaults=HASHING_EMBEDDER)
    home.cli("demo", "--students", "20", "--days", "14", "--seed", "5", "--vault-students", "1")
    # Copies of the demo's sessions under new ids: a history long enough for many buckets.
    home.query(
        f"insert into {SESSIONS} (id, {SESSION_COLUMNS}) "
        f"select gen_random_uuid(), {SESSION_COLUMNS} from {SESSIONS} s, "
        f"generate_series(1, ceil(%s::numeric / (select count(*) from {SESSIONS}))::int) n limit %s",
        (EXTRA_SESSIONS, EXTRA_SESSIONS),
        url=home.db_url("--database", "platform"),
    )
    result = home.cli("materialize", "--select", "group:platform")
    assert "14/14 assets materialised" in result.stdout
    yield home
    home.stop()


def ids(home: Home, url: str, relation: str) -> set[str]:
    return {i for (i,) in home.query(f"select id::text from {relation}", url=url)}


def source_ids_in_buckets(home: Home, url: str, buckets: int, of_ids: list[str]) -> int:
    """How many source ids share a checksum bucket with any of `of_ids` (the detector's own hashing)."""
    (count,), = home.query(
        f"select count(*) from {SESSIONS} where hashtextextended(id::text, 0) & %(mask)s = any("
        "select hashtextextended(i, 0) & %(mask)s from unnest(%(ids)s::text[]) i)",
        {"mask": buckets - 1, "ids": of_ids},
        url=url,
    )
    return count


def assert_row_counts_are_exact(home: Home):
    for table in PLATFORM_TABLES:
        (count,), = home.query(f"select count(*) from raw.{table.raw_table}")
        assert latest_materialization(home, table.raw_table)["dagster/row_count"] == count, table.name


def test_first_sync_compares_nothing(deletions_home):
    sessions = latest_materialization(deletions_home, f"platform_{SESSIONS}")
    assert sessions["first_sync"] is True
    assert (sessions["ids_compared_this_run"], sessions["rows_deleted_this_run"]) == (0, 0)
    assert sessions["dagster/row_count"] >= EXTRA_SESSIONS
    # Only the delete-detected tables report a comparison.
    ledger = latest_materialization(deletions_home, "platform_points_transactions")
    assert "ids_compared_this_run" not in ledger
    assert_row_counts_are_exact(deletions_home)


def test_deleted_rows_leave_the_replica_and_only_their_buckets_are_streamed(deletions_home):
    platform_url = deletions_home.db_url("--database", "platform")
    gone = [i for (i,) in deletions_home.query(
        f"select id::text from {SESSIONS} order by md5(id::text) limit 3", url=platform_url)]
    deletions_home.query(
        f"delete from {SESSIONS} where id = any(%s::uuid[]);"
        # New sessions arrive in the same delta: they are loaded before the check and change nothing.
        f"insert into {SESSIONS} (id, {SESSION_COLUMNS}) select gen_random_uuid(), user_id, file_id, course_id, "
        f"now(), active_seconds, required_active_seconds, completion_score, is_complete from {SESSIONS} limit 5",
        (gone,),
        url=platform_url,
    )
    result = deletions_home.cli("materialize", "--select", "group:platform")
    assert "14/14 assets materialised" in result.stdout

    replica = ids(deletions_home, deletions_home.db_url(), f"raw.platform_{SESSIONS}")
    assert replica == ids(deletions_home, platform_url, SESSIONS)
    assert not replica & set(gone)
    sessions = latest_materialization(deletions_home, f"platform_{SESSIONS}")
    assert sessions["rows_deleted_this_run"] == 3
    buckets = sessions["deletion_check_buckets"]
    assert buckets >= 1024
    differing = len({h for (h,) in deletions_home.query(
        "select hashtextextended(i, 0) & %s from unnest(%s::text[]) i", (buckets - 1, gone))})
    assert sessions["deletion_check_buckets_differing"] == differing
    # Exactly the source's ids of the buckets the deleted rows were in: a few buckets, not the table.
    assert sessions["ids_compared_this_run"] == source_ids_in_buckets(deletions_home, platform_url, buckets, gone)
    assert 0 < sessions["ids_compared_this_run"] < len(replica) / 8
    assert sessions["dagster/row_count"] == len(replica)
    assert_row_counts_are_exact(deletions_home)


def test_a_rerun_without_change_streams_no_id(deletions_home):
    before = ids(deletions_home, deletions_home.db_url(), f"raw.platform_{SESSIONS}")
    deletions_home.cli("materialize", "--select", "group:platform")
    assert ids(deletions_home, deletions_home.db_url(), f"raw.platform_{SESSIONS}") == before
    for table in PLATFORM_TABLES:
        if table.delete_detection:
            metadata = latest_materialization(deletions_home, table.raw_table)
            assert metadata["first_sync"] is False, table.name
            assert metadata["deletion_check_buckets_differing"] == 0, table.name
            assert (metadata["ids_compared_this_run"], metadata["rows_deleted_this_run"]) == (0, 0), table.name
    assert_row_counts_are_exact(deletions_home)


@pytest.fixture
def connections(deletions_home):
    platform = psycopg2.connect(deletions_home.db_url("--database", "platform"))
    warehouse = psycopg2.connect(deletions_home.db_url())
    yield platform, warehouse
    platform.close()
    warehouse.close()


def test_rows_not_yet_replicated_are_not_the_detectors_business(deletions_home, connections):
    platform_url = deletions_home.db_url("--database", "platform")
    replica_before = ids(deletions_home, deletions_home.db_url(), f"raw.platform_{SESSIONS}")
    # Rows the replica does not have yet (no load in between) make their buckets differ, and two
    # replicated rows are deleted at the source.
    new = [i for (i,) in deletions_home.query(
        f"insert into {SESSIONS} (id, {SESSION_COLUMNS}) select gen_random_uuid(), {SESSION_COLUMNS} "
        f"from {SESSIONS} limit 4 returning id::text", url=platform_url)]
    gone = [i for (i,) in deletions_home.query(
        f"delete from {SESSIONS} where id in (select id from {SESSIONS} where id::text <> all(%s) "
        "order by md5(id::text) desc limit 2) returning id::text", (new,), url=platform_url)]
    try:
        check = remove_deleted_rows(*connections, BY_RAW_TABLE[f"platform_{SESSIONS}"])
        assert check.rows_deleted == 2
        replica = ids(deletions_home, deletions_home.db_url(), f"raw.platform_{SESSIONS}")
        assert replica == replica_before - set(gone)
        assert not replica & set(new)
        assert check.replica_rows == len(replica)
        assert check.ids_compared == source_ids_in_buckets(deletions_home, platform_url, check.buckets, new + gone)
        assert check.ids_compared < len(replica) / 4
        # Nothing more to find: the new rows still differ, but nothing of theirs is deleted.
        again = remove_deleted_rows(*connections, BY_RAW_TABLE[f"platform_{SESSIONS}"])
        assert again.rows_deleted == 0 and again.buckets_differing > 0
        assert ids(deletions_home, deletions_home.db_url(), f"raw.platform_{SESSIONS}") == replica
    finally:
        deletions_home.query(f"delete from {SESSIONS} where id = any(%s::uuid[])", (new,), url=platform_url)


def test_when_almost_every_bucket_differs_every_id_is_streamed(deletions_home, connections):
    platform_url = deletions_home.db_url("--database", "platform")
    # Half the tasks deleted at random: every bucket of a few dozen rows loses some.
    gone = {i for (i,) in deletions_home.query(
        "delete from user_tasks where md5(id::text) < '8' returning id::text", url=platform_url)}
    check = remove_deleted_rows(*connections, BY_RAW_TABLE["platform_user_tasks"])
    source = ids(deletions_home, platform_url, "user_tasks")
    assert check.buckets_differing > WHOLE_STREAM_SHARE * check.buckets
    assert check.rows_deleted == len(gone) > 0
    assert check.ids_compared == len(source) == check.replica_rows
    assert ids(deletions_home, deletions_home.db_url(), "raw.platform_user_tasks") == source
