"""Charts for the asset pages: PNGs inlined as data URIs in markdown metadata (the UI renders them)."""

from __future__ import annotations

import base64
import io

import dagster as dg


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no display in run workers
    import matplotlib.pyplot as plt

    return plt


def _markdown(fig, title: str) -> dg.MetadataValue:
    plt = _figure()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{data})")


def calibration_chart(bins: list[dict], label: str) -> dg.MetadataValue:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot([b["mean_predicted"] for b in bins], [b["observed"] for b in bins], marker="o", label=label)
    ax.set_xlabel("predicted probability of disengaging")
    ax.set_ylabel("observed share disengaged")
    ax.set_title("Calibration on the time-based holdout")
    ax.legend(loc="upper left")
    return _markdown(fig, "calibration curve")


def forecast_chart(history, actual, forecast, title: str) -> dg.MetadataValue:
    """history/actual: (times, values); forecast: (times, point, lo, hi)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    if history is not None:
        ax.plot(history[0], history[1], color="grey", linewidth=0.8, label="history")
    if actual is not None:
        ax.plot(actual[0], actual[1], color="black", linewidth=0.9, label="actual")
    times, point, lo, hi = forecast
    ax.fill_between(times, lo, hi, alpha=0.25, color="tab:blue", label="95% interval")
    ax.plot(times, point, color="tab:blue", linewidth=1.1, label="forecast")
    ax.set_ylabel("sessions per hour")
    ax.set_title(title)
    ax.legend(loc="upper left", ncols=4, fontsize=8)
    fig.autofmt_xdate()
    return _markdown(fig, title)
