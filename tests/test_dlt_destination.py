"""Raw loaders share `raw`, `raw_staging` and dlt's bookkeeping tables: on a new warehouse, loaders
running at once must not trip over each other creating them (dlt's CREATE ... IF NOT EXISTS alone
is not safe against a concurrent twin; plain dlt failed in about half of these rounds)."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest

LOADERS = 4


def _load(args) -> str:
    url, dataset, index, pipelines_dir, barrier = args
    import dlt

    from studentops_assets.core.postgres_destination import postgres_serialized_schema

    pipeline = dlt.pipeline(
        pipeline_name=f"concurrent_{index}",
        destination=postgres_serialized_schema(credentials=url),
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
    )

    # A merge table, so the staging dataset and its bookkeeping are created too.
    @dlt.resource(name=f"table_{index}", primary_key="id", write_disposition={"disposition": "merge", "strategy": "delete-insert"})
    def rows():
        yield [{"id": 1, "value": f"loader {index}"}]

    barrier.wait()
    try:
        pipeline.run(rows())
    except Exception as exc:  # noqa: BLE001 - reported to the test
        return f"{type(exc).__name__}: {exc}"
    return "ok"


@pytest.mark.parametrize("round_", range(3))
def test_loaders_starting_together_on_a_new_dataset_all_succeed(new_home, tmp_path, round_):
    home, warehouse = new_home()
    url = warehouse.url()
    dataset = f"concurrent_{uuid.uuid4().hex[:8]}"
    # spawn, not fork: the test process has threads (pytest-xdist), and a forked child can inherit
    # a lock one of them held and hang.
    context = multiprocessing.get_context("spawn")
    with multiprocessing.Manager() as manager:
        barrier = manager.Barrier(LOADERS)
        # close + join, not the context manager's terminate: dlt traps SIGTERM in the workers for a
        # graceful shutdown, so a terminated pool waits on them for ever.
        pool = context.Pool(LOADERS)
        try:
            outcomes = pool.map(_load, [(url, dataset, i, str(tmp_path / "dlt"), barrier) for i in range(LOADERS)])
        finally:
            pool.close()
            pool.join()
    assert outcomes == ["ok"] * LOADERS
    tables = home.query(
        "select table_name from information_schema.tables where table_schema = %s order by 1", (dataset,)
    )
    assert [t for (t,) in tables] == ["_dlt_loads", "_dlt_pipeline_state", "_dlt_version"] + [
        f"table_{i}" for i in range(LOADERS)
    ]
