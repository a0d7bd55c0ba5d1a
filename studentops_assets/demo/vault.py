"""An Obsidian-style notes vault per configured student: lecture notes, assessments, readings and
an index, linked with [[wikilinks]] and #tags, with YAML frontmatter.

Course codes are written the way people write them (`CS101`, `cs-101`, `Cs 101`), so the loader's
normalisation has real work. The first student's vault holds exactly one note whose frontmatter is
broken YAML, to show quarantine; every other note parses.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from . import vocab
from .calendars import CourseTimetable
from .catalog import Course, Student
from .determinism import stream
from .papers import Paper, for_major, learning_papers
from .timeline import LOCAL, Window

LECTURE_NOTES = 8
BROKEN_NOTE = "inbox-notes/broken-frontmatter.md"


@dataclass(frozen=True)
class Note:
    path: str  # relative to the student's vault
    text: str
    mtime: dt.datetime


def code_variant(code: str, style: int) -> str:
    """0: CS101, 1: cs-101, 2: Cs 101, 3: cs101, 4: CS 101."""
    prefix, number = re.match(r"([A-Z]+)(\d+)", code).groups()
    return (code, f"{prefix.lower()}-{number}", f"{prefix.capitalize()} {number}", code.lower(),
            f"{prefix} {number}")[style % 5]


_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/+-]*$")


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    # Plain when YAML would read it back as the same string; otherwise a JSON string, which is valid
    # double-quoted YAML.
    if _PLAIN.match(text) and not re.fullmatch(r"[\d.+-]+|true|false|null|yes|no|on|off", text, re.I):
        return text
    return json.dumps(text, ensure_ascii=False)


def frontmatter(meta: dict[str, object]) -> str:
    lines = ["---"]
    for key, value in meta.items():
        if isinstance(value, (list, tuple)):
            lines.append(f"{key}: [{', '.join(_yaml_scalar(v) for v in value)}]")
        else:
            lines.append(f"{key}: {_yaml_scalar(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _local(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=LOCAL)


def _reading_choice(seed: int, student: Student) -> list[Paper]:
    rng = stream(seed, "readings", student.id)
    pool = list(dict.fromkeys(for_major(student.major.slug) + learning_papers()))
    return rng.sample(pool, min(len(pool), rng.randint(4, 6)))


def build_vault(seed: int, student: Student, tables: list[CourseTimetable], window: Window,
                with_broken_note: bool) -> tuple[list[Note], dict[str, str]]:
    """The notes of one vault, and for each cited paper key the course code it was read for."""
    rng = stream(seed, "vault", student.id)
    end = window.end
    courses = [tt.course for tt in tables]
    papers = _reading_choice(seed, student)
    reading_course = {p.key: courses[i % len(courses)] for i, p in enumerate(papers)}
    assessments = _plan_assessments(rng, tables, window)
    assessment_stems = {tt.course.id: [] for tt in tables}
    for a in assessments:
        assessment_stems[a["course"].id].append(a["stem"])

    notes: list[Note] = []
    lecture_links: dict[str, list[str]] = {c.id: [] for c in courses}

    # Lecture notes: the most recent lectures held, spread over the courses round-robin.
    held = {tt.course.id: tt.held_by(end) for tt in tables}
    picked: list[tuple[CourseTimetable, object]] = []
    while len(picked) < LECTURE_NOTES and any(held.values()):
        for tt in tables:
            if held[tt.course.id] and len(picked) < LECTURE_NOTES:
                picked.append((tt, held[tt.course.id].pop()))
    picked.sort(key=lambda item: (item[0].course.index, item[1].number))
    for i, (tt, lecture) in enumerate(picked):
        code = tt.course.spec.code
        stem = f"lecture-{lecture.number:02d}"
        path = f"courses/{code}/{stem}.md"
        previous = lecture_links[tt.course.id][-1] if lecture_links[tt.course.id] else None
        lecture_links[tt.course.id].append(path[:-3])
        topic = tt.course.spec.terms[(lecture.number - 1) % len(tt.course.spec.terms)]
        started = lecture.actual_start
        meta = {
            "type": "lecture",
            "course": code_variant(code, i % 3),
            "date": started.date(),
            "lecturer": tt.lecturer,
            "tags": ["lecture", _tag(code), _tag(topic)],
        }
        related = [p for p in papers if reading_course[p.key].id == tt.course.id]
        body = [f"# {code} · Lecture {lecture.number} — {topic[:1].upper() + topic[1:]}", ""]
        if lecture.moved_to:
            body += ["> [!note] Moved one day later than usual (room conflict).", ""]
        body += ["## Key points", ""]
        body += [f"- {text}" for text in vocab.distinct_sentences(rng, tt.course.spec, topic, rng.randint(3, 5))]
        body += ["", "## In my own words", "", vocab.prose(rng, tt.course.spec, topic, 4),
                 "", "## Questions for the tutorial", ""]
        body += [f"- How does {topic} relate to {rng.choice(tt.course.spec.terms)}?",
                 f"- Which exam question from last year used {topic}?", "", "## Links", ""]
        if previous:
            body.append(f"- Previous: [[{previous}|the lecture before]]")
        for stem_a in assessment_stems[tt.course.id]:
            body.append(f"- Assessment: [[{stem_a}]]")
        for p in related:
            body.append(f"- Reading: [[{p.key}]]")
        body += ["", f"#{_tag(code)} #{rng.choice(['exam-prep', 'review-later', 'important', 'todo'])}", ""]
        mtime = _local(started + dt.timedelta(hours=2, minutes=rng.randint(0, 240)))
        notes.append(Note(path, frontmatter(meta) + "\n" + "\n".join(body), mtime))

    for i, a in enumerate(assessments):
        course: Course = a["course"]
        code = course.spec.code
        meta = {
            "type": "assessment",
            "title": a["title"],
            "course": code_variant(code, 2 if i == 0 else i + 1),
            "due": a["due"],
            "weight": f"{a['weight']}%" if i == 1 else a["weight"],
            "status": a["status"],
            "updated": a["updated"],
            "tags": ["assessment", _tag(code), a["kind"]],
        }
        done = {"todo": 0, "in-progress": 2, "submitted": 5, "graded": 5}[a["status"]]
        steps = ["Re-read the assignment brief", f"Outline the argument about {a['topic']}",
                 "Write the first draft", "Ask for feedback in the study group", "Polish and submit"]
        body = [f"# {a['title']}", "", f"**Course:** {code} {course.spec.name} · **Due:** {a['due'].isoformat()} · "
                f"**Weight:** {a['weight']}%", "", "## Plan", ""]
        body += [f"- [{'x' if n < done else ' '}] {step}" for n, step in enumerate(steps)]
        body += ["", "## Notes", "", vocab.sentence(rng, course.spec, a["topic"]), ""]
        links = lecture_links[course.id][-2:]
        if links:
            body.append("Based on " + " and ".join(f"[[{link}]]" for link in links) + ".")
        related = [p for p in papers if reading_course[p.key].id == course.id]
        if related:
            body.append(f"Cite [[{related[0].key}]] (doi:{related[0].doi}).")
        if a["status"] == "graded":
            body += ["", f"Grade: {rng.choice(['7.5', '8.0', '6.5', '9.0', '7.0'])} — feedback in the portal."]
        body += ["", f"#{a['kind']} #{_tag(code)}", ""]
        notes.append(Note(f"assessments/{a['stem']}.md", frontmatter(meta) + "\n" + "\n".join(body),
                          a["updated"]))

    for i, paper in enumerate(papers):
        course = reading_course[paper.key]
        code = course.spec.code
        authors = [f"{given} {family}".strip() for family, given in paper.authors]
        meta = {
            "type": "reading",
            "title": paper.title,
            "authors": authors,
            "year": paper.year,
            "course": code_variant(code, 1 if i % 2 else 0),
            "doi": paper.doi,
            "tags": ["reading", _tag(code), *(t for t in paper.topics if t != "learning")][:4],
        }
        others = [p for p in papers if p.key != paper.key]
        body = [f"# {paper.title}", "", f"{', '.join(authors)}{' et al.' if paper.more_authors else ''} "
                f"({paper.year}). *{paper.venue}*. doi:{paper.doi}", "", "## Summary", "", paper.summary, "",
                "## Why it matters for " + code, "", vocab.sentence(rng, course.spec), ""]
        if others:
            other = rng.choice(others)
            body += [f"Compare with [[{other.key}]] (https://doi.org/{other.doi}).", ""]
        if lecture_links[course.id]:
            body += [f"Discussed in [[{lecture_links[course.id][-1]}]].", ""]
        body += [f"Full text: https://doi.org/{paper.doi}", "", f"#reading #{_tag(code)}", ""]
        mtime = _local(dt.datetime.combine(end - dt.timedelta(days=rng.randint(0, min(90, window.days - 1))),
                                           dt.time(rng.randint(9, 22), rng.randint(0, 59))))
        notes.append(Note(f"readings/{paper.key}.md", frontmatter(meta) + "\n" + "\n".join(body), mtime))

    index = ["# Study vault", "", f"Notes of {student.name} ({student.major.name}).", "", "## Courses", ""]
    for tt in tables:
        links = ", ".join(f"[[{link}]]" for link in lecture_links[tt.course.id]) or "no notes yet"
        index.append(f"- {tt.course.spec.code} {tt.course.spec.name}: {links}")
    index += ["", "## Deadlines", ""] + [f"- [[{a['stem']}]] due {a['due'].isoformat()}" for a in assessments]
    index += ["", "## Reading list", ""] + [f"- [[{p.key}]] — {p.title}" for p in papers] + ["", "#index", ""]
    notes.append(Note("index.md", frontmatter({"type": "index", "tags": ["index"]}) + "\n" + "\n".join(index),
                      window.generated_at - dt.timedelta(hours=3)))

    if with_broken_note:
        code = courses[0].spec.code
        text = (
            "---\n"
            "type: lecture\n"
            f"course: {code}\n"
            "tags: [revision, exam-prep\n"
            f"date: {(end - dt.timedelta(days=1)).isoformat()}\n"
            "---\n"
            "\n# Revision session (typed on my phone)\n\n"
            f"- go over {courses[0].spec.terms[0]} again\n"
            f"- ask about {courses[0].spec.terms[1]} in the Q&A\n\n"
            f"See [[{lecture_links[courses[0].id][-1] if lecture_links[courses[0].id] else 'index'}]].\n"
        )
        notes.append(Note(BROKEN_NOTE, text, window.generated_at - dt.timedelta(hours=20)))

    return notes, {key: course.spec.code for key, course in reading_course.items()}


_ASSESSMENT_KINDS = (
    ("essay", "Essay on {topic}"),
    ("project", "Project: {topic}"),
    ("problem-set", "Problem set on {topic}"),
    ("presentation", "Presentation: {topic}"),
    ("lab-report", "Lab report — {topic}"),
)


def _plan_assessments(rng, tables: list[CourseTimetable], window: Window) -> list[dict]:
    """3-4 assessments over three courses; the first course has two, whose weights still sum to <= 100."""
    count = rng.randint(3, 4)
    courses = tables[:3]
    plan = [courses[0]] * (count - 2) + list(courses[1:3])
    out = []
    used_weight: dict[str, int] = {}
    for n, tt in enumerate(plan):
        kind, title = _ASSESSMENT_KINDS[(tt.course.index + n) % len(_ASSESSMENT_KINDS)]
        topic = rng.choice(tt.course.spec.terms)
        weight = rng.choice((15, 20, 25, 30, 40))
        weight = min(weight, 100 - used_weight.get(tt.course.id, 0))
        used_weight[tt.course.id] = used_weight.get(tt.course.id, 0) + weight
        # Due inside the course's term and, where they overlap, inside the demo window.
        lo = max(tt.term.start + dt.timedelta(days=21), window.start)
        hi = min(tt.term.end, window.end + dt.timedelta(days=28))
        if lo > hi:
            lo, hi = tt.term.start + dt.timedelta(days=21), tt.term.end
        due = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))
        if due < window.end - dt.timedelta(days=14):
            status = "graded"
        elif due < window.end:
            status = "submitted"
        else:
            status = rng.choice(("todo", "in-progress"))
        touched = min(due - dt.timedelta(days=rng.randint(0, 5)), window.end)
        updated = dt.datetime.combine(touched, dt.time(rng.randint(9, 23), rng.randint(0, 59)), tzinfo=LOCAL)
        # Kinds rotate with n, so a course's two assessments never share a file name.
        stem = f"{tt.course.spec.code.lower()}-{kind}"
        out.append({"course": tt.course, "kind": kind, "title": title.format(topic=topic), "topic": topic,
                    "weight": weight, "due": due, "status": status, "updated": updated, "stem": stem})
    return out
