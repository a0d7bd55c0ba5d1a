"""The HTTP client both calendar loaders use: dlt's retrying requests client.

429, 5xx, timeouts and dropped connections are retried with exponential backoff, honouring a
Retry-After header (capped at the maximum delay); after the last attempt the final response is
returned rather than raised, so callers turn it into a readable reason.
"""

from __future__ import annotations

from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.requests.retry import RetryPredicate


def retrying_client(
    timeout_seconds: float,
    max_attempts: int,
    backoff_factor: float,
    max_delay_seconds: float,
    retry_condition: RetryPredicate | None = None,
) -> Client:
    return Client(
        request_timeout=timeout_seconds,
        raise_for_status=False,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor,
        request_max_retry_delay=max_delay_seconds,
        retry_condition=retry_condition,
    )


def network_failure(exc: BaseException) -> str:
    """What went wrong, without the exception's text: requests puts the URL (and so any token in
    its path or query) into its messages."""
    name = type(exc).__name__
    if "Timeout" in name:
        return "timed out"
    if "Connection" in name or "ChunkedEncoding" in name:
        return "connection failed"
    return name
