"""A day's worth of change at the platform, for the incremental part of the benchmark.

Deterministic for a seed (rows are picked by a hash of their id), and of the kinds the replication
must handle: updated rows (merge on the cursor), new rows in the append-only ledger and in the
sessions table, and deleted rows (deletion detection).
"""

from __future__ import annotations

from resources.postgres_server import connect

# Per mille of the table's rows touched by each statement.
_STATEMENTS = (
    ("users updated", "update users set name = name || ' (renamed)', updated_at = now() "
     "where abs(hashtext(id::text || %(seed)s)) %% 1000 < 20"),
    ("user_tasks updated", "update user_tasks set completed = not completed, updated_at = now() "
     "where abs(hashtext(id::text || %(seed)s)) %% 1000 < 10"),
    ("user_tasks deleted", "delete from user_tasks where abs(hashtext(id::text || 'delete' || %(seed)s)) %% 1000 < 5"),
    ("points_transactions inserted",
     "insert into points_transactions (id, user_id, amount, action, reason, source_id, created_at) "
     "select gen_random_uuid(), user_id, amount, action, 'bench delta', 'bench:' || id::text, now() "
     "from points_transactions where abs(hashtext(id::text || %(seed)s)) %% 1000 < 10"),
    ("file_viewing_sessions inserted",
     "insert into file_viewing_sessions (id, user_id, file_id, course_id, started_at, active_seconds, "
     "required_active_seconds, completion_score, is_complete) "
     "select gen_random_uuid(), user_id, file_id, course_id, now(), active_seconds, required_active_seconds, "
     "completion_score, is_complete from file_viewing_sessions where abs(hashtext(id::text || %(seed)s)) %% 1000 < 10"),
)


def apply_platform_delta(platform_url: str, seed: int) -> dict[str, int]:
    """Apply the change in one transaction; returns rows touched per statement."""
    conn = connect(platform_url)
    touched = {}
    try:
        with conn, conn.cursor() as cur:
            for name, statement in _STATEMENTS:
                cur.execute(statement, {"seed": str(seed)})
                touched[name] = cur.rowcount
    finally:
        conn.close()
    return touched
