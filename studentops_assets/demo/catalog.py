"""The slowly changing part of the platform: majors, courses, lecturers, people, materials and the
upload requests that add materials during the window. `activity.py` then plays the window out.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from . import names, vocab
from .determinism import Ids, stream
from .timeline import Term, Window, academic_start_year, latest_term, local_to_utc

STUDENT_DOMAIN = "student.studentops.example"
STAFF_DOMAIN = "staff.studentops.example"
ADMINS = 3
LECTURERS = 25
BASE_MATERIALS_PER_COURSE = 6
REQUESTS_PER_STUDENT = 0.35
DISENGAGED_SHARE = 0.12
UPLOAD_APPROVAL_POINTS = 50

# Type ids of vocab.MATERIAL_TYPES in the order the six seed materials of a course are made.
_BASE_MATERIAL_TYPES = (1, 3, 1, 4, 5, 2)
_TYPE_APPEAL = {1: 1.3, 2: 1.1, 3: 1.0, 4: 1.5, 5: 0.8}
_REQUEST_TITLES = (
    "My summary of {focus}",
    "Annotated slides on {focus}",
    "Worked solutions: {focus}",
    "Exam practice questions on {focus}",
    "Mind map of {focus}",
)
_REJECT_NOTES = (
    "Duplicate of an existing upload.",
    "The PDF is not readable; please rescan it.",
    "Contains copyrighted textbook pages.",
    "Wrong course: please resubmit under the right one.",
)


@dataclass
class Course:
    index: int
    id: str
    spec: vocab.CourseSpec
    major_id: str
    lecturer_id: str
    popularity: float
    created_at: dt.datetime
    materials: list["Material"] = field(default_factory=list)


@dataclass
class Material:
    id: str
    course: Course
    type_id: int
    title: str
    focus: str
    uploader_id: str
    created_at: dt.datetime
    appeal: float
    required_seconds: int


@dataclass
class Student:
    index: int
    id: str
    first: str
    last: str
    email: str
    major: vocab.Major
    major_id: str
    created_at: dt.datetime
    base_rate: float
    courses: list[Course]
    onset_day: int | None = None  # window day index where disengagement starts
    half_life_days: float | None = None

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    def engagement(self, day_index: int) -> float:
        """1.0 while engaged; after onset the activity multiplier halves every `half_life_days`."""
        if self.onset_day is None or day_index < self.onset_day:
            return 1.0
        return 0.5 ** ((day_index - self.onset_day) / self.half_life_days)


@dataclass
class Catalog:
    window: Window
    ids: Ids
    majors: dict[str, str]  # slug -> id
    courses: list[Course]
    lecturers: list[tuple[str, str]]
    admins: list[tuple[str, str, str, dt.datetime]]  # id, name, email, created_at
    students: list[Student]
    rows: dict[str, list[tuple]]
    ledger: list[tuple]  # points_transactions rows (user_id is column 1)
    audit: list[tuple]


def _ts(window: Window, rng, days_before_min: int, days_before_max: int) -> dt.datetime:
    day = window.start - dt.timedelta(days=rng.randint(days_before_min, days_before_max))
    return local_to_utc(day, rng.randint(8, 18), rng.randint(0, 59), rng.randint(0, 59))


def _material_title(type_id: int, focus: str, rng, n: int) -> str:
    cap = focus[:1].upper() + focus[1:]
    return {
        1: f"Week {n} slides: {cap}",
        2: f"Exam {rng.choice(['January', 'June', 'resit'])} with worked solutions",
        3: f"Lecture notes: {cap}",
        4: f"Summary: {cap}",
        5: f"Homework {n}: {cap}",
    }[type_id]


def audit_row(ids: Ids, key: str, actor: str | None, action: str, entity: str, entity_id: str,
           details: dict, at: dt.datetime) -> tuple:
    return (ids("audit", key), actor, action, entity, entity_id, json.dumps(details, sort_keys=True), at)


def build_catalog(seed: int, students: int, window: Window) -> Catalog:
    ids = Ids(seed)
    rows: dict[str, list[tuple]] = {}
    audit: list[tuple] = []
    ledger: list[tuple] = []
    epoch = local_to_utc(window.start - dt.timedelta(days=800), 9)

    majors = {m.slug: ids("major", m.slug) for m in vocab.MAJORS}
    rows["majors"] = [(majors[m.slug], m.name, m.slug) for m in vocab.MAJORS]
    rows["material_types"] = list(vocab.MATERIAL_TYPES)

    rng = stream(seed, "lecturers")
    lecturers = []
    for i in range(LECTURERS):
        first, last = names.person(rng)
        lecturers.append((ids("lecturer", i), f"{rng.choice(names.LECTURER_TITLES)} {first} {last}"))
    rows["lecturers"] = lecturers

    rng = stream(seed, "courses")
    order = list(range(LECTURERS))
    rng.shuffle(order)
    courses = []
    for i, spec in enumerate(vocab.COURSES):
        created = epoch + dt.timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 600))
        courses.append(Course(i, ids("course", spec.code), spec, majors[spec.major],
                              lecturers[order[i % LECTURERS]][0], rng.gammavariate(2.0, 0.5) + 0.25, created))
    mean_pop = sum(c.popularity for c in courses) / len(courses)
    for c in courses:
        c.popularity /= mean_pop
    rows["courses"] = [
        (c.id, c.spec.code, c.spec.name, c.major_id, c.spec.year, c.spec.semester, c.created_at,
         c.created_at + dt.timedelta(days=stream(seed, "course-update", c.spec.code).randint(0, 400)))
        for c in courses
    ]

    # People. One stream in index order: student i looks the same whatever --students is.
    rng = stream(seed, "people")
    book = names.EmailBook()
    admins = []
    for i in range(ADMINS):
        first, last = names.person(rng)
        admins.append((ids("user", "admin", i), f"{first} {last}", book.address(first, last, STAFF_DOMAIN),
                       _ts(window, rng, 500, 900)))
    by_major: dict[str, list[Course]] = {}
    for c in courses:
        by_major.setdefault(c.spec.major, []).append(c)
    people = []
    for i in range(students):
        first, last = names.person(rng)
        major = rng.choice(vocab.MAJORS)
        enrolled = sorted(rng.sample(by_major[major.slug], rng.randint(4, 6)), key=lambda c: c.index)
        people.append(Student(
            index=i, id=ids("user", "student", i), first=first, last=last,
            email=book.address(first, last, STUDENT_DOMAIN), major=major, major_id=majors[major.slug],
            created_at=_ts(window, rng, 14, 720), base_rate=rng.gammavariate(2.0, 0.5), courses=enrolled,
        ))

    rng = stream(seed, "disengagement")
    count = round(DISENGAGED_SHARE * students)
    # From 20% of the window: a time-based holdout needs churners in its training weeks too.
    first_onset, last_onset = int(0.2 * window.days), int(0.8 * window.days)
    for i in sorted(rng.sample(range(students), count)):
        people[i].onset_day = rng.randint(first_onset, last_onset)
        people[i].half_life_days = round(rng.uniform(5.0, 15.0), 1)

    for a_id, a_name, _, created in admins:
        audit.append(audit_row(ids, f"user-created:{a_id}", a_id, "user.created", "user", a_id,
                            {"role": "ADMIN"}, created))
    for s in people:
        audit.append(audit_row(ids, f"user-created:{s.id}", s.id, "user.created", "user", s.id,
                            {"major": s.major.slug, "role": "STUDENT"}, s.created_at))

    materials = _seed_materials(seed, ids, window, courses, admins)
    requests, approved = _file_requests(seed, ids, window, courses, people, admins, audit, ledger)
    materials += approved
    for m in materials:
        m.course.materials.append(m)
    for c in courses:
        c.materials.sort(key=lambda m: (m.created_at, m.id))

    material_rows = []
    for m in materials:
        rng = stream(seed, "material-text", m.id)
        created_local_year = academic_start_year(m.created_at.date())
        year = m.created_at.year - (rng.randint(0, 3) if m.type_id == 2 else 0)
        content = f"# {m.title}\n\n{m.course.spec.code} {m.course.spec.name}\n\n" + vocab.paragraphs(
            rng, m.course.spec, m.focus, rng.randint(3, 5))
        notes = rng.choice([None, None, "Updated after the tutorial.", "Includes the answers to the exercises.",
                            f"Covers {m.focus}."])
        updated = m.created_at + dt.timedelta(days=rng.choice([0, 0, 0, 2, 9, 30]))
        material_rows.append((
            m.id, m.title, f"{created_local_year}/{created_local_year + 1}", year, m.course.id,
            m.course.lecturer_id, m.type_id, m.uploader_id, notes,
            f"https://files.studentops.example/materials/{m.id}.pdf", content, m.created_at,
            min(updated, window.generated_at - dt.timedelta(seconds=1)),
        ))
        audit.append(audit_row(ids, f"material-created:{m.id}", m.uploader_id, "material.created", "material", m.id,
                            {"course": m.course.spec.code, "type_id": m.type_id}, m.created_at))
    rows["materials"] = material_rows
    rows["file_requests"] = requests

    return Catalog(window, ids, majors, courses, lecturers, admins, people, rows, ledger, audit)


def _seed_materials(seed, ids, window, courses, admins) -> list[Material]:
    out = []
    for c in courses:
        rng = stream(seed, "materials", c.spec.code)
        focuses = rng.sample(c.spec.terms, BASE_MATERIALS_PER_COURSE)
        for n, (type_id, focus) in enumerate(zip(_BASE_MATERIAL_TYPES, focuses), start=1):
            out.append(Material(
                id=ids("material", c.spec.code, n), course=c, type_id=type_id,
                title=_material_title(type_id, focus, rng, n), focus=focus,
                uploader_id=rng.choice(admins)[0], created_at=_ts(window, rng, 10, 400),
                appeal=_TYPE_APPEAL[type_id] * rng.gammavariate(2.0, 0.5),
                required_seconds=60 * rng.randint(5, 25),
            ))
    return out


def _file_requests(seed, ids, window, courses, people, admins, audit, ledger):
    """Students ask to upload a file; admins approve (it becomes a material and earns XP) or reject."""
    rng = stream(seed, "file-requests")
    rows, approved = [], []
    count = round(REQUESTS_PER_STUDENT * len(people))
    n = 0
    while len(rows) < count and people:
        n += 1
        s = rng.choice(people)
        day = rng.randrange(window.days)
        # A disengaging student stops contributing: keep the request with the engagement probability.
        if rng.random() > s.engagement(day):
            continue
        course = rng.choice(s.courses)
        created = local_to_utc(window.day(day), rng.randint(8, 22), rng.randint(0, 59), rng.randint(0, 59))
        focus = rng.choice(course.spec.terms)
        type_id = rng.choice((1, 3, 4, 4, 5))
        title = rng.choice(_REQUEST_TITLES).format(focus=focus)
        rid = ids("file-request", n)
        decided = created + dt.timedelta(hours=rng.randint(2, 96), minutes=rng.randint(0, 59))
        admin = rng.choice(admins)[0]
        audit.append(audit_row(ids, f"request-created:{rid}", s.id, "file_request.created", "file_request", rid,
                            {"course": course.spec.code, "type_id": type_id}, created))
        if decided >= window.generated_at or rng.random() < 0.08:
            rows.append((rid, s.id, course.id, title, type_id, "pending", None, None, created, created))
            continue
        if rng.random() < 0.68:
            m = Material(
                id=ids("material", "request", rid), course=course, type_id=type_id, title=title, focus=focus,
                uploader_id=s.id, created_at=decided, appeal=_TYPE_APPEAL[type_id] * rng.gammavariate(2.0, 0.5),
                required_seconds=60 * rng.randint(5, 25),
            )
            approved.append(m)
            note = rng.choice([None, "Thanks, approved!", "Approved after a quick check."])
            rows.append((rid, s.id, course.id, title, type_id, "approved", note, m.id, created, decided))
            ledger.append((ids("points", "upload", rid), s.id, UPLOAD_APPROVAL_POINTS, "upload_approval",
                           f"Upload approved: {title}", rid, f"upload_approval:{rid}", decided))
            audit.append(audit_row(ids, f"request-approved:{rid}", admin, "file_request.approved", "file_request", rid,
                                {"material_id": m.id, "points": UPLOAD_APPROVAL_POINTS}, decided))
        else:
            note = rng.choice(_REJECT_NOTES)
            rows.append((rid, s.id, course.id, title, type_id, "rejected", note, None, created, decided))
            audit.append(audit_row(ids, f"request-rejected:{rid}", admin, "file_request.rejected", "file_request", rid,
                                {"reason": note}, decided))
    return rows, approved


def users_rows(catalog: Catalog, points: dict[str, int], last_change: dict[str, dt.datetime]) -> list[tuple]:
    rows = []
    for a_id, a_name, email, created in catalog.admins:
        rows.append((a_id, email, a_name, "ADMIN", None, points.get(a_id, 0), created,
                     max(created, last_change.get(a_id, created))))
    for s in catalog.students:
        rows.append((s.id, s.email, s.name, "STUDENT", s.major_id, points.get(s.id, 0), s.created_at,
                     max(s.created_at, last_change.get(s.id, s.created_at))))
    return rows


def configured_students(catalog: Catalog, count: int) -> list[Student]:
    """The students who get study sources: the oldest accounts first (ties by id), a rule anyone can
    reproduce with `ORDER BY created_at, id` on the platform's users."""
    return sorted(catalog.students, key=lambda s: (s.created_at, s.id))[:count]


def course_term(course: Course, end: dt.date) -> Term:
    """The run of the course that the demo's calendars and vault describe: its latest start by `end`."""
    return latest_term(course.spec.semester, end)
