"""The LLM as a Dagster resource: Anthropic's Messages and Message Batches APIs through the anthropic SDK.

The key is bound to `dg.EnvVar("ANTHROPIC_API_KEY")` only when that variable is set (see
`llm_from_env`), so the UI and run config show the variable's name, never the key. Without a key the
resource reports `enabled == False` and the AI assets use the offline extractive summariser instead.

Retries are the SDK's own (`max_retries`): it retries 408, 409, 429 (honouring `retry-after` /
`retry-after-ms`), 529 overloaded, every other 5xx, connection errors and timeouts with exponential
backoff, which is what the API documentation asks of clients. We do not re-implement that loop.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Optional

import dagster as dg
from pydantic import Field

# USD per million tokens. Cache writes cost 1.25x input, cache reads 0.1x input; the Batches API
# halves everything (Anthropic's pricing page). Configurable: prices change, models are added.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0, "cache_write": 1.25, "cache_read": 0.10},
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.30},
    "claude-opus-4-1": {"input": 15.0, "output": 75.0, "cache_write": 18.75, "cache_read": 1.50},
}
BATCH_DISCOUNT = Decimal("0.5")
MILLION = Decimal(1_000_000)


class LLMResource(dg.ConfigurableResource):
    """Anthropic models for the `ai` group: summaries, key terms and flashcards."""

    api_key: Optional[str] = Field(default=None, description="Anthropic API key (secret, from ANTHROPIC_API_KEY)")
    base_url: Optional[str] = Field(default=None, description="API base URL; a local stand-in in tests")
    model: str = Field(default="claude-haiku-4-5", description="Model for summaries and flashcards")
    max_tokens: int = Field(default=1024, description="Output cap per call; also what a call reserves")
    daily_budget_usd: Optional[str] = Field(
        default=None, description="Spend cap per study day in USD (ANTHROPIC_DAILY_BUDGET_USD); unset: no cap"
    )
    prices: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_PRICES.items()},
        description="USD per million tokens per model: input, output, cache_write, cache_read",
    )
    max_retries: int = Field(default=4, description="SDK retries on 429/529/5xx/timeouts")
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout")
    use_batches: bool = Field(
        default=True, description="The nightly run submits through the Message Batches API (half price)"
    )
    batch_min_items: int = Field(default=5, description="Fewer pending items than this use the Messages API")

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    def budget(self) -> Optional[Decimal]:
        return Decimal(self.daily_budget_usd) if self.daily_budget_usd not in (None, "") else None

    def client(self):
        import anthropic

        return anthropic.Anthropic(
            api_key=self.api_key,
            base_url=self.base_url,
            max_retries=self.max_retries,
            timeout=self.timeout_seconds,
        )

    def price(self, model: str | None = None) -> dict[str, Decimal]:
        model = model or self.model
        table = self.prices.get(model)
        if table is None:
            # A model without a price cannot be budgeted: refuse rather than guess.
            raise ValueError(f"no price configured for model {model!r} (LLMResource.prices)")
        return {k: Decimal(str(v)) for k, v in table.items()}

    def cost_usd(self, *, input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0,
                 batch: bool = False, model: str | None = None) -> Decimal:
        p = self.price(model)
        usd = (
            Decimal(input_tokens) * p["input"]
            + Decimal(output_tokens) * p["output"]
            + Decimal(cache_write) * p.get("cache_write", p["input"])
            + Decimal(cache_read) * p.get("cache_read", p["input"])
        ) / MILLION
        return (usd * BATCH_DISCOUNT if batch else usd).quantize(Decimal("0.000001"))

    def max_cost_usd(self, input_tokens: int, *, batch: bool = False) -> Decimal:
        """The most a call can cost: all input billed as a cache write (the dearer rate), plus the
        whole `max_tokens` of output."""
        p = self.price()
        rate = max(p["input"], p.get("cache_write", p["input"]))
        usd = (Decimal(input_tokens) * rate + Decimal(self.max_tokens) * p["output"]) / MILLION
        return (usd * BATCH_DISCOUNT if batch else usd).quantize(Decimal("0.000001"), rounding="ROUND_UP")


def llm_from_env() -> LLMResource:
    """Bind secrets and knobs to their variables only when set (an unset EnvVar fails at run time)."""
    kwargs: dict = {}
    if os.environ.get("ANTHROPIC_API_KEY"):
        kwargs["api_key"] = dg.EnvVar("ANTHROPIC_API_KEY")
    if os.environ.get("ANTHROPIC_BASE_URL"):
        kwargs["base_url"] = dg.EnvVar("ANTHROPIC_BASE_URL")
    if os.environ.get("ANTHROPIC_DAILY_BUDGET_USD"):
        kwargs["daily_budget_usd"] = dg.EnvVar("ANTHROPIC_DAILY_BUDGET_USD")
    if os.environ.get("STUDENTOPS_LLM_MODEL"):
        kwargs["model"] = dg.EnvVar("STUDENTOPS_LLM_MODEL")
    return LLMResource(**kwargs)
