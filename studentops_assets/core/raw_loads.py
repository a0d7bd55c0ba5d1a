"""What every raw loader asset does around its dlt run: flush quarantine, then report the table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from .quarantine import QuarantineBatch, quarantined_count


class QuarantineFlusher:
    """The `flush_quarantine` callback a source calls once extraction has read every input, before
    dlt loads; it remembers how many issues it wrote for the asset's metadata."""

    def __init__(self, warehouse: Any):
        self.warehouse = warehouse
        self.issues = 0

    def __call__(self, batch: QuarantineBatch) -> None:
        with self.warehouse.connection() as conn:
            self.issues = batch.flush(conn)


@dataclass(frozen=True)
class RawTableStats:
    rows: int
    students: int
    quarantined_total: int

    def metadata(self, issues_this_run: int) -> dict[str, Any]:
        return {
            "dagster/row_count": dg.MetadataValue.int(self.rows),
            "students": dg.MetadataValue.int(self.students),
            "quarantine_issues_this_run": dg.MetadataValue.int(issues_this_run),
            "quarantined_total": dg.MetadataValue.int(self.quarantined_total),
        }


def raw_table_stats(warehouse: Any, table: str, source: str, per_student: bool = True) -> RawTableStats:
    """Rows (and distinct students) of raw.<table> and the source's quarantine size; a table that
    does not exist yet counts as empty."""
    with warehouse.connection() as conn:
        quarantined = quarantined_count(conn, source)
        with conn.cursor() as cur:
            cur.execute("select to_regclass(%s) is not null", (f"raw.{table}",))
            if not cur.fetchone()[0]:
                return RawTableStats(0, 0, quarantined)
            students = "count(distinct student_id)" if per_student else "0"
            cur.execute(f'select count(*), {students} from raw."{table}"')
            rows, student_count = cur.fetchone()
    return RawTableStats(int(rows), int(student_count), quarantined)
