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
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from .catalog import Catalog, Student
from .determinism import poisson, stream
from .timeline import course_factor, day_weight, hour_weights, local_to_utc
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
_DURATIONS = (30, 45, 60, 60, 90, 120)
# rng.choices(_PRIORITIES, (0.7, 0.22, 0.08)) draws bisect(cumulative weights, random() * total).
_PRIORITIES = ("normal", "high", "urgent")
_PRIORITY_CUM = list(accumulate((0.7, 0.22, 0.08)))
_PRIORITY_TOTAL = _PRIORITY_CUM[-1] + 0.0


@dataclass
class Activity:
    """Rows of the activity tables, ready for CSV: booleans as 't'/'f', timestamps and dates as text,
    no empty strings."""

    sessions: list[tuple] = field(default_factory=list)
    ledger: list[tuple] = field(default_factory=list)
    course_activities: list[tuple] = field(default_factory=list)
    tasks: list[tuple] = field(default_factory=list)
    notes: list[tuple] = field(default_factory=list)
    recent_files: list[tuple] = field(default_factory=list)
    audit: list[tuple] = field(default_factory=list)
    truth: list[tuple] = field(default_factory=list)
    points: dict[str, int] = field(default_factory=dict)  # user id -> points earned
    last_change: dict[str, dt.datetime] = field(default_factory=dict)  # user id -> last points transaction


_BOOL = {True: "t", False: "f"}

# The hot loops keep time as whole seconds since the Unix epoch (UTC): an int add instead of a
# timedelta and a datetime per event, and text made from two cached pieces instead of str(datetime),
# which was a third of the CSV time. Every timestamp of the demo is whole seconds (`epoch` checks).
_UNIX = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_SECOND = dt.timedelta(seconds=1)
_CLOCK: list[str] = []
_DAY_TEXT: dict[int, str] = {}


def epoch(at: dt.datetime) -> int:
    seconds, rest = divmod(at - _UNIX, _SECOND)
    if rest:
        raise ValueError(f"{at} is not a whole second")
    return seconds


def from_epoch(seconds: int) -> dt.datetime:
    return _UNIX + dt.timedelta(seconds=seconds)


def timestamp_text(seconds: int) -> str:
    """str(datetime) of the UTC instant: '2026-05-01 08:00:00+00:00'."""
    if not _CLOCK:
        _CLOCK.extend(f"{h:02d}:{m:02d}:{s:02d}+00:00" for h in range(24) for m in range(60) for s in range(60))
    day, second = divmod(seconds, 86400)
    prefix = _DAY_TEXT.get(day)
    if prefix is None:
        prefix = _DAY_TEXT[day] = f"{(_UNIX + dt.timedelta(days=day)).date().isoformat()} "
    return prefix + _CLOCK[second]


@dataclass
class Plan:
    """What every student's simulation reads: the catalog and the per-day profiles, and the scale K,
    which needs all students. Built once; batches of students are then simulated independently."""

    seed: int
    catalog: Catalog
    days: list[dt.date]
    factors: dict[int, list[float]]
    weekday_w: list[float]
    hour_cum: dict[int, list[float]]
    day_text: list[str]  # ISO date of day d
    hour_starts: list[list[int]]  # UTC start of local hour h of day d, epoch seconds
    day_starts: list[int]  # local midnight starting day d, epoch seconds
    horizon: int  # the last second of the window, epoch seconds
    scale: float
    created: dict[str, list[int]]  # course id -> its materials' creation, epoch seconds, ascending
    appeal_cum: dict[str, list[float]]


def _course_mix(student: Student, factors: dict[int, np.ndarray]) -> np.ndarray:
    """mean over the student's courses of popularity * course_factor, for every day.

    Element-wise float64 products and sums in the same order as the scalar
    sum(c.popularity * f[d] for c in courses) / len(courses), so each value is bit-identical to it.
    """
    mix = None
    for c in student.courses:
        term = c.popularity * factors[c.spec.semester]
        mix = term if mix is None else mix + term
    return mix / len(student.courses)


