"""The reference inbox: which files are there, whose they are, and their text.

Which student a file belongs to, first rule that matches:
1. It sits under a folder named after a student's slug: `inbox/<slug>/**/library.bib`.
2. Its name (without the extension) is the slug or ends in `-<slug>`: `inbox/zotero-export-ada.bib`,
   `inbox/demo-ada.ris`, `inbox/ada.bib`. Slugs may contain dashes; the longest matching slug wins.
3. Only one student is configured: every file is theirs (single-student use needs no naming rule).
Anything else is unassigned: it goes to meta.quarantine with `student_id = ''` and a reason saying how
to name it, and is looked at again on every run.

Hidden files and folders (`.DS_Store`, macOS `._x.bib` resource forks, `.git/`) are not inbox files.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from studentops_assets.core.quarantine import Issue
from studentops_assets.core.settings import Student

# Magic numbers of files people drop by mistake with a .bib/.ris name (PDF, zip/docx, PNG, gzip).
_BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"\x1f\x8b")
# JabRef writes the file's charset in a header comment, e.g. "% Encoding: ISO8859_1".
_DECLARED_ENCODING = re.compile(rb"^%\s*Encoding:\s*([A-Za-z0-9_.:-]+)", re.MULTILINE)


@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative: str  # POSIX path inside the inbox: the file's identity in rows and quarantine
    student_id: str | None  # None: unassigned


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def _student_for(relative: PurePosixPath, students: Sequence[Student]) -> str | None:
    by_slug = {s.slug: s.id for s in students}
    if len(relative.parts) > 1 and relative.parts[0] in by_slug:
        return by_slug[relative.parts[0]]
    stem = relative.stem
    matches = [slug for slug in by_slug if stem == slug or stem.endswith(f"-{slug}")]
    if matches:
        return by_slug[max(matches, key=len)]
    if len(students) == 1:
        return students[0].id
    return None


def discover(inbox: Path, suffixes: set[str], students: Sequence[Student]) -> list[InboxFile]:
    """Files in the inbox with one of `suffixes` (lowercase, with the dot), sorted by path."""
    if not inbox.is_dir():
        return []
    found = []
    for path in inbox.rglob("*"):
        relative = PurePosixPath(path.relative_to(inbox).as_posix())
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in suffixes and path.is_file():
            found.append(InboxFile(path, str(relative), _student_for(relative, students)))
    return sorted(found, key=lambda f: f.relative)


def unassigned_issue(file: InboxFile) -> Issue:
    suffix = Path(file.relative).suffix
    return Issue(
        "file",
        f"cannot tell which student this file belongs to: name it <anything>-<slug>{suffix} "
        f"or put it in a folder inbox/<slug>/",
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, honour_declared_encoding: bool = False) -> DecodedText | Issue:
    """The file's text, or why it has none.

    UTF-8 (with or without BOM) first; UTF-16 when it starts with a UTF-16 BOM (EndNote on Windows);
    then the encoding a JabRef header declares; then Windows-1252 and finally Latin-1, the 8-bit
    charsets older reference managers export. Latin-1 decodes any byte sequence, so a text file is
    never refused for its encoding; `encoding` on the rows says which one was used.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return DecodedText(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError:
            return Issue("file", "starts with a UTF-16 byte order mark but is not valid UTF-16")
    head = data[:8192]
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        return Issue("file", "binary file (PDF, archive, image or NUL bytes), not a reference export",
                     head[:80].decode("latin-1").encode("unicode_escape").decode("ascii"))
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    candidates = []
    if honour_declared_encoding and (declared := _DECLARED_ENCODING.search(head)):
        candidates.append(declared.group(1).decode("ascii"))
    candidates += ["cp1252", "latin-1"]
    for name in candidates:
        try:
            codec = codecs.lookup(name).name
            return DecodedText(data.decode(codec), codec)
        except (LookupError, UnicodeDecodeError):
            continue
    raise AssertionError("latin-1 decodes every byte sequence")
