"""The mailer as a Dagster resource: Resend through the resend SDK.

`RESEND_API_KEY` is bound through `dg.EnvVar` only when set; `RESEND_API_URL` (the SDK's own variable)
points the SDK at a local stand-in in tests. Without a key the resource is disabled and digests stay
`queued` in meta.digest_outbox (rendered, recorded, not sent).

Every send carries an idempotency key (one per digest kind, period and recipient): Resend answers a
repeated key with the first send's result instead of sending again, which is what makes "resend
after a crash" safe. The SDK does not retry; `send` retries 429 (after `retry-after`) and 5xx a few
times itself, and anything still failing is left to the next run.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Optional

import dagster as dg
from pydantic import Field

# The resend SDK keeps its key and URL as module globals: serialise sends within a process.
_SDK_LOCK = threading.Lock()


@dataclass(frozen=True)
class SendResult:
    message_id: str


class MailSendError(Exception):
    """A send the provider refused or could not take; `retryable` says whether a later run may succeed."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class MailerResource(dg.ConfigurableResource):
    """Sends rendered digests through Resend."""

    api_key: Optional[str] = Field(default=None, description="Resend API key (secret, from RESEND_API_KEY)")
    api_url: Optional[str] = Field(default=None, description="Resend base URL (RESEND_API_URL); default the SDK's")
    sender: str = Field(default="StudentOps <digest@studentops.local>", description="From address")
    attempts: int = Field(default=3, description="Tries per send within one run (429/5xx)")
    max_retry_after_seconds: float = Field(default=30.0, description="Longest retry-after honoured in a run")

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    def send(self, *, to: str, subject: str, html: str, text: str, idempotency_key: str) -> SendResult:
        import resend
        from resend.exceptions import ResendError

        params = {"from": self.sender, "to": [to], "subject": subject, "html": html, "text": text}
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                with _SDK_LOCK:
                    resend.api_key = self.api_key
                    if self.api_url:
                        resend.api_url = self.api_url.rstrip("/")
                    response = resend.Emails.send(params, {"idempotency_key": idempotency_key})
                return SendResult(message_id=str(response["id"]))
            except ResendError as exc:
                code = int(getattr(exc, "code", 0) or 0)
                retryable = code == 429 or code >= 500
                last = MailSendError(f"resend {code or ''} {getattr(exc, 'error_type', '')}: {exc}".strip(), retryable)
                if not retryable or attempt == self.attempts:
                    raise last from None
                headers = getattr(exc, "headers", None) or {}
                wait = _retry_after(headers) if code == 429 else None
                time.sleep(min(wait if wait is not None else 0.5 * 2 ** (attempt - 1), self.max_retry_after_seconds))
            except Exception as exc:  # connection refused, timeouts: the provider never answered
                last = MailSendError(f"resend unreachable: {type(exc).__name__}: {exc}", True)
                if attempt == self.attempts:
                    raise last from None
                time.sleep(0.5 * 2 ** (attempt - 1))
        raise last or MailSendError("resend: no attempt made", True)


def _retry_after(headers) -> float | None:
    for name in ("retry-after", "Retry-After"):
        value = headers.get(name) if hasattr(headers, "get") else None
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def mailer_from_env() -> MailerResource:
    kwargs: dict = {}
    if os.environ.get("RESEND_API_KEY"):
        kwargs["api_key"] = dg.EnvVar("RESEND_API_KEY")
    if os.environ.get("RESEND_API_URL"):
        kwargs["api_url"] = dg.EnvVar("RESEND_API_URL")
    if os.environ.get("STUDENTOPS_DIGEST_FROM"):
        kwargs["sender"] = dg.EnvVar("STUDENTOPS_DIGEST_FROM")
    return MailerResource(**kwargs)
