"""Local stand-ins on 127.0.0.1 for Anthropic's Messages / Message Batches APIs and for Resend.

They speak the real wire shapes (paths, JSON bodies, error envelopes, `retry-after`, `request-id`,
JSONL batch results, `Idempotency-Key`) closely enough for the official SDKs, and record every
request so tests can assert on what was sent. Faults are scripted per test: `fail_next` queues
(status, headers, error type) answers that come before the normal ones.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_TYPES = {400: "invalid_request_error", 429: "rate_limit_error", 500: "api_error", 503: "api_error",
               529: "overloaded_error"}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def document_of(body: dict) -> str:
    """The text between the document tags of the first user turn."""
    first = body["messages"][0]["content"]
    text = first if isinstance(first, str) else " ".join(b.get("text", "") for b in first if isinstance(b, dict))
    match = re.search(r"<document[^>]*>\n?(.*)\n?</document>", text, re.DOTALL)
    return match.group(1) if match else ""


def default_model(body: dict, server: "AnthropicStandIn") -> dict:
    """A deterministic 'model': first sentence as summary, capitalised words as terms, one flashcard.
    It obeys injected instructions on purpose (a worst-case model), so the defences are what the
    tests exercise: the DOI gate and the schema."""
    doc = document_of(body)
    if "IGNORE ALL PREVIOUS INSTRUCTIONS" in doc.upper():
        return {"summary": "PWNED. See https://doi.org/10.6666/evil.1 for the real answer.", "key_terms": ["pwned"],
                "flashcards": []}
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", re.sub(r"#.*", "", doc)) if len(s.split()) > 3]
    summary = sentences[0] if sentences else (doc.strip()[:200] or "Empty note.")
    terms = sorted({w for w in re.findall(r"\b[A-Z][a-z]{4,}\b", doc)})[:5]
    name = body["tools"][0]["name"]
    if name == "record_course_week_summary":
        return {"summary": summary, "key_terms": terms}
    return {"summary": summary, "key_terms": terms,
            "flashcards": [{"question": "What does the note state first?", "answer": summary[:200]}]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.faults: deque = deque()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, times: int = 1, headers: dict | None = None, path: str = "") -> None:
        for _ in range(times):
            self.faults.append((status, headers or {}, path))

    def _take_fault(self, path: str):
        with self.lock:
            for i, (status, headers, only) in enumerate(self.faults):
                if not only or path == only:
                    del self.faults[i]
                    return status, headers
        return None

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else {}

            def _send(self, status: int, payload, headers: dict | None = None, content_type="application/json"):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                outer.handle(self, "POST", self._body())

            def do_GET(self):
                outer.handle(self, "GET", None)

        return Handler


class AnthropicStandIn(_Base):
    """POST /v1/messages, /v1/messages/count_tokens, /v1/messages/batches; GET a batch and its results."""

    def __init__(self, model=default_model, answers: list | None = None):
        super().__init__()
        self.model = model
        self.answers: deque = deque(answers or [])  # scripted tool inputs, before the model's own
        self.batches: dict[str, dict] = {}
        self.cached_prefixes: set[str] = set()
        self.end_batches = False

    def messages(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["path"] == "/v1/messages"]

    def _message(self, body: dict) -> dict:
        with self.lock:
            tool_input = self.answers.popleft() if self.answers else None
        if tool_input is None:
            tool_input = self.model(body, self)
        system = json.dumps(body.get("system"))
        prefix = json.dumps(body.get("tools")) + system
        cached = any(isinstance(b, dict) and b.get("cache_control") for b in body.get("system") or [])
        prefix_tokens = _tokens(prefix)
        with self.lock:
            hit = cached and prefix in self.cached_prefixes
            if cached:
                self.cached_prefixes.add(prefix)
        rest = _tokens(json.dumps(body["messages"]))
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": body["tools"][0]["name"],
                         "input": tool_input}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": rest if cached else rest + prefix_tokens,
                      "output_tokens": _tokens(json.dumps(tool_input)),
                      "cache_creation_input_tokens": prefix_tokens if cached and not hit else 0,
                      "cache_read_input_tokens": prefix_tokens if hit else 0},
        }

    def handle(self, h, method: str, body):
        path = h.path.split("?")[0]
        with self.lock:
            self.requests.append({"method": method, "path": path, "body": body,
                                  "headers": {k.lower(): v for k, v in h.headers.items()}})
        fault = self._take_fault(path)
        if fault:
            status, headers = fault
            return h._send(status, {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"),
                                                               "message": f"stand-in {status}"}}, headers)
        # The API takes the key as x-api-key or (as anthropic 2.x sends it) a Bearer token.
        if not h.headers.get("x-api-key") and not (h.headers.get("authorization") or "").startswith("Bearer "):
            return h._send(401, {"type": "error", "error": {"type": "authentication_error", "message": "no key"}})
        if method == "POST" and path == "/v1/messages/count_tokens":
            return h._send(200, {"input_tokens": _tokens(json.dumps(body.get("tools")) + json.dumps(body.get("system"))
                                                         + json.dumps(body["messages"]))})
        if method == "POST" and path == "/v1/messages":
            return h._send(200, self._message(body))
        if method == "POST" and path == "/v1/messages/batches":
            batch_id = f"msgbatch_{uuid.uuid4().hex[:24]}"
            with self.lock:
                self.batches[batch_id] = {"requests": body["requests"], "created": time.time()}
            return h._send(200, self._batch(batch_id))
        match = re.fullmatch(r"/v1/messages/batches/(msgbatch_\w+)(/results)?", path)
        if method == "GET" and match:
            batch_id = match.group(1)
            if batch_id not in self.batches:
                return h._send(404, {"type": "error", "error": {"type": "not_found_error", "message": "no batch"}})
            if not match.group(2):
                return h._send(200, self._batch(batch_id))
            lines = []
            for req in self.batches[batch_id]["requests"]:
                lines.append(json.dumps({"custom_id": req["custom_id"],
                                         "result": {"type": "succeeded", "message": self._message(req["params"])}}))
            return h._send(200, ("\n".join(lines) + "\n").encode(), content_type="application/binary")
        return h._send(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})

    def _batch(self, batch_id: str) -> dict:
        n = len(self.batches[batch_id]["requests"])
        ended = self.end_batches
        return {
            "id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0, "errored": 0,
                               "canceled": 0, "expired": 0},
            "ended_at": "2026-12-02T05:00:00Z" if ended else None, "created_at": "2026-12-02T04:00:00Z",
            "expires_at": "2026-12-03T04:00:00Z", "cancel_initiated_at": None, "archived_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if ended else None,
        }


class ResendStandIn(_Base):
    """POST /emails with Idempotency-Key: a repeated key answers the first send's id and delivers nothing.
    `hang_after` makes the n-th delivery hang after it was delivered (the provider accepted the mail,
    the client never hears back), to kill a sender at the worst moment."""

    def __init__(self, hang_after: int | None = None):
        super().__init__()
        self.deliveries: list[dict] = []
        self.by_key: dict[str, str] = {}
        self.hang_after = hang_after
        self.hung = threading.Event()

    def handle(self, h, method: str, body):
        path = h.path.split("?")[0]
        with self.lock:
            self.requests.append({"method": method, "path": path, "body": body,
                                  "headers": {k.lower(): v for k, v in h.headers.items()}})
        fault = self._take_fault(path)
        if fault:
            status, headers = fault
            name = "rate_limit_exceeded" if status == 429 else "application_error"
            return h._send(status, {"statusCode": status, "name": name, "message": f"stand-in {status}"}, headers)
        if not (h.headers.get("authorization") or "").startswith("Bearer re_"):
            return h._send(401, {"statusCode": 401, "name": "missing_api_key", "message": "Missing API key"})
        if method == "POST" and path == "/emails":
            key = h.headers.get("idempotency-key")
            with self.lock:
                if key and key in self.by_key:
                    return h._send(200, {"id": self.by_key[key]})
                message_id = str(uuid.uuid4())
                if key:
                    self.by_key[key] = message_id
                self.deliveries.append({"id": message_id, "key": key, "to": body["to"], "subject": body["subject"],
                                        "html": body.get("html"), "text": body.get("text")})
                hang = self.hang_after is not None and len(self.deliveries) == self.hang_after
            if hang:
                self.hung.set()
                time.sleep(120)  # the client is killed while waiting for this answer
            return h._send(200, {"id": message_id})
        return h._send(404, {"statusCode": 404, "name": "not_found", "message": path})
