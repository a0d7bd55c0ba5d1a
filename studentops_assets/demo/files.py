"""Writing demo files under STUDENTOPS_HOME reproducibly, and only where the demo may write.

Each file gets a fixed mtime (loaders use mtimes for change detection, so a rerun must not look like
an edit). A manifest lists what the last run wrote, so the next run removes exactly those files
(plus any `inbox/demo-*`) and nothing a user put there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path, PurePosixPath

MANIFEST = ".studentops-demo-manifest.json"
OWNED_DIRS = ("vault", "calendars")
INBOX_PREFIX = "demo-"


class DemoFiles:
    def __init__(self, home: Path, inbox: str = "inbox") -> None:
        self.home = home
        self.inbox = inbox
        self.written: list[str] = []

    def _owned(self, relative: PurePosixPath) -> bool:
        parts = relative.parts
        if not parts or ".." in parts or relative.is_absolute():
            return False
        if parts[0] in OWNED_DIRS:
            return True
        return len(parts) == 2 and parts[0] == self.inbox and parts[1].startswith(INBOX_PREFIX)

    def clean(self) -> int:
        """Remove what the previous run wrote; returns how many files went."""
        targets: set[PurePosixPath] = set()
        manifest = self.home / MANIFEST
        if manifest.exists():
            try:
                targets.update(PurePosixPath(p) for p in json.loads(manifest.read_text(encoding="utf-8")))
            except (ValueError, TypeError):
                pass  # a damaged manifest only means less to clean; the inbox sweep below still runs
        inbox = self.home / self.inbox
        if inbox.is_dir():
            targets.update(PurePosixPath(self.inbox, p.name) for p in inbox.iterdir()
                           if p.is_file() and p.name.startswith(INBOX_PREFIX))
        removed = 0
        for relative in sorted(targets):
            path = self.home / relative
            if self._owned(relative) and path.is_file():
                path.unlink()
                removed += 1
        for top in OWNED_DIRS:
            root = self.home / top
            if not root.is_dir():
                continue
            # Deepest first, so a folder emptied by its children goes too.
            for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                                 reverse=True):
                if not any(folder.iterdir()):
                    folder.rmdir()
        return removed

    def write(self, relative: str, content: str | bytes, mtime: dt.datetime) -> Path:
        rel = PurePosixPath(relative)
        if not self._owned(rel) and relative != "studentops.yaml":
            raise ValueError(f"the demo does not own {relative}")
        path = self.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        # newline="" semantics: bytes are written as given (the .ics files carry CRLF on purpose).
        path.write_bytes(data)
        stamp = mtime.timestamp()
        os.utime(path, (stamp, stamp))
        self.written.append(str(rel))
        return path

    def write_manifest(self, mtime: dt.datetime) -> None:
        path = self.home / MANIFEST
        path.write_text(json.dumps(sorted(self.written), indent=1) + "\n", encoding="utf-8")
        stamp = mtime.timestamp()
        os.utime(path, (stamp, stamp))