def plan(seed: int, catalog: Catalog) -> Plan:
    window = catalog.window
    days = [window.day(i) for i in range(window.days)]
    factors = {sem: [course_factor(sem, day) for day in days] for sem in (1, 2)}
    weekday_w = [day_weight(day.weekday()) for day in days]

    # K: normalise the expected rate over all students and days to the target. The sum runs student
    # by student, day by day, one float addition at a time (np.add.accumulate is sequential, unlike
    # np.sum's pairwise sum), so K is exactly what the scalar double loop gave: it is the one number
    # every student's rates share, and the slightest change would move some Poisson draws.
    arrays = {sem: np.array(f, dtype=np.float64) for sem, f in factors.items()}
    ww = np.array(weekday_w, dtype=np.float64)
    expected = 0.0
    chunk: list[np.ndarray] = []
    for i, s in enumerate(catalog.students):
        chunk.append((s.base_rate * ww) * _course_mix(s, arrays))
        if len(chunk) == 2048 or i == len(catalog.students) - 1:
            expected = float(np.add.accumulate(np.concatenate([[expected], *chunk]))[-1])
            chunk = []
    scale = TARGET_SESSIONS_PER_STUDENT_DAY * len(catalog.students) * window.days / expected if expected else 0.0

    return Plan(
        seed=seed, catalog=catalog, days=days, factors=factors, weekday_w=weekday_w,
        hour_cum={wd: list(accumulate(hour_weights(wd))) for wd in range(7)},
        day_text=[day.isoformat() for day in days],
        hour_starts=[[epoch(local_to_utc(day, h)) for h in range(24)] for day in days],
        day_starts=[epoch(local_to_utc(day, 0)) for day in days],
        horizon=epoch(window.generated_at) - 1,
        scale=scale,
        # Material availability per course: created strictly before the day starts.
        created={c.id: [epoch(m.created_at) for m in c.materials] for c in catalog.courses},
        appeal_cum={c.id: list(accumulate(m.appeal for m in c.materials)) for c in catalog.courses},
    )


def simulate_students(p: Plan, students: list[Student]) -> Activity:
    """The activity of `students`. Each student draws from their own streams, so the result for a
    student does not depend on which other students are simulated with them."""
    out = Activity()
    window = p.catalog.window
    arrays = {sem: np.array(f, dtype=np.float64) for sem, f in p.factors.items()}
    for s in students:
        _simulate_student(p, s, _course_mix(s, arrays).tolist(), out)
        _tasks(p, s, out)
        out.truth.append((s.id, _BOOL[s.onset_day is not None],
                          window.day(s.onset_day) if s.onset_day is not None else None,
                          s.half_life_days, round(s.base_rate, 4)))
    return out


def simulate(seed: int, catalog: Catalog) -> Activity:
    return simulate_students(plan(seed, catalog), catalog.students)


