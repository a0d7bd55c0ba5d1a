"""One structured LLM call per item, under the budget: count, reserve, call, settle, validate, gate.

An item is a document (a note, or a course's week of materials) and the tool its answer must fill.
Every API call reserves its maximum cost first (budget.reserve) and settles to the real usage after.
An answer that does not match the tool's schema is retried once, with the errors sent back to the
model as a tool_result; a second invalid answer is recorded as failed and never stored. An answer
naming a DOI that is not in the allowed set (the note, the student's references, the citation
cache) is rejected with that reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from resources.llm import LLMResource

from . import budget, prompts

# The notes domain's DOI pattern, for running text (the model's answer).
_DOI = re.compile(r"10\.\d{4,9}/[^\s\"'<>\]\[)(,;\\]+", re.IGNORECASE)


def dois_in(text: str) -> set[str]:
    return {m.group(0).rstrip(".,;:").lower() for m in _DOI.finditer(text or "")}


@dataclass
class Item:
    item_key: str
    tool: dict
    messages: list[dict]
    allowed_dois: set[str]
    identity: dict[str, Any] = field(default_factory=dict)  # what the item is (ids, hash), for meta.ai_usage


@dataclass
class Outcome:
    status: str  # ok | failed | rejected | skipped_budget
    data: dict | None = None
    reason: str | None = None
    usd: Decimal = Decimal(0)
    usage_ids: list[int] = field(default_factory=list)
    cache_read_tokens: int = 0


@dataclass
class CallContext:
    llm: LLMResource
    client: Any
    conn: Any
    day: Any
    asset_key: str
    run_id: str | None


def request_params(llm: LLMResource, item: Item, messages: list[dict] | None = None) -> dict:
    return {
        "model": llm.model,
        "max_tokens": llm.max_tokens,
        "system": prompts.system_blocks(),
        "tools": prompts.tools_for(item.tool),
        "tool_choice": {"type": "tool", "name": item.tool["name"]},
        "messages": messages or item.messages,
    }


def count_input_tokens(ctx: CallContext, params: dict) -> int:
    counted = ctx.client.messages.count_tokens(
        model=params["model"], system=params["system"], tools=params["tools"],
        tool_choice=params["tool_choice"], messages=params["messages"],
    )
    return int(counted.input_tokens)


def usage_cost(llm: LLMResource, usage, *, batch: bool = False) -> tuple[Decimal, dict[str, int]]:
    tokens = {
        "input": int(getattr(usage, "input_tokens", 0) or 0),
        "output": int(getattr(usage, "output_tokens", 0) or 0),
        "cache_write": int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
        "cache_read": int(getattr(usage, "cache_read_input_tokens", 0) or 0),
    }
    usd = llm.cost_usd(input_tokens=tokens["input"], output_tokens=tokens["output"],
                       cache_write=tokens["cache_write"], cache_read=tokens["cache_read"], batch=batch)
    return usd, tokens


def tool_input(message, tool_name: str) -> tuple[dict | None, str | None, list[dict]]:
    """(tool input, tool_use id, assistant content as params) of a response."""
    content = [block.model_dump(exclude_none=True) for block in (message.content or [])]
    for block in message.content or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return (block.input if isinstance(block.input, dict) else None), block.id, content
    return None, None, content


def judge(item: Item, data: dict | None) -> tuple[str, str | None]:
    """(status, reason) of a parsed answer: schema first, then the DOI gate."""
    if data is None:
        return "invalid", "no tool call in the answer"
    errors = prompts.validate(item.tool, data)
    if errors:
        return "invalid", "; ".join(errors[:5])
    found = set().union(*map(dois_in, _strings(data))) - item.allowed_dois
    # Running text stops a DOI at "(" (a markdown link's end); older DOIs contain parentheses, so a
    # found DOI that is an allowed one cut at its "(" is that DOI.
    unknown = sorted(d for d in found if not any(a.startswith(d + "(") for a in item.allowed_dois))
    if unknown:
        return "rejected", f"DOI gate: {', '.join(unknown)} not in the note, the student's references or the citation cache"
    return "ok", None


def _strings(value) -> list[str]:
    """Every string inside a tool input (the DOI gate reads the text, not its JSON escaping)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def call_once(ctx: CallContext, item: Item, messages: list[dict], outcome: Outcome):
    """One API call under a reservation. Returns the response message, or None (outcome updated)."""
    import anthropic

    params = request_params(ctx.llm, item, messages)
    try:
        input_tokens = count_input_tokens(ctx, params)
    except anthropic.APIError as exc:
        outcome.status, outcome.reason = "failed", f"count_tokens failed: {_api_error(exc)}"
        return None
    reservation = budget.reserve(
        ctx.conn, day=ctx.day, budget=ctx.llm.budget(), max_usd=ctx.llm.max_cost_usd(input_tokens),
        model=ctx.llm.model, asset_key=ctx.asset_key, run_id=ctx.run_id, item_key=item.item_key,
        request=item.identity,
    )
    if reservation is None:
        outcome.status, outcome.reason = "skipped_budget", "daily budget reached"
        return None
    outcome.usage_ids.append(reservation.usage_id)
    try:
        message = ctx.client.messages.create(**params)
    except anthropic.APIError as exc:
        # Errors are not billed: the reservation is released, the item is failed for this run.
        budget.release(ctx.conn, reservation.usage_id, _api_error(exc))
        outcome.status, outcome.reason = "failed", f"API error after retries: {_api_error(exc)}"
        return None
    usd, tokens = usage_cost(ctx.llm, message.usage)
    budget.settle(ctx.conn, reservation.usage_id, usd=usd, input_tokens=tokens["input"],
                  output_tokens=tokens["output"], cache_write=tokens["cache_write"], cache_read=tokens["cache_read"])
    outcome.usd += usd
    outcome.cache_read_tokens += tokens["cache_read"]
    return message


def run_item(ctx: CallContext, item: Item, *, first_answer=None) -> Outcome:
    """The whole exchange for one item: at most two calls (the answer, one retry if invalid).

    `first_answer` is a message obtained elsewhere (a batch result): it is judged, and only the
    retry goes through the Messages API."""
    outcome = Outcome(status="failed")
    messages = list(item.messages)
    for attempt in (1, 2):
        message = first_answer if (attempt == 1 and first_answer is not None) else call_once(ctx, item, messages, outcome)
        if message is None:
            return outcome
        data, tool_use_id, content = tool_input(message, item.tool["name"])
        status, reason = judge(item, data)
        if status == "ok":
            outcome.status, outcome.data, outcome.reason = "ok", data, None
            return outcome
        if status == "rejected":
            outcome.status, outcome.reason = "rejected", reason
            return outcome
        outcome.status, outcome.reason = "failed", f"invalid structured output: {reason}"
        if attempt == 1:
            followup = {"type": "text", "text": prompts.retry_message([reason or "invalid"])}
            if tool_use_id:
                followup = {"type": "tool_result", "tool_use_id": tool_use_id, "is_error": True,
                            "content": prompts.retry_message([reason or "invalid"])}
            messages = messages + [{"role": "assistant", "content": content}, {"role": "user", "content": [followup]}]
    outcome.reason = f"{outcome.reason} (after one retry)"
    return outcome


def _api_error(exc) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {str(exc)[:200]}"
