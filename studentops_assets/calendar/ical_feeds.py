"""Which iCal feeds each student has, and fetching their bytes.

A student's feeds are the `calendars:` entries of studentops.yaml (`{name, path}` relative to
STUDENTOPS_HOME, or `{name, url}` over http(s)) followed by the `.ics` files in the inbox that belong
to them.

Inbox rule: a file belongs to the student whose slug appears in its path inside the inbox as whole
words, words being the runs of letters and digits (`demo-ada-extra.ics`, `ada/export.ics` and
`2026 Ada timetable.ics` all belong to `ada`). When several slugs match, the one with the most words
wins (`demo-noah-2-extra.ics` is `noah-2`'s, not `noah`'s); a tie between different students, or no
match at all, quarantines the file with that reason.

A feed URL can carry a secret (private calendar addresses do), so a URL never leaves this module:
rows, quarantine and metadata name the feed and show only the URL's scheme and host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dlt.sources.helpers.requests import Client

from studentops_assets.core.settings import StudentOpsConfig

from .retrying_http import network_failure

ICS_SUFFIX = ".ics"
_WORD = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True)
class FeedSpec:
    student_id: str
    feed_id: str  # identity in the loader's state: student + configured name, or student + inbox path
    name: str  # the configured name, or the inbox file's name
    kind: str  # "path" | "url" | "inbox"
    label: str  # shown in rows and quarantine: a relative path, or "feed:<name>" for URLs
    location: str  # relative path, or the URL reduced to scheme://host
    timezone: str  # the student's, for floating times and all-day events
    path: Path | None = None
    url: str | None = None


@dataclass(frozen=True)
class UnmatchedFile:
    label: str
    reason: str


@dataclass(frozen=True)
class FeedContent:
    data: bytes | None
    failure: str | None = None


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains(words: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(words[i : i + n] == needle for i in range(len(words) - n + 1))


def owner_of(relative: str, slugs: Sequence[str]) -> tuple[str | None, str | None]:
    """(slug, None) for the student an inbox file belongs to, or (None, reason)."""
    stem = relative[: -len(ICS_SUFFIX)] if relative.lower().endswith(ICS_SUFFIX) else relative
    words = _words(stem)
    matches = [(len(_words(slug)), slug) for slug in slugs if _contains(words, _words(slug))]
    if not matches:
        return None, "matches no configured student: name the file <anything>-<slug>-<anything>.ics or put it in <slug>/"
    best = max(n for n, _ in matches)
    winners = sorted(slug for n, slug in matches if n == best)
    if len(winners) > 1:
        return None, f"matches more than one student ({', '.join(winners)}): rename it to carry one slug"
    return winners[0], None


def inbox_files(inbox: Path) -> list[str]:
    """Inbox-relative POSIX paths of the .ics files (hidden files and folders skipped)."""
    if not inbox.is_dir():
        return []
    found = []
    for path in inbox.rglob("*"):
        relative = path.relative_to(inbox)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() == ICS_SUFFIX and path.is_file():
            found.append(relative.as_posix())
    return sorted(found)


def plan_feeds(config: StudentOpsConfig) -> tuple[list[FeedSpec], list[UnmatchedFile]]:
    """Every configured student's feeds in a fixed order (configured first, then inbox files)."""
    feeds: list[FeedSpec] = []
    by_slug = {s.slug: s for s in config.students}
    for student in config.students:
        seen_names: dict[str, int] = {}
        for calendar in student.calendars:
            # Two entries with one name stay two feeds (`name`, `name#2`) rather than overwrite each other.
            seen_names[calendar.name] = seen_names.get(calendar.name, 0) + 1
            suffix = f"#{seen_names[calendar.name]}" if seen_names[calendar.name] > 1 else ""
            base = dict(student_id=student.id, feed_id=f"{student.id}|config|{calendar.name}{suffix}",
                        name=calendar.name, timezone=student.timezone)
            if calendar.url:
                feeds.append(FeedSpec(**base, kind="url", label=f"feed:{calendar.name}",
                                      location=redact_url(str(calendar.url)), url=str(calendar.url)))
            else:
                relative = str(calendar.path or "")
                feeds.append(FeedSpec(**base, kind="path", label=relative or f"feed:{calendar.name}",
                                      location=relative, path=config.resolve(relative) if relative else None))
    unmatched: list[UnmatchedFile] = []
    inbox_feeds: list[FeedSpec] = []
    for relative in inbox_files(config.inbox_dir):
        label = f"inbox/{relative}"
        slug, reason = owner_of(relative, list(by_slug))
        if slug is None:
            unmatched.append(UnmatchedFile(label, reason or "no student"))
            continue
        student = by_slug[slug]
        inbox_feeds.append(FeedSpec(student_id=student.id, feed_id=f"{student.id}|inbox|{relative}",
                                    name=Path(relative).name, kind="inbox", label=label, location=label,
                                    timezone=student.timezone, path=config.inbox_dir / relative))
    # Per student: configured feeds first (they win a UID clash), then inbox files.
    order = {s.id: i for i, s in enumerate(config.students)}
    feeds = sorted(feeds + inbox_feeds, key=lambda f: (order[f.student_id], f.kind == "inbox"))
    return feeds, unmatched


def fetch(feed: FeedSpec, client: Client) -> FeedContent:
    """The feed's bytes, or why there are none. Reasons never contain the URL or exception text
    (requests puts the URL in its messages)."""
    if feed.kind == "url":
        scheme = urlsplit(feed.url or "").scheme.lower()
        if scheme not in ("http", "https"):
            return FeedContent(None, f"feed not fetched: unsupported URL scheme {scheme or '(none)'!r}")
        try:
            response = client.get(feed.url, headers={"Accept": "text/calendar, */*;q=0.5"})
        except Exception as exc:
            return FeedContent(None, f"feed not fetched: {network_failure(exc)} after retries")
        if response.status_code >= 400:
            return FeedContent(None, f"feed not fetched: HTTP {response.status_code} {response.reason or ''}".rstrip())
        return FeedContent(response.content)
    if feed.path is None:
        return FeedContent(None, "calendar entry has neither `path` nor `url`")
    try:
        return FeedContent(feed.path.read_bytes())
    except FileNotFoundError:
        return FeedContent(None, "file not found")
    except OSError as exc:
        return FeedContent(None, f"cannot read: {exc.strerror}")
