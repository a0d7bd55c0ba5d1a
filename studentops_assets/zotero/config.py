"""Which Zotero library each student has: the `zotero:` mapping of their entry in studentops.yaml.

    students:
      - id: ...
        slug: ada
        zotero: {library_type: user, library_id: "475425"}

A missing section means "not configured"; a broken one is reported in meta.quarantine and skipped, so
one student's typo never stops the others' sync. Keys are not read from here (see resources/zotero.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from studentops_assets.core.quarantine import Issue
from studentops_assets.core.settings import Student

LIBRARY_TYPES = ("user", "group")


@dataclass(frozen=True)
class LibrarySpec:
    """One student's library. Several students may share a group library; each keeps its own rows."""

    student_id: str
    slug: str
    library_type: str  # "user" | "group"
    library_id: str  # Zotero library IDs are positive integers, kept as text
    api_key: str = field(repr=False, compare=False)

    @property
    def path(self) -> str:
        """The API's library prefix: `users/475425` or `groups/36222`."""
        return f"{self.library_type}s/{self.library_id}"

    @property
    def cursor_id(self) -> str:
        return f"{self.student_id}:{self.path}"


@dataclass(frozen=True)
class StudentPlan:
    student_id: str
    slug: str
    library: LibrarySpec | None  # None: nothing to sync for this student
    status: str  # why not, when library is None
    issues: tuple[Issue, ...] = ()
    library_path: str | None = None  # the configured library, even when it cannot be synced


def _location(slug: str, key: str | None = None) -> str:
    return f"students[{slug}].zotero" + (f".{key}" if key else "")


def plan_student(student: Student, api_key_for: Callable[[str], str | None], key_env: Callable[[str], str]) -> StudentPlan:
    raw = student.options.get("zotero")
    if raw is None:
        return StudentPlan(student.id, student.slug, None, "not configured: no zotero section in studentops.yaml")
    if not isinstance(raw, dict):
        issue = Issue(_location(student.slug), "zotero must be a mapping with library_type and library_id", repr(raw)[:80])
        return StudentPlan(student.id, student.slug, None, f"invalid config: {issue.reason}", (issue,))
    issues: list[Issue] = []
    if "api_key" in raw:
        # Never echo it: the value is a secret that should not have been written here.
        issues.append(
            Issue(_location(student.slug, "api_key"), f"ignored: API keys come from the environment ({key_env(student.slug)})")
        )
    library_type = raw.get("library_type")
    kind = library_type.strip().lower() if isinstance(library_type, str) else None
    if kind not in LIBRARY_TYPES:
        issues.append(Issue(_location(student.slug, "library_type"), "library_type must be 'user' or 'group'", repr(library_type)[:80]))
    library_id = raw.get("library_id")
    text_id = str(library_id).strip() if isinstance(library_id, (int, str)) and not isinstance(library_id, bool) else ""
    if not (text_id.isascii() and text_id.isdigit() and int(text_id) > 0):
        issues.append(Issue(_location(student.slug, "library_id"), "library_id must be a positive integer such as \"475425\"", repr(library_id)[:80]))
    blocking = [i for i in issues if not i.location.endswith(".api_key")]
    if blocking:
        return StudentPlan(student.id, student.slug, None, "invalid config: " + "; ".join(i.reason for i in blocking), tuple(issues))
    path = f"{kind}s/{int(text_id)}"
    api_key = api_key_for(student.slug)
    if not api_key:
        status = f"not configured: no API key (set STUDENTOPS_ZOTERO_API_KEY or {key_env(student.slug)})"
        return StudentPlan(student.id, student.slug, None, status, tuple(issues), path)
    library = LibrarySpec(student.id, student.slug, kind, str(int(text_id)), api_key)
    return StudentPlan(student.id, student.slug, library, "configured", tuple(issues), path)


def plan_students(
    students: Iterable[Student], api_key_for: Callable[[str], str | None], key_env: Callable[[str], str]
) -> list[StudentPlan]:
    return [plan_student(s, api_key_for, key_env) for s in students]

