"""`studentops forecast-eval` on CSVs the test writes: a history with gaps, a duplicate row and an
autumn DST change must give figures; broken files must give one clear line, never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, STUDENTOPS

TZ = "Europe/Amsterdam"
# Twelve weeks of local hours across the end of summer time (25 October 2026, 03:00 -> 02:00).
START_UTC = dt.datetime(2026, 8, 30, 22, 0, tzinfo=dt.timezone.utc)
HOURS = 12 * 168
PROFILE = np.array([0.1, 0.05, 0, 0, 0, 0, 0.2, 0.8, 2, 3, 3.5, 3.5, 3, 3.5, 4, 4.5, 4.5, 4, 3.5, 4, 4.5, 4, 2.5, 1])


def _rows(seed: int = 5):
    """(local naive time text, series, value): Poisson counts with a daily and weekly profile."""
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(TZ)
    out = []
    for h in range(HOURS):
        instant = START_UTC + dt.timedelta(hours=h)
        local = instant.astimezone(zone)
        weekday = 0.6 if local.weekday() == 5 else 1.0
        for series, scale in (("CS101", 1.0), ("MATH201", 2.5)):
            value = rng.poisson(PROFILE[local.hour] * weekday * scale)
            out.append([local.strftime("%Y-%m-%d %H:%M"), series, str(value)])
    return out


def _write(path, rows, header=("hour", "course", "sessions")):
    path.write_text("\n".join(",".join(r) for r in [list(header), *rows]) + "\n", encoding="utf-8")
    return path


def _eval(path, *extra, tz=TZ):
    return subprocess.run(
        [str(STUDENTOPS), "forecast-eval", "--csv", str(path), "--time", "hour", "--series", "course",
         "--value", "sessions", "--timezone", tz, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory):
    rows = _rows()
    # The repeated autumn hour 02:00 on 25 October is in the file twice per series, in order.
    assert sum(1 for r in rows if r[0] == "2026-10-25 02:00" and r[1] == "CS101") == 2
    gaps = {"2026-10-01 10:00", "2026-10-01 11:00", "2026-11-02 15:00"}
    kept = [r for r in rows if not (r[0] in gaps and r[1] == "CS101")]
    duplicate = next(r for r in kept if r[0] == "2026-10-20 14:00" and r[1] == "MATH201")
    kept.insert(kept.index(duplicate) + 1, list(duplicate))
    kept.insert(10, ["2026-11-05 09:00", "MATH201", ""])  # an empty value is a gap too... at an hour that exists
    kept = [r for i, r in enumerate(kept) if not (r[0] == "2026-11-05 09:00" and r[1] == "MATH201" and r[2] != "")]
    return _write(tmp_path_factory.mktemp("csv") / "history.csv", kept)


def test_messy_history_gets_figures_as_json(messy_csv):
    result = _eval(messy_csv, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    overall, series = figures["overall"], figures["series"]
    assert set(series) == {"CS101", "MATH201"}
    for block in (overall, *series.values()):
        assert {"mase", "mase_seasonal_naive", "coverage", "model"} <= set(block)
    # A strong daily profile: the chosen model beats same-hour-last-week, and says how it did.
    assert overall["mase"] < overall["mase_seasonal_naive"]
    assert overall["mase"] < 1
    assert 0.85 <= overall["coverage"] <= 1.0
    assert overall["model"] in overall["candidates"]
    assert len(overall["origins"]) == 4
    notes = " ".join(figures["notes"])
    assert "4 missing hour(s) filled" in notes
    assert "1 duplicate row(s)" in notes
    assert "repeated autumn hour" in notes


def _assert_clear_failure(result, *phrases):
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("studentops: error:") and len(line.splitlines()) == 1, result.stderr
    for phrase in phrases:
        assert phrase in line, line


def test_missing_column(tmp_path):
    path = _write(tmp_path / "h.csv", _rows()[:50], header=("when", "course", "sessions"))
    _assert_clear_failure(_eval(path), "no column 'hour'", "the file has: when, course, sessions")


def test_unparsable_timestamp(tmp_path):
    rows = _rows()
    rows[7][0] = "next tuesday"
    _assert_clear_failure(_eval(_write(tmp_path / "h.csv", rows)), "cannot be parsed", "line 9: 'next tuesday'")


def test_conflicting_duplicate_hour(tmp_path):
    rows = _rows()
    rows.insert(3, [rows[2][0], rows[2][1], str(int(rows[2][2]) + 5)])
    _assert_clear_failure(_eval(_write(tmp_path / "h.csv", rows)), "appear twice with different values")


def test_local_time_inside_the_spring_jump(tmp_path):
    rows = _rows()
    rows[0][0] = "2026-03-29 02:30"  # clocks go from 02:00 to 03:00 that night in Amsterdam
    _assert_clear_failure(_eval(_write(tmp_path / "h.csv", rows)), "do not exist in Europe/Amsterdam")


def test_too_short(tmp_path):
    _assert_clear_failure(_eval(_write(tmp_path / "h.csv", _rows()[:400])), "hours of history")


def test_offsets_are_read_as_instants(tmp_path):
    zone = ZoneInfo(TZ)
    rows = []
    for r in _rows():
        rows.append([r[0], r[1], r[2]])
    # The same history with explicit offsets (no DST guessing needed), as UTC instants.
    seen = {}
    out = []
    for local, series, value in rows:
        naive = dt.datetime.strptime(local, "%Y-%m-%d %H:%M")
        fold = seen.get((series, local), 0)
        seen[(series, local)] = fold + 1
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(dt.timezone.utc)
        out.append([instant.strftime("%Y-%m-%dT%H:%M:%SZ"), series, value])
    # Printed as a table this time (two origins keep the second backtest short).
    result = _eval(_write(tmp_path / "utc.csv", out), "--origins", "2", tz="UTC")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not any(line.startswith("note:") for line in lines)  # nothing filled, dropped or guessed
    assert lines[0].startswith("model chosen by backtest:") and "2 origins" in lines[0]
    assert [line.split()[0] for line in lines[2:]] == ["CS101", "MATH201", "overall"]
