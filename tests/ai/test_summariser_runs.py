"""`ai/note_summaries` as whole runs: two at once under a small budget (through the CLI and the Dagster
instance), and the nightly Message Batches path (submit, still processing, collect)."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import dagster as dg
import pytest

from studentops_assets.ai.note_summaries import note_summaries

from ..conftest import STUDENTOPS, REPO_ROOT
from ..standins import AnthropicStandIn
from .conftest import llm_for, warehouse_for

BUDGET = Decimal("0.02")


def _reset(home):
    home.query("create schema if not exists ai")
    home.query("drop table if exists ai.note_summaries")
    home.query("delete from meta.ai_usage where asset_key = 'ai/note_summaries'")


def _note_count(home) -> int:
    return home.query("select count(*) from raw.notes where not coalesce(_deleted, false)")[0][0]


def test_two_runs_at_once_never_spend_more_than_the_daily_budget(notes_home):
    _reset(notes_home)
    with AnthropicStandIn() as api:
        env = notes_home.env(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=api.url,
                             ANTHROPIC_DAILY_BUDGET_USD=str(BUDGET))
        runs = [subprocess.Popen([str(STUDENTOPS), "materialize", "--select", "key:ai/note_summaries"], env=env,
                                 cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(2)]
        outputs = [r.communicate(timeout=600)[0] for r in runs]
        calls = len(api.messages())
    # Over budget is not a failure: both runs succeed and report what they skipped.
    assert [r.returncode for r in runs] == [0, 0], outputs
    (day,), = notes_home.query("select distinct usage_day from meta.ai_usage where asset_key = 'ai/note_summaries'")
    # The day's total over every row of that day (any asset) is what the budget caps.
    (total, reserved_open, settled), = notes_home.query(
        "select coalesce(sum(case when status = 'reserved' then reserved_usd else coalesce(usd, 0) end), 0),"
        " count(*) filter (where status = 'reserved'), count(*) filter (where status = 'settled')"
        " from meta.ai_usage where usage_day = %s", (day,))
    assert 0 < total <= BUDGET
    assert reserved_open == 0 and settled == calls
    done = notes_home.query("select count(*) from ai.note_summaries where status = 'ok' and provider = 'anthropic'")[0][0]
    assert 0 < done < _note_count(notes_home), "the budget must have cut the work short"
    # Every stored summary came from a settled call; none was paid twice by the two runs.
    assert done <= calls
    # Both runs reported the notes they left for a day with budget left (a warning, not a failure).
    assert any("warn check ai/note_summaries:no_notes_skipped_over_budget" in o for o in outputs), outputs


@pytest.fixture()
def batch_api():
    with AnthropicStandIn() as api:
        yield api


def _run(home, api, batch: bool):
    result = dg.materialize(
        [note_summaries],
        resources={"warehouse": warehouse_for(home), "llm": llm_for(api.url, batch_min_items=2)},
        run_config={"ops": {"ai__note_summaries": {"config": {"batch": batch}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result.asset_materializations_for_node("ai__note_summaries")[0].metadata


def _sensor(home, api):
    from sensors.ai_schedules import ai_batch_results_sensor

    context = dg.build_sensor_context(resources={"warehouse": warehouse_for(home), "llm": llm_for(api.url)})
    return ai_batch_results_sensor(context)


def test_the_nightly_batch_is_submitted_then_collected_by_the_next_run(notes_home, batch_api):
    _reset(notes_home)
    notes = _note_count(notes_home)
    meta = _run(notes_home, batch_api, batch=True)
    assert meta["batch_submitted"].value == notes and meta["summarised"].value == 0
    (batch_id, items), = notes_home.query(
        "select batch_id, count(*) from meta.ai_usage where asset_key = 'ai/note_summaries' and status = 'reserved'"
        " and api = 'batch' group by 1")
    assert items == notes and batch_id.startswith("msgbatch_")
    assert batch_api.messages() == []  # nothing went through the Messages API

    # Still processing: the next run neither resubmits nor summarises.
    meta = _run(notes_home, batch_api, batch=True)
    assert meta["batch_submitted"].value == 0 and meta["batch_collected"].value == 0
    assert len(batch_api.batches) == 1

    assert isinstance(_sensor(notes_home, batch_api), dg.SkipReason)  # still processing: no run asked for

    batch_api.end_batches = True
    request = _sensor(notes_home, batch_api)
    assert isinstance(request, dg.RunRequest) and batch_id in request.run_key
    meta = _run(notes_home, batch_api, batch=False)
    assert meta["batch_collected"].value == notes and meta["summarised"].value == notes
    rows = notes_home.query("select status, provider, jsonb_array_length(flashcards) from ai.note_summaries")
    assert len(rows) == notes and {r[:2] for r in rows} == {("ok", "anthropic")}
    assert all(0 < r[2] <= 5 for r in rows)
    # Settled at the batch rate: half of what the same tokens cost through the Messages API.
    llm = llm_for(batch_api.url)
    for inp, out, cw, cr, usd in notes_home.query(
            "select input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, usd"
            " from meta.ai_usage where batch_id = %s", (batch_id,)):
        full = llm.cost_usd(input_tokens=inp, output_tokens=out, cache_write=cw, cache_read=cr)
        assert usd == llm.cost_usd(input_tokens=inp, output_tokens=out, cache_write=cw, cache_read=cr, batch=True)
        assert abs(usd * 2 - full) <= Decimal("0.000001")
    # A rerun with nothing changed calls nothing.
    before = len(batch_api.requests)
    meta = _run(notes_home, batch_api, batch=True)
    assert meta["notes_pending"].value == 0 and len(batch_api.requests) == before