def _simulate_student(p: Plan, s: Student, mix: list[float], out: Activity) -> None:
    ids = p.catalog.ids
    rng = stream(p.seed, "activity", s.index)
    # Bound methods and locals: this loop makes most of the demo's rows. `randbelow(n)` is what
    # randrange(n), randint(a, b) (a + randbelow(b - a + 1)) and choice(seq) draw, so the
    # stream and the values are the same as with those calls.
    random, randbelow, lognormvariate = rng.random, rng._randbelow, rng.lognormvariate
    factors, weekday_w, hour_cum, horizon = p.factors, p.weekday_w, p.hour_cum, p.horizon
    created, appeal_cum = p.created, p.appeal_cum
    sessions, ledger, notes, audit = out.sessions, out.ledger, out.notes, out.audit
    ts = timestamp_text
    rate = s.base_rate * p.scale
    ip_prefix = f"10.{s.index // 250}.{s.index % 250}."
    done: dict[str, set[str]] = {c.id: set() for c in s.courses}
    completed_course: set[str] = set()
    last_in_course: dict[str, int] = {}
    last_open: dict[str, int] = {}
    earned, last_earned = 0, None
    n_session = 0
    for d, day in enumerate(p.days):
        engagement = s.engagement(d)
        lam = rate * weekday_w[d] * mix[d] * engagement
        n = poisson(rng, lam)
        if not n:
            continue
        cum = hour_cum[day.weekday()]
        hour_starts = p.hour_starts[d]
        course_weights = list(accumulate(c.popularity * factors[c.spec.semester][d] for c in s.courses))
        starts = []
        for _ in range(n):
            hour = bisect_right(cum, random() * cum[-1])
            minutes = randbelow(60)
            at = hour_starts[min(hour, 23)] + 60 * minutes + randbelow(60)
            course = s.courses[bisect_right(course_weights, random() * course_weights[-1])]
            starts.append((at, course.index, course))
        starts.sort(key=lambda item: (item[0], item[1]))
        login_at = starts[0][0] - (5 + randbelow(596))
        client = _CLIENTS[randbelow(len(_CLIENTS))]
        ip = ip_prefix + str(2 + randbelow(253))
        # json.dumps({"client": ..., "ip": ...}, sort_keys=True), spelled out: both values are plain ASCII.
        audit.append((ids.name(f"audit:login:{s.id}:{p.day_text[d]}"), s.id, "user.login", "user", s.id,
                      f'{{"client": "{client}", "ip": "{ip}"}}', ts(login_at)))
        day_start = p.day_starts[d]
        for at, _, course in starts:
            k = bisect_left(created[course.id], day_start)  # created strictly before the day
            if k == 0:
                continue
            cum_appeal = appeal_cum[course.id]
            material = course.materials[bisect_right(cum_appeal, random() * cum_appeal[k - 1], 0, k - 1)]
            # Sessions shorten as a student drifts away, not only their number.
            active = int(lognormvariate(6.3, 0.8) * (0.4 + 0.6 * engagement))
            active = max(15, min(active, 7200))
            required = material.required_seconds
            score = round(min(1.0, active / required), 3)
            complete = score >= 1 or active >= required
            n_session += 1
            sid = ids.name(f"session:{s.index}:{n_session}")
            sessions.append((sid, s.id, material.id, course.id, ts(at), active, required, f"{score:.3f}",
                             _BOOL[complete]))
            last_in_course[course.id] = at
            last_open[material.id] = at
            ended = min(at + active, horizon)
            if complete:
                ended_text = ts(ended)
                ledger.append((ids.name(f"points:file:{sid}"), s.id, FILE_COMPLETED_POINTS, "file_completed",
                               f"Completed {material.title}", None, f"file_completed:{sid}", ended_text))
                earned += FILE_COMPLETED_POINTS
                last_earned = ended if last_earned is None else max(last_earned, ended)
                done[course.id].add(material.id)
                if course.id not in completed_course and len(done[course.id]) >= k:
                    completed_course.add(course.id)
                    ledger.append((ids("points", "course", s.id, course.id), s.id, COURSE_COMPLETE_POINTS,
                                   "course_complete", f"Completed every file of {course.spec.code}", None,
                                   f"course_complete:{s.id}:{course.id}", ended_text))
                    earned += COURSE_COMPLETE_POINTS
            if random() < NOTE_PROBABILITY:
                noted = min(at + active // 2, horizon)
                edited = noted + 3600 * (1 + randbelow(72)) if random() < 0.2 else noted
                notes.append((ids.name(f"note:{sid}"), s.id, course.id,
                              material.id if random() < 0.7 else None,
                              vocab.sentence(rng, course.spec, material.focus), ts(noted), ts(min(edited, horizon))))

    for c in s.courses:
        if c.id not in last_in_course:
            status = "not_started"
        elif c.id in completed_course:
            status = "completed"
        elif len(done[c.id]) >= ENGAGED_AFTER_FILES:
            status = "engaged"
        else:
            status = "exploring"
        updated = ts(last_in_course[c.id]) if c.id in last_in_course else str(s.created_at)
        out.course_activities.append((s.id, c.id, status, len(done[c.id]), None, updated))
    recent = sorted(last_open.items(), key=lambda item: (item[1], item[0]), reverse=True)[:RECENT_FILES_KEPT]
    out.recent_files.extend((s.id, file_id, ts(at)) for file_id, at in recent)
    if last_earned is not None:
        out.points[s.id] = earned
        out.last_change[s.id] = from_epoch(last_earned)


def _tasks(p: Plan, s: Student, out: Activity) -> None:
    """A few planner tasks a week; a disengaging student plans less and finishes almost nothing."""
    rng = stream(p.seed, "tasks", s.index)
    # The same draws as randrange/randint/choice/choices (see _simulate_student), in the same order.
    random, randbelow = rng.random, rng._randbelow
    ids = p.catalog.ids
    horizon = p.horizon
    days, day_text, hour_starts = p.days, p.day_text, p.hour_starts
    last_day = len(days) - 1
    courses = s.courses
    n_task = 0
    for week_start in range(0, len(days), 7):
        engagement = s.engagement(week_start)
        for _ in range(poisson(rng, TASKS_PER_WEEK * max(0.35, engagement))):
            d = min(week_start + randbelow(7), last_day)
            course = courses[randbelow(len(courses))]
            frame = _TASK_TITLES[randbelow(len(_TASK_TITLES))]
            n = 1 + randbelow(12)
            terms = course.spec.terms
            title = frame.format(code=course.spec.code, n=n, term=terms[randbelow(len(terms))])
            hour = 8 + randbelow(14)
            duration = _DURATIONS[randbelow(len(_DURATIONS))]
            priority = _PRIORITIES[bisect_right(_PRIORITY_CUM, random() * _PRIORITY_TOTAL, 0, 2)]
            done = random() < TASK_COMPLETION * s.engagement(d)
            # local_to_utc(day, h, m) is the UTC start of local hour h plus m minutes: the clocks
            # change only at whole hours, at night.
            created_day = max(0, d - randbelow(7))
            created_hour = 7 + randbelow(16)
            created = hour_starts[created_day][created_hour] + 60 * randbelow(60)
            finished = hour_starts[d][hour] + 60 * duration
            created = min(created, horizon)
            updated = min(max(finished, created), horizon) if done else created
            n_task += 1
            out.tasks.append((ids.name(f"task:{s.index}:{n_task}"), s.id, title, day_text[d], hour, duration,
                              priority, _BOOL[done], timestamp_text(created), timestamp_text(updated)))


def points_by_user(ledger: list[tuple]) -> tuple[dict[str, int], dict[str, dt.datetime]]:
    totals: dict[str, int] = {}
    last: dict[str, dt.datetime] = {}
    for row in ledger:
        user, amount, at = row[1], row[2], row[7]
        totals[user] = totals.get(user, 0) + amount
        last[user] = max(last.get(user, at), at)
    return totals, last

