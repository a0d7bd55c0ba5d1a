"""The daily AI budget, enforced atomically in Postgres (meta.ai_usage).

`reserve` runs in one transaction holding a transaction-scoped advisory lock for the day: it adds
the day's settled spend and open reservations, and inserts a reservation of the call's maximum cost
only if the total stays within the budget. Every runner that wants to spend takes the same lock, so
two runs at once are serialised at exactly this point and cannot both take the last dollars.
`settle` replaces the reservation with the real cost once the API has answered.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

# pg_advisory_xact_lock takes a bigint; one namespace for the budget, one lock per day.
_LOCK_NAMESPACE = 0x5354_4F50_4149  # "STOPAI"


@dataclass(frozen=True)
class Reservation:
    usage_id: int
    reserved_usd: Decimal


def usage_day(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """The budget's day is the study day (the study timezone), as ANTHROPIC_DAILY_BUDGET_USD means it."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(timezone)).date()


def spent(conn, day: dt.date) -> Decimal:
    with conn.cursor() as cur:
        cur.execute(
            "select coalesce(sum(case when status = 'reserved' then reserved_usd else coalesce(usd, 0) end), 0)"
            " from meta.ai_usage where usage_day = %s",
            (day,),
        )
        return Decimal(cur.fetchone()[0])


def reserve(conn, *, day: dt.date, budget: Decimal | None, max_usd: Decimal, model: str, asset_key: str,
            run_id: str | None, item_key: str, api: str = "messages", request: dict | None = None) -> Reservation | None:
    """Reserve `max_usd` for one call; None when it would take the day past `budget` (nothing written)."""
    with conn:  # one transaction: commit on success, rollback on error
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s, %s)", (_LOCK_NAMESPACE & 0x7FFFFFFF, day.toordinal()))
            if budget is not None and spent(conn, day) + max_usd > budget:
                return None
            cur.execute(
                "insert into meta.ai_usage (usage_day, status, api, model, asset_key, run_id, item_key, request,"
                " reserved_usd) values (%s, 'reserved', %s, %s, %s, %s, %s, %s, %s) returning usage_id",
                (day, api, model, asset_key, run_id, item_key, json.dumps(request or {}), max_usd),
            )
            return Reservation(cur.fetchone()[0], max_usd)


def settle(conn, usage_id: int, *, usd: Decimal, input_tokens: int | None, output_tokens: int | None,
           cache_write: int | None = None, cache_read: int | None = None, status: str = "settled",
           error: str | None = None, batch_id: str | None = None, custom_id: str | None = None) -> None:
    with conn:
        with conn.cursor() as cur:
            cur.execute(
                "update meta.ai_usage set status = %s, usd = %s, input_tokens = %s, output_tokens = %s,"
                " cache_creation_input_tokens = %s, cache_read_input_tokens = %s, error = %s,"
                " batch_id = coalesce(%s, batch_id), custom_id = coalesce(%s, custom_id), settled_at = now()"
                " where usage_id = %s",
                (status, usd, input_tokens, output_tokens, cache_write, cache_read, error, batch_id, custom_id, usage_id),
            )


def attach_batch(conn, usage_ids: list[int], batch_id: str, custom_ids: list[str]) -> None:
    with conn:
        with conn.cursor() as cur:
            for usage_id, custom_id in zip(usage_ids, custom_ids):
                cur.execute(
                    "update meta.ai_usage set batch_id = %s, custom_id = %s where usage_id = %s",
                    (batch_id, custom_id, usage_id),
                )


def release(conn, usage_id: int, error: str) -> None:
    """The call never happened (or the API refused before any work): nothing is owed."""
    settle(conn, usage_id, usd=Decimal(0), input_tokens=None, output_tokens=None, status="released", error=error)
