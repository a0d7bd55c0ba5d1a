"""`studentops.yaml` for the demo: the configured students and where their study sources live."""

from __future__ import annotations

import yaml

from .catalog import Student
from .names import slugify
from .timeline import TIMEZONE

HEADER = (
    "# StudentOps configuration written by `studentops demo`.\n"
    "# Student ids are users.id in the demo platform database; rerunning the demo rewrites this file.\n"
)


def student_slugs(students: list[Student]) -> list[str]:
    """First names as slugs, numbered on a clash (`noah`, `noah-2`)."""
    seen: dict[str, int] = {}
    out = []
    for s in students:
        base = slugify(s.first) or "student"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def render(students: list[Student], slugs: list[str], platform_database: str, warehouse_port: int) -> str:
    config = {
        "timezone": TIMEZONE,
        "warehouse": {"port": warehouse_port},
        "paths": {"inbox": "inbox", "vault": "vault"},
        "platform": {"database": platform_database},
        "students": [
            {
                "id": s.id,
                "slug": slug,
                "name": s.name,
                "email": s.email,
                "timezone": TIMEZONE,
                "vault": f"vault/{slug}",
                "calendars": [
                    {"name": "lectures", "path": f"calendars/{slug}/lectures.ics"},
                    {"name": "study", "path": f"calendars/{slug}/study-blocks.ics"},
                ],
            }
            for s, slug in zip(students, slugs)
        ],
    }
    # Key order is the fixed insertion order above; flow style only for the leaf mappings.
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    return HEADER + body
