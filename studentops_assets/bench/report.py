"""The benchmark's report on the terminal: one table per part (rich), from the same dict as the JSON."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from .stages import STAGES


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}s"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def print_report(report: dict, out: TextIO) -> None:
    console = Console(file=out, width=120, highlight=False, soft_wrap=True)
    machine = report["machine"]
    console.print(
        f"bench {report['date']}: {report['students']:,} students, {report['days']} days (seed {report['seed']}), "
        f"{report['platform_rows']:,} platform rows; demo generated in {report['demo_seconds']:.1f}s; "
        f"{machine['cpus']} cores, {machine['memory_gib']} GiB, load average at start "
        f"{', '.join(map(str, machine['load_average_at_start']))}"
    )
    replication = report.get("replication")
    if replication:
        table = Table(title="platform replication (best of each, exact replicas checked)")
        for column in ("", "best", "median", "rows/s"):
            table.add_column(column, justify="right" if column else "left")
        copy, syncs = replication["copy_seconds"], replication["first_syncs"]
        best_sync = min(syncs, key=lambda r: r["seconds"])
        median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        table.add_row("raw COPY (yardstick)", _s(min(copy)), _s(median(copy)), f"{replication['copy_rows_per_second']:,.0f}")
        table.add_row("dlt replication, first sync", _s(best_sync["seconds"]), _s(median([r["seconds"] for r in syncs])),
                      f"{best_sync['rows_per_second']:,.0f}")
        console.print(table)
        console.print(f"replication throughput = {replication['throughput_ratio']:.0%} of raw COPY")

    full, delta = report["full"], report.get("delta") or {"stages": {}}
    table = Table(title="the graph through Dagster: step seconds per stage (parallel steps add up)")
    for column in ("stage", "steps", "full build", "peak RSS", "after the delta", "share of full", "delta peak RSS"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in STAGES:
        f, d = full["stages"].get(stage), delta["stages"].get(stage)
        if not f and not d:
            continue
        table.add_row(stage, str(f["steps"] if f else ""), _s(f and f["seconds"]),
                      f"{f['peak_rss_mib']:,.0f} MiB" if f else "", _s(d and d["seconds"]),
                      _pct(d and d.get("share_of_full")), f"{d['peak_rss_mib']:,.0f} MiB" if d else "")
    table.add_row("whole graph, wall (command)", str(full["steps"]), _s(full["command_seconds"]),
                  f"{full['peak_rss_mib']:,.0f} MiB", _s(delta.get("command_seconds")),
                  _pct(delta.get("share_of_full_wall")), f"{delta['peak_rss_mib']:,.0f} MiB" if "peak_rss_mib" in delta else "")
    table.add_row("whole graph, Dagster runs", str(full["runs"]), _s(full["dagster_seconds"]), "",
                  _s(delta.get("dagster_seconds")), "", "")
    console.print(table)
    if delta.get("changes"):
        console.print("delta: " + ", ".join(f"{n:,} {what}" for what, n in delta["changes"].items()))

    yardsticks = report.get("yardsticks", {})
    table = Table(title="yardsticks")
    for column in ("what", "measured", "yardstick", "ratio"):
        table.add_column(column, justify="left" if column == "what" else "right")
    if replication:
        table.add_row("platform replication vs raw COPY (throughput)", _s(min(r["seconds"] for r in replication["first_syncs"])),
                      _s(min(replication["copy_seconds"])), f"{replication['throughput_ratio']:.2f}")
    if dbt := yardsticks.get("dbt"):
        table.add_row(f"dbt through Dagster ({dbt['dagster_steps']} steps) vs plain dbt build",
                      _s(dbt["dagster_seconds"]), _s(dbt["plain_seconds"]), f"{dbt['ratio']:.2f}")
    if search := yardsticks.get("search"):
        table.add_row(f"HNSW vs exact scan p50, {search['chunks']:,} chunks", f"{search['hnsw_p50_ms']:.1f} ms",
                      f"{search['exact_p50_ms']:.1f} ms", f"{search['hnsw_p50_ms'] / search['exact_p50_ms']:.2f}"
                      if search["exact_p50_ms"] else "")
        table.add_row("HNSW vs exact scan p95", f"{search['hnsw_p95_ms']:.1f} ms", f"{search['exact_p95_ms']:.1f} ms", "")
        table.add_row(f"recall@10 of HNSW against exact ({search['queries']} queries)", f"{search['recall_at_10']:.3f}", "1.000", "")
        table.add_row("search() hybrid, end to end (query embedding included)",
                      f"p50 {search['search_p50_ms']:.1f} ms", f"p95 {search['search_p95_ms']:.1f} ms", "")
    if embeddings := yardsticks.get("embeddings"):
        for number, run in enumerate(embeddings["runs"], 1):
            rate = f"{run['chunks_per_second']:,.1f} chunks/s" if run["chunks_per_second"] else "nothing new"
            table.add_row(f"embedding run {number}: {run['embedded']:,} chunks in {run['embed_seconds']:.1f}s", rate, "", "")
    console.print(table)
