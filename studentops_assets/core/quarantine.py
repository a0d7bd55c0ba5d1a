"""`meta.quarantine`: where bad files and records go, with their source, location and a readable reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg2.extras import execute_values

SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Issue:
    """One problem found in a file: `location` says where (line, field, entry key), `reason` why."""

    location: str
    reason: str
    snippet: str | None = None


@dataclass
class QuarantineBatch:
    """Issues collected while extracting one source, written per file in one transaction.

    Re-evaluating a file replaces that file's rows: problems that persist keep their first_seen,
    problems that are gone (the file was fixed) are removed, new ones are added.
    """

    source: str
    files: dict[tuple[str, str], list[Issue]] = field(default_factory=dict)

    def record(self, student_id: str, file: str, issues: list[Issue]) -> None:
        # One row per (location, reason): the same problem twice in a file (two malformed DOI lines
        # in one field) would otherwise hit the same row twice in one upsert, which Postgres refuses.
        unique: dict[tuple[str, str], Issue] = {}
        for issue in issues:
            unique.setdefault((issue.location, issue.reason), issue)
        self.files[(student_id, file)] = list(unique.values())

    @property
    def issue_count(self) -> int:
        return sum(len(v) for v in self.files.values())

    def flush(self, conn) -> int:
        if not self.files:
            return 0
        with conn, conn.cursor() as cur:
            for (student_id, file), issues in self.files.items():
                keep = [(i.location, i.reason) for i in issues]
                cur.execute(
                    """
                    delete from meta.quarantine
                    where source = %s and student_id = %s and file = %s
                      and (location, reason) not in (select * from unnest(%s::text[], %s::text[]))
                    """,
                    (self.source, student_id, file, [k[0] for k in keep], [k[1] for k in keep]),
                )
                if issues:
                    execute_values(
                        cur,
                        """
                        insert into meta.quarantine (source, student_id, file, location, reason, snippet)
                        values %s
                        on conflict on constraint quarantine_identity
                        do update set last_seen = now(), snippet = excluded.snippet
                        """,
                        [
                            (self.source, student_id, file, i.location, i.reason, (i.snippet or "")[:SNIPPET_CHARS] or None)
                            for i in issues
                        ],
                    )
        written = self.issue_count
        self.files.clear()
        return written


def quarantined_count(conn, source: str) -> int:
    with conn.cursor() as cur:
        cur.execute("select count(*) from meta.quarantine where source = %s", (source,))
        return int(cur.fetchone()[0])
