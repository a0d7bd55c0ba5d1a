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
    if scaled := yardsticks.get("search_scaled"):
        table.add_row(f"HNSW vs exact scan p50 / p95, {scaled['chunks']:,} scaled chunks",
                      f"{scaled['hnsw_p50_ms']:.1f} / {scaled['hnsw_p95_ms']:.1f} ms",
                      f"{scaled['exact_p50_ms']:.1f} / {scaled['exact_p95_ms']:.1f} ms",
                      f"recall@10 {scaled['recall_at_10']:.3f}")
    if embeddings := yardsticks.get("embeddings"):
        for number, run in enumerate(embeddings["runs"], 1):
            rate = f"{run['chunks_per_second']:,.1f} chunks/s" if run["chunks_per_second"] else "nothing new"
            table.add_row(f"embedding run {number}: {run['embedded']:,} chunks in {run['embed_seconds']:.1f}s", rate, "", "")
    console.print(table)


def markdown(report: dict) -> str:
    """The report as the markdown tables of docs/benchmarks.md (`python -m studentops_assets.bench.report FILE`)."""
    machine, full, delta = report["machine"], report["full"], report.get("delta") or {"stages": {}}
    lines = [
        f"{report['students']:,} students, {report['days']} days, seed {report['seed']}, {report['vault_students']} with study "
        f"sources: {report['platform_rows']:,} platform rows (demo generated in {report['demo_seconds']:.0f} s). "
        f"Run {report['date']} on {machine['cpus']} cores, {machine['memory_gib']} GiB; load average "
        f"{'/'.join(map(str, machine['load_average_at_start']))} at the start"
        + (f", {'/'.join(map(str, machine['load_average_at_end']))} at the end" if "load_average_at_end" in machine else "")
        + ".",
        "",
        "| stage | steps | full build (step s) | peak RSS (MiB) | after the delta (step s) | share of full |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in STAGES:
        f, d = full["stages"].get(stage), delta["stages"].get(stage)
        if not f and not d:
            continue
        lines.append(f"| {stage} | {f['steps'] if f else ''} | {f['seconds']:.1f} | {f['peak_rss_mib']:,.0f} | "
                     f"{d['seconds']:.1f} | {_pct(d.get('share_of_full'))} |" if f and d else
                     f"| {stage} | {f['steps'] if f else ''} | {f['seconds'] if f else ''} | | {d['seconds'] if d else ''} | |")
    lines.append(f"| **whole graph, wall** | {full['steps']} | {full['command_seconds']:.1f} | {full['peak_rss_mib']:,.0f} | "
                 f"{delta.get('command_seconds', 0):.1f} | {_pct(delta.get('share_of_full_wall'))} |")
    lines.append(f"| whole graph, Dagster runs only | {full['runs']} runs | {full['dagster_seconds']:.1f} | | "
                 f"{delta.get('dagster_seconds', 0):.1f} | |")
    for asset, reason in full.get("models_not_trained", {}).items():
        lines += ["", f"`{asset}` did not train on this history, so its stage timed the check only: {reason}"]
    if delta.get("changes"):
        lines += ["", "Delta: " + ", ".join(f"{n:,} {what}" for what, n in delta["changes"].items()) + "."]
    y = report.get("yardsticks", {})
    lines += ["", "| yardstick | measured | against | ratio |", "|---|---:|---:|---:|"]
    if r := report.get("replication"):
        lines.append(f"| replication first sync vs raw COPY ({r['rows']:,} rows, best of {len(r['copy_seconds'])}) | "
                     f"{min(x['seconds'] for x in r['first_syncs']):.2f} s | {min(r['copy_seconds']):.2f} s | "
                     f"{r['throughput_ratio']:.0%} of COPY's throughput |")
    if dbt := y.get("dbt"):
        lines.append(f"| dbt through Dagster ({dbt['dagster_steps']} steps) vs plain `dbt build --full-refresh` | "
                     f"{dbt['dagster_seconds']:.1f} s | {dbt['plain_seconds']:.1f} s | {dbt['ratio']:.2f}x |")
    if s := y.get("search"):
        lines.append(f"| HNSW vs exact scan, p50 / p95 ({s['chunks']:,} chunks, {s['queries']} queries) | "
                     f"{s['hnsw_p50_ms']:.1f} / {s['hnsw_p95_ms']:.1f} ms | {s['exact_p50_ms']:.1f} / {s['exact_p95_ms']:.1f} ms | "
                     f"recall@10 {s['recall_at_10']:.3f} |")
        lines.append(f"| `search()` hybrid end to end, p50 / p95 | {s['search_p50_ms']:.1f} / {s['search_p95_ms']:.1f} ms | | |")
    if c := y.get("search_scaled"):
        lines.append(f"| HNSW vs exact scan, p50 / p95 ({c['chunks']:,} chunks: {c['real_chunks']:,} real, jittered "
                     f"x{c['copies']}; index built in {c['hnsw_build_seconds']:.0f} s; ef_search {c.get('ef_search', 40)}) | "
                     f"{c['hnsw_p50_ms']:.1f} / "
                     f"{c['hnsw_p95_ms']:.1f} ms | {c['exact_p50_ms']:.1f} / {c['exact_p95_ms']:.1f} ms | "
                     f"recall@10 {c['recall_at_10']:.3f} |")
    if e := y.get("embeddings"):
        for number, run in enumerate(e["runs"], 1):
            rate = f"{run['chunks_per_second']:.1f} chunks/s" if run["chunks_per_second"] else "nothing new"
            lines.append(f"| embedding run {number} ({s['model'] if s else ''}) | {run['embedded']:,} chunks in "
                         f"{run['embed_seconds']:.1f} s | | {rate} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    print(markdown(json.loads(open(sys.argv[1], encoding="utf-8").read())))
