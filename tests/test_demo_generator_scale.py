"""The demo generator at scale (issue #13): students are simulated in batches on a process pool and
streamed into COPY, yet the platform's table contents stay a pure function of the demo's arguments:
the same for any batch size and worker count, and the same as the generator made before batching.
"""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg2
import pytest

from studentops_assets.demo import generate_demo, platform_db
from studentops_assets.demo.activity import _course_mix, plan
from studentops_assets.demo.catalog import build_catalog
from studentops_assets.demo.determinism import Ids
from studentops_assets.demo.timeline import Window, course_factor, day_weight

from .conftest import Home, free_port

ARGS = dict(students=40, days=30, seed=5, end_date=dt.date(2026, 3, 15), vault_students=2)

# (row count, md5 of the rows' text sorted) per table for ARGS, made with the generator as it was
# before batching (main at 783493c: everything in lists, one COPY per table): generate_demo(**ARGS)
# into an empty database, then per table, with TIME ZONE 'UTC',
#   select count(*), md5(coalesce(string_agg(t::text, E'\n' order by t::text), '')) from <table> t
# (the same query as `fingerprints` below).
BEFORE_BATCHING = {
    "audit_logs": (984, "405d717e15cdc91c2f8783e5328d5225"),
    "courses": (40, "2ce9787422eec4d7cb54a69d2508226d"),
    "demo_truth.generation": (1, "4e76fd566662db4cbb556a1c9a55be30"),
    "demo_truth.student_disengagement": (40, "55c2748e7a1a19e81750be18d6c82453"),
    "file_requests": (14, "c86da9532f003901038df318d73ab56e"),
    "file_viewing_sessions": (1296, "c027356bfd5c02670e1f6c99ee00e1a5"),
    "lecturers": (25, "32c613a15d9e387ced4416916d5ce9b7"),
    "majors": (6, "f8c1ec57a1c460e39d8f00f1d33f0118"),
    "material_types": (5, "829f61241bf63d8f0a89e03434e1954f"),
    "materials": (249, "a15399dd56a860353cfde42b1f7e0673"),
    "points_transactions": (484, "f3025375f81e1760684dd618695a5b45"),
    "user_course_activities": (205, "97f760514bbe612a3636d434a9c453a1"),
    "user_notes": (63, "d0e2a1b08b51fb486626799ba066c9f5"),
    "user_recent_files": (349, "0ea5585f51d22ce57d479fb7afc8ba56"),
    "user_tasks": (629, "f1745ae6b9b69cdc5e9c835d6bcff6bc"),
    "users": (43, "b940da2d8d6e6c9ad84efa432717fb61"),
}

# (workers, batch_students): in one process in one batch; in one process in uneven batches; on a
# pool of two forked workers with more batches than workers in flight.
LAYOUTS = ((1, 40), (1, 3), (2, 7))


def query(dsn: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def fingerprints(dsn: str) -> dict[str, tuple[int, str]]:
    out = {}
    for table in platform_db.COLUMNS:
        (count, digest), = query(
            dsn, f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {table} t")
        out[table] = (count, digest)
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Fingerprints and summaries of the demo made with every layout, each into its own database."""
    home = Home(tmp_path_factory.mktemp("scale-home"), free_port())
    try:
        server = home.db_url()
        conn = psycopg2.connect(server)
        conn.autocommit = True
        with conn.cursor() as cur:
            for workers, batch in LAYOUTS:
                cur.execute(f"CREATE DATABASE scale_{workers}_{batch}")
        conn.close()
        out = {}
        for workers, batch in LAYOUTS:
            dsn = server.rsplit("/", 1)[0] + f"/scale_{workers}_{batch}"
            summary = generate_demo(tmp_path_factory.mktemp("files"), dsn, warehouse_port=home.port,
                                    workers=workers, batch_students=batch, **ARGS)
            out[(workers, batch)] = (summary, fingerprints(dsn), dsn)
        yield out
    finally:
        home.stop()


def test_batch_size_and_workers_do_not_change_the_data(generated):
    (_, reference, _), *others = generated.values()
    assert reference["file_viewing_sessions"][0] > 1000  # a demo with real activity, not empty tables
    for layout, (summary, prints, _) in generated.items():
        assert prints == reference, f"layout (workers, batch_students) = {layout} changed the data"
        assert summary.tables == {table: count for table, (count, _) in prints.items()}


def test_the_data_is_what_the_generator_made_before_batching(generated):
    _, prints, _ = generated[(2, 7)]
    assert prints == BEFORE_BATCHING


def test_users_points_add_up_over_batches(generated):
    """users.total_points and updated_at need every batch's ledger: each equals what the loaded
    points_transactions say, for every user (the catalog's upload awards included)."""
    _, _, dsn = generated[(2, 7)]
    mismatches = query(dsn, """
        select u.id, u.total_points, coalesce(sum(p.amount), 0), u.updated_at,
               greatest(u.created_at, max(p.created_at))
        from users u left join points_transactions p on p.user_id = u.id
        group by u.id
        having u.total_points <> coalesce(sum(p.amount), 0)
            or u.updated_at <> greatest(u.created_at, max(p.created_at))
    """)
    assert mismatches == []
    (earning,), = query(dsn, "select count(distinct user_id) from points_transactions")
    assert earning > 30


def test_scale_is_the_scalar_double_sum():
    """K is the one number all students' rates share: the vectorised sum must give exactly the float
    the scalar student-by-day loop gave, or some Poisson draws (and the whole demo) would move."""
    window = Window.ending(dt.date(2026, 6, 20), 75)  # spans an exam ramp
    catalog = build_catalog(3, 90, window)
    days = [window.day(i) for i in range(window.days)]
    factors = {sem: [course_factor(sem, day) for day in days] for sem in (1, 2)}
    weekday_w = [day_weight(day.weekday()) for day in days]
    expected = sum(
        s.base_rate * weekday_w[d]
        * (sum(c.popularity * factors[c.spec.semester][d] for c in s.courses) / len(s.courses))
        for s in catalog.students for d in range(window.days))
    assert plan(3, catalog).scale == 1.05 * 90 * 75 / expected
    import numpy as np
    arrays = {sem: np.array(f) for sem, f in factors.items()}
    s = catalog.students[17]
    assert _course_mix(s, arrays).tolist() == [
        sum(c.popularity * factors[c.spec.semester][d] for c in s.courses) / len(s.courses) for d in range(75)]


def test_ids_are_uuid5_of_the_key():
    ids = Ids(7)
    for key in ("session:12:345", "audit:login:x:2026-01-01", "é-ß", ""):
        assert ids.name(key) == str(uuid.uuid5(ids.namespace, key))
    assert ids("task", 3, 9) == str(uuid.uuid5(ids.namespace, "task:3:9"))
    assert uuid.UUID(ids.name("note:1")).version == 5
