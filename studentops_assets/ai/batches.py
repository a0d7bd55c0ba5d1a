"""The nightly path through the Message Batches API (half price, results within 24 h).

`submit` reserves each item's maximum cost at the batch rate (the same atomic budget), sends one
batch, and ties the reservations to the batch id and a custom_id per item in meta.ai_usage. Nothing
else needs to remember the batch: `open_batches` finds it again from the reservations, and the next
run of the asset (or the collector sensor's run) calls `collect`, which settles each item to its
real usage and hands the answers back for validation and the DOI gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import budget
from .calls import CallContext, Item, count_input_tokens, request_params, usage_cost


@dataclass
class Submitted:
    batch_id: str | None
    items: list[Item]
    skipped: list[Item]


def submit(ctx: CallContext, items: list[Item]) -> Submitted:
    reserved: list[tuple[Item, int, dict]] = []
    skipped: list[Item] = []
    for item in items:
        params = request_params(ctx.llm, item)
        input_tokens = count_input_tokens(ctx, params)
        reservation = budget.reserve(
            ctx.conn, day=ctx.day, budget=ctx.llm.budget(), max_usd=ctx.llm.max_cost_usd(input_tokens, batch=True),
            model=ctx.llm.model, asset_key=ctx.asset_key, run_id=ctx.run_id, item_key=item.item_key,
            api="batch", request=item.identity,
        )
        if reservation is None:
            skipped.append(item)
            continue
        reserved.append((item, reservation.usage_id, params))
    if not reserved:
        return Submitted(None, [], skipped)
    custom_ids = [f"u{usage_id}" for _, usage_id, _ in reserved]
    try:
        batch = ctx.client.messages.batches.create(
            requests=[{"custom_id": cid, "params": params} for cid, (_, _, params) in zip(custom_ids, reserved)]
        )
    except Exception as exc:
        for _, usage_id, _ in reserved:
            budget.release(ctx.conn, usage_id, f"batch submit failed: {type(exc).__name__}: {str(exc)[:200]}")
        raise
    budget.attach_batch(ctx.conn, [u for _, u, _ in reserved], batch.id, custom_ids)
    return Submitted(batch.id, [item for item, _, _ in reserved], skipped)


def open_batches(conn, asset_key: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "select distinct batch_id from meta.ai_usage where status = 'reserved' and batch_id is not null"
            " and asset_key = %s order by 1",
            (asset_key,),
        )
        return [r[0] for r in cur.fetchall()]


@dataclass
class Collected:
    usage_id: int
    identity: dict[str, Any]
    message: Any | None  # the answer, when the item succeeded
    error: str | None


def collect(ctx: CallContext, batch_id: str) -> list[Collected] | None:
    """The items of an ended batch, settled in meta.ai_usage; None while it is still processing."""
    batch = ctx.client.messages.batches.retrieve(batch_id)
    if batch.processing_status != "ended":
        return None
    with ctx.conn.cursor() as cur:
        cur.execute(
            "select usage_id, custom_id, request from meta.ai_usage where batch_id = %s and status = 'reserved'",
            (batch_id,),
        )
        pending = {custom_id: (usage_id, request) for usage_id, custom_id, request in cur.fetchall()}
    out: list[Collected] = []
    for entry in ctx.client.messages.batches.results(batch_id):
        if entry.custom_id not in pending:
            continue  # already collected (a collector that died half-way through)
        usage_id, identity = pending.pop(entry.custom_id)
        result = entry.result
        if result.type == "succeeded":
            usd, tokens = usage_cost(ctx.llm, result.message.usage, batch=True)
            budget.settle(ctx.conn, usage_id, usd=usd, input_tokens=tokens["input"], output_tokens=tokens["output"],
                          cache_write=tokens["cache_write"], cache_read=tokens["cache_read"])
            out.append(Collected(usage_id, identity, result.message, None))
        else:
            error = getattr(getattr(result, "error", None), "error", None)
            reason = f"batch item {result.type}" + (f": {getattr(error, 'message', '')}" if error else "")
            budget.settle(ctx.conn, usage_id, usd=Decimal(0), input_tokens=None, output_tokens=None,
                          status="failed", error=reason)
            out.append(Collected(usage_id, identity, None, reason))
    for custom_id, (usage_id, identity) in pending.items():
        # Ended without a result line for it: nothing was billed.
        budget.release(ctx.conn, usage_id, "batch ended without a result for this item")
        out.append(Collected(usage_id, identity, None, "batch ended without a result for this item"))
    return out
