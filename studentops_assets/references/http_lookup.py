"""One GET against a scholarly API, reduced to found / not found / failed with a readable reason.

The client (dlt's requests helper) has already retried 429, 5xx, timeouts and dropped connections
by the time an answer arrives here. Reasons are built from status codes and exception types only:
exception messages quote the request URL, and the URL carries the API key and contact address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests
from dlt.sources.helpers.requests import Client

Outcome = Literal["found", "not_found", "failed"]
# A 200 that is not what the API documents: worth a quarantine row, unlike an outage.
NOT_JSON = "HTTP 200 but the body is not JSON"
UNEXPECTED_SHAPE = "HTTP 200 but not the documented JSON shape"
MALFORMED = {NOT_JSON, UNEXPECTED_SHAPE}


@dataclass(frozen=True)
class Lookup:
    outcome: Outcome
    payload: dict[str, Any] | None = None
    reason: str | None = None
    status: int | None = None

    def summary(self) -> dict[str, Any]:
        """What `_record` keeps of an unsuccessful lookup."""
        return {"outcome": self.outcome, "status": self.status, "reason": self.reason}


def _attempts(n: int) -> str:
    return f"{n} attempt{'' if n == 1 else 's'}"


def get_json(
    client: Client,
    url: str,
    params: Mapping[str, str],
    attempts: int,
    is_valid: Callable[[Any], bool],
) -> Lookup:
    try:
        response = client.get(url, params=dict(params))
    except requests.Timeout:
        return Lookup("failed", reason=f"timed out ({_attempts(attempts)})")
    except requests.ConnectionError:
        return Lookup("failed", reason=f"cannot connect ({_attempts(attempts)})")
    except requests.RequestException as exc:
        return Lookup("failed", reason=f"request failed ({type(exc).__name__})")
    status = response.status_code
    if status == 404:
        return Lookup("not_found", reason="not found", status=status)
    if status == 429 or status >= 500:
        return Lookup("failed", reason=f"HTTP {status} ({_attempts(attempts)})", status=status)
    if status != 200:
        return Lookup("failed", reason=f"HTTP {status}", status=status)
    try:
        payload = response.json()
    except ValueError:
        return Lookup("failed", reason=NOT_JSON, status=status)
    if not is_valid(payload):
        return Lookup("failed", reason=UNEXPECTED_SHAPE, status=status)
    return Lookup("found", payload=payload, status=status)
