"""Play the window out: who opened which file when, what it earned, which tasks got done.

The session rate of student s on day d is

    base_rate(s) * K * weekday_weight(d) * course_mix(s, d) * engagement(s, d)

with a gamma-distributed base rate (some students simply study more), the semester calendar per
course (exam ramps, a quiet summer), per-course popularity, and the planted disengagement decay.
K scales the whole thing to about one session per student-day. Within a day the start hour follows
an hour-of-day profile (with a Sunday-evening peak), so both weekly and daily seasonality show.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from .catalog import Catalog, Student, audit_row
from .determinism import poisson, stream
from .timeline import course_factor, day_weight, hour_weights, local_to_utc, utc_hour_start
from . import vocab

TARGET_SESSIONS_PER_STUDENT_DAY = 1.05  # before disengagement, which removes roughly 5%
FILE_COMPLETED_POINTS = 10
COURSE_COMPLETE_POINTS = 100
ENGAGED_AFTER_FILES = 3
RECENT_FILES_KEPT = 10
NOTE_PROBABILITY = 0.04
TASKS_PER_WEEK = 3.0
TASK_COMPLETION = 0.82

_TASK_TITLES = (
    "Review {code} lecture {n}",
    "Finish {code} homework {n}",
    "Read chapter {n} for {code}",
    "Summarise {term} ({code})",
    "Practice exam questions {code}",
    "Group meeting for the {code} project",
    "Flashcards: {term}",
    "Re-watch {code} recording, week {n}",
)
_CLIENTS = ("web", "web", "web", "ios", "android")


@dataclass
class Activity:
    sessions: list[tuple] = field(default_factory=list)
    ledger: list[tuple] = field(default_factory=list)
    course_activities: list[tuple] = field(default_factory=list)
    tasks: list[tuple] = field(default_factory=list)
    notes: list[tuple] = field(default_factory=list)
    recent_files: list[tuple] = field(default_factory=list)
    audit: list[tuple] = field(default_factory=list)
    truth: list[tuple] = field(default_factory=list)


def _course_mix(student: Student, factors: dict[int, list[float]], d: int) -> float:
    return sum(c.popularity * factors[c.spec.semester][d] for c in student.courses) / len(student.courses)


def simulate(seed: int, catalog: Catalog) -> Activity:
    window = catalog.window
    days = [window.day(i) for i in range(window.days)]
    factors = {sem: [course_factor(sem, day) for day in days] for sem in (1, 2)}
    weekday_w = [day_weight(day.weekday()) for day in days]
    hour_cum = {wd: list(accumulate(hour_weights(wd))) for wd in range(7)}
    day_start = [local_to_utc(day, 0) for day in days]
    horizon = window.generated_at - dt.timedelta(seconds=1)

    # K: normalise the expected rate over all students and days to the target.
    expected = sum(s.base_rate * weekday_w[d] * _course_mix(s, factors, d)
                   for s in catalog.students for d in range(window.days))
    scale = TARGET_SESSIONS_PER_STUDENT_DAY * len(catalog.students) * window.days / expected if expected else 0.0

    # Material availability per course: created strictly before the day starts.
    created = {c.id: [m.created_at for m in c.materials] for c in catalog.courses}
    appeal_cum = {c.id: list(accumulate(m.appeal for m in c.materials)) for c in catalog.courses}

    out = Activity()
    for s in catalog.students:
        _simulate_student(seed, s, catalog, out, days, factors, weekday_w, hour_cum, day_start, horizon, scale,
                          created, appeal_cum)
        _tasks(seed, s, catalog, out, days)
        out.truth.append((s.id, s.onset_day is not None,
                          window.day(s.onset_day) if s.onset_day is not None else None,
                          s.half_life_days, round(s.base_rate, 4)))
    return out


def _simulate_student(seed, s: Student, catalog: Catalog, out: Activity, days, factors, weekday_w, hour_cum,
                      day_start, horizon, scale, created, appeal_cum) -> None:
    ids = catalog.ids
    rng = stream(seed, "activity", s.index)
    done: dict[str, set[str]] = {c.id: set() for c in s.courses}
    completed_course: set[str] = set()
    last_in_course: dict[str, dt.datetime] = {}
    last_open: dict[str, dt.datetime] = {}
    n_session = 0
    for d, day in enumerate(days):
        engagement = s.engagement(d)
        lam = s.base_rate * scale * weekday_w[d] * _course_mix(s, factors, d) * engagement
        n = poisson(rng, lam)
        if not n:
            continue
        weekday = day.weekday()
        cum = hour_cum[weekday]
        course_weights = list(accumulate(c.popularity * factors[c.spec.semester][d] for c in s.courses))
        starts = []
        for _ in range(n):
            hour = bisect_right(cum, rng.random() * cum[-1])
            at = utc_hour_start(day, min(hour, 23)) + dt.timedelta(minutes=rng.randrange(60),
                                                                    seconds=rng.randrange(60))
            course = s.courses[bisect_right(course_weights, rng.random() * course_weights[-1])]
            starts.append((at, course.index, course))
        starts.sort(key=lambda item: (item[0], item[1]))
        login_at = starts[0][0] - dt.timedelta(seconds=rng.randint(5, 600))
        device = {"client": rng.choice(_CLIENTS), "ip": f"10.{s.index // 250}.{s.index % 250}.{rng.randint(2, 254)}"}
        out.audit.append(audit_row(ids, f"login:{s.id}:{day.isoformat()}", s.id, "user.login", "user", s.id,
                                   device, login_at))
        for at, _, course in starts:
            k = bisect_right(created[course.id], day_start[d] - dt.timedelta(microseconds=1))
            if k == 0:
                continue
            cum_appeal = appeal_cum[course.id]
            material = course.materials[bisect_right(cum_appeal, rng.random() * cum_appeal[k - 1], 0, k - 1)]
            # Sessions shorten as a student drifts away, not only their number.
            active = int(rng.lognormvariate(6.3, 0.8) * (0.4 + 0.6 * engagement))
            active = max(15, min(active, 7200))
            required = material.required_seconds
            score = round(min(1.0, active / required), 3)
            complete = score >= 1 or active >= required
            n_session += 1
            sid = ids("session", s.index, n_session)
            out.sessions.append((sid, s.id, material.id, course.id, at, active, required, f"{score:.3f}", complete))
            last_in_course[course.id] = at
            last_open[material.id] = at
            ended = min(at + dt.timedelta(seconds=active), horizon)
            if complete:
                out.ledger.append((ids("points", "file", sid), s.id, FILE_COMPLETED_POINTS, "file_completed",
                                   f"Completed {material.title}", None, f"file_completed:{sid}", ended))
                done[course.id].add(material.id)
                if course.id not in completed_course and len(done[course.id]) >= k:
                    completed_course.add(course.id)
                    out.ledger.append((ids("points", "course", s.id, course.id), s.id, COURSE_COMPLETE_POINTS,
                                       "course_complete", f"Completed every file of {course.spec.code}", None,
                                       f"course_complete:{s.id}:{course.id}", ended))
            if rng.random() < NOTE_PROBABILITY:
                noted = min(at + dt.timedelta(seconds=active // 2), horizon)
                edited = noted + dt.timedelta(hours=rng.randint(1, 72)) if rng.random() < 0.2 else noted
                out.notes.append((ids("note", sid), s.id, course.id,
                                  material.id if rng.random() < 0.7 else None,
                                  vocab.sentence(rng, course.spec, material.focus), noted, min(edited, horizon)))

    for c in s.courses:
        if c.id not in last_in_course:
            status = "not_started"
        elif c.id in completed_course:
            status = "completed"
        elif len(done[c.id]) >= ENGAGED_AFTER_FILES:
            status = "engaged"
        else:
            status = "exploring"
        out.course_activities.append((s.id, c.id, status, len(done[c.id]), None,
                                      last_in_course.get(c.id, s.created_at)))
    recent = sorted(last_open.items(), key=lambda item: (item[1], item[0]), reverse=True)[:RECENT_FILES_KEPT]
    out.recent_files.extend((s.id, file_id, at) for file_id, at in recent)


def _tasks(seed, s: Student, catalog: Catalog, out: Activity, days) -> None:
    """A few planner tasks a week; a disengaging student plans less and finishes almost nothing."""
    rng = stream(seed, "tasks", s.index)
    ids = catalog.ids
    horizon = catalog.window.generated_at - dt.timedelta(seconds=1)
    n_task = 0
    for week_start in range(0, len(days), 7):
        engagement = s.engagement(week_start)
        for _ in range(poisson(rng, TASKS_PER_WEEK * max(0.35, engagement))):
            d = min(week_start + rng.randrange(7), len(days) - 1)
            course = rng.choice(s.courses)
            title = rng.choice(_TASK_TITLES).format(code=course.spec.code, n=rng.randint(1, 12),
                                                    term=rng.choice(course.spec.terms))
            hour = rng.randint(8, 21)
            duration = rng.choice((30, 45, 60, 60, 90, 120))
            priority = rng.choices(("normal", "high", "urgent"), (0.7, 0.22, 0.08))[0]
            done = rng.random() < TASK_COMPLETION * s.engagement(d)
            created = local_to_utc(days[max(0, d - rng.randint(0, 6))], rng.randint(7, 22), rng.randrange(60))
            finished = local_to_utc(days[d], hour) + dt.timedelta(minutes=duration)
            created = min(created, horizon)
            updated = min(max(finished, created), horizon) if done else created
            n_task += 1
            out.tasks.append((ids("task", s.index, n_task), s.id, title, days[d], hour, duration, priority, done,
                              created, updated))


def points_by_user(ledger: list[tuple]) -> tuple[dict[str, int], dict[str, dt.datetime]]:
    totals: dict[str, int] = {}
    last: dict[str, dt.datetime] = {}
    for row in ledger:
        user, amount, at = row[1], row[2], row[7]
        totals[user] = totals.get(user, 0) + amount
        last[user] = max(last.get(user, at), at)
    return totals, last

