"""The progress display: plain lines with a heartbeat without a terminal, a live status on one, and
totals that add up across the several runs one `studentops materialize` may execute."""

from __future__ import annotations

import io
import time

import dagster as dg

from studentops_assets.core import progress as progress_module
from studentops_assets.core.progress import Display
from studentops_assets.materialize import Progress


def test_plain_output_has_no_silent_stretch(monkeypatch):
    monkeypatch.setattr(progress_module, "HEARTBEAT_SECONDS", 0.3)
    out = io.StringIO()
    with Display(out, status_of=lambda: "running warehouse_dbt_models | dbt 3/30 models") as display:
        assert not display.live_mode
        display.phase("parsing the dbt project")
        time.sleep(2.7)
        display.line("  ok marts/dim_students")
    lines = out.getvalue().splitlines()
    assert "parsing the dbt project" in lines[0]
    beats = [line for line in lines if "... running warehouse_dbt_models | dbt 3/30 models" in line]
    assert len(beats) >= 2, lines
    assert lines[-1] == "  ok marts/dim_students"
    assert "\x1b[" not in out.getvalue()  # no terminal control codes in a log


def test_a_terminal_gets_a_live_status_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with Display(out, status_of=lambda: "steps 3/22 done | running raw_notes (2s)") as display:
        assert display.live_mode
        time.sleep(0.6)
        display.line("  ok raw/notes")
    text = out.getvalue()
    assert "steps 3/22 done | running raw_notes" in text and "elapsed" in text
    assert "ok raw/notes" in text


def test_totals_add_up_across_runs():
    progress = Progress(display=Display(io.StringIO()))
    dbt_keys = {dg.AssetKey(["marts", "a"]), dg.AssetKey(["marts", "b"])}
    progress.add_run([dg.AssetKey(["raw", "x"])], steps=2)
    progress.add_run([*dbt_keys, dg.AssetKey(["ml", "y"])], steps=3, dbt_keys=dbt_keys)
    progress.runs_started = 2
    progress.steps_done, progress.dbt_done = 3, 1
    # A partitioned asset materialised for several partitions counts once.
    progress.materialised = {dg.AssetKey(["raw", "x"]), dg.AssetKey(["ml", "y"])}
    progress.running["warehouse_dbt_models"] = time.monotonic()
    status = progress.status()
    assert status.startswith("run 2/2 | steps 3/5 done | assets 2/4 | running warehouse_dbt_models")
    assert status.endswith("dbt 1/2 models")
