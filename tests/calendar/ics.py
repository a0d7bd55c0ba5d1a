"""Hand-made iCalendar text for tests (CRLF lines, as RFC 5545 wants)."""

from __future__ import annotations


def vevent(uid: str | None, dtstart: str | None, summary: str, *extra: str, dtend: str | None = None) -> list[str]:
    lines = ["BEGIN:VEVENT"]
    if uid is not None:
        lines.append(f"UID:{uid}")
    lines.append("DTSTAMP:20260101T000000Z")
    if dtstart is not None:
        lines.append(f"DTSTART{dtstart}" if dtstart.startswith(";") else f"DTSTART:{dtstart}")
    if dtend is not None:
        lines.append(f"DTEND{dtend}" if dtend.startswith(";") else f"DTEND:{dtend}")
    lines.append(f"SUMMARY:{summary}")
    lines += list(extra)
    lines.append("END:VEVENT")
    return lines


def vcalendar(*events: list[str], header: tuple[str, ...] = ()) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//StudentOps tests//EN", *header]
    for event in events:
        lines += event
    lines.append("END:VCALENDAR")
    return "".join(line + "\r\n" for line in lines)
