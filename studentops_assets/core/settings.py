"""Where StudentOps keeps its local state and how it reads `studentops.yaml`.

Everything local lives under STUDENTOPS_HOME (default ./.studentops): the embedded Postgres data
directory, the Dagster home, dlt's working directory, demo inputs and artifacts. The YAML file holds
no secrets: credentials come from environment variables only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from .errors import StudentOpsError

DEFAULT_PORT = 54329
# The study timezone when studentops.yaml names none (the original design's, where the platform runs).
DEFAULT_TIMEZONE = "Australia/Adelaide"
CONFIG_FILE = "studentops.yaml"


def studentops_home() -> Path:
    return Path(os.environ.get("STUDENTOPS_HOME", "./.studentops")).expanduser().resolve()


@dataclass(frozen=True)
class CalendarFeed:
    name: str
    path: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Student:
    id: str
    slug: str
    name: str
    email: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    vault: str | None = None
    calendars: tuple[CalendarFeed, ...] = ()
    # The student's whole mapping from studentops.yaml, for domain-specific keys such as
    # `zotero:` or `google_calendar:` that each domain reads and validates itself.
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class StudentOpsConfig:
    home: Path
    timezone: str = DEFAULT_TIMEZONE
    port: int = DEFAULT_PORT
    inbox: str = "inbox"
    vault: str = "vault"
    platform_database: str = "platform"
    platform_backend: str = "connectorx"
    # Days of run history the Dagster instance keeps (the retention job; latest results are kept).
    retention_keep_days: int = 30
    students: tuple[Student, ...] = field(default_factory=tuple)

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.home / path

    @cached_property
    def inbox_dir(self) -> Path:
        return self.resolve(self.inbox)

    @cached_property
    def vault_dir(self) -> Path:
        return self.resolve(self.vault)

    def student_vault(self, student: Student) -> Path:
        return self.resolve(student.vault) if student.vault else self.vault_dir / student.slug


def _student(raw: dict[str, Any], default_tz: str, index: int) -> Student:
    if not isinstance(raw, dict) or not raw.get("id"):
        raise StudentOpsError(f"{CONFIG_FILE}: students[{index}] needs at least an `id`")
    slug = str(raw.get("slug") or raw["id"])
    calendars = tuple(
        CalendarFeed(name=str(c.get("name", f"calendar{i}")), path=c.get("path"), url=c.get("url"))
        for i, c in enumerate(raw.get("calendars") or [])
    )
    return Student(
        id=str(raw["id"]),
        slug=slug,
        name=str(raw.get("name") or slug),
        email=raw.get("email"),
        timezone=str(raw.get("timezone") or default_tz),
        vault=raw.get("vault"),
        calendars=calendars,
        options=MappingProxyType(dict(raw)),
    )


def load_config(home: Path | None = None) -> StudentOpsConfig:
    """Read `$STUDENTOPS_HOME/studentops.yaml`; a missing file means "no students yet", not an error."""
    home = home or studentops_home()
    path = home / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise StudentOpsError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
        if not isinstance(raw, dict):
            raise StudentOpsError(f"{path}: expected a mapping at the top level")
    tz = str(raw.get("timezone") or DEFAULT_TIMEZONE)
    paths = raw.get("paths") or {}
    port_env = os.environ.get("STUDENTOPS_PG_PORT")
    try:
        port = int(port_env or (raw.get("warehouse") or {}).get("port") or DEFAULT_PORT)
    except (TypeError, ValueError):
        raise StudentOpsError(f"warehouse port must be an integer (STUDENTOPS_PG_PORT / {CONFIG_FILE})") from None
    students = tuple(_student(s, tz, i) for i, s in enumerate(raw.get("students") or []))
    slugs = [s.slug for s in students]
    if len(set(slugs)) != len(slugs):
        raise StudentOpsError(f"{path}: student slugs must be unique, got {slugs}")
    return StudentOpsConfig(
        home=home,
        timezone=tz,
        port=port,
        inbox=str(paths.get("inbox") or "inbox"),
        vault=str(paths.get("vault") or "vault"),
        platform_database=str((raw.get("platform") or {}).get("database") or "platform"),
        platform_backend=str((raw.get("platform") or {}).get("backend") or "connectorx"),
        students=students,
        retention_keep_days=_positive_int(raw.get("retention") or {}, "keep_days", 30),
    )


def _positive_int(section: Any, name: str, default: int) -> int:
    value = section.get(name, default) if isinstance(section, dict) else default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise StudentOpsError(f"{CONFIG_FILE}: retention.{name} must be a positive integer, got {value!r}")
    return number
