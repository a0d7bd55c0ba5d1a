"""Machine-readable logs: one JSON object per line, under `$STUDENTOPS_HOME/logs/`.

- `runs.jsonl`: every run's records (run worker and steps, whoever launched the run), written by the
  handler that dagster.yaml's `python_logs.dagster_handler_config` installs in every run's log manager;
- `cli.jsonl`: what `studentops` commands log (the run each one started, its outcome);
- `daemon.jsonl`, `webserver.jsonl`: the Dagster daemon and webserver under `studentops dev`.

Every record has `timestamp` (UTC, ISO 8601), `level`, `logger`, `message` and `source` (cli, daemon,
webserver, run, step), and where known `run_id`, `job`, `step_key`, `asset_keys` ("raw/notes"),
`event_type` and `partition`. Messages are scrubbed before they are written: passwords in connection
URLs and DSNs, the values of secret-like environment variables, e-mail addresses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .settings import studentops_home

LOG_DIR_NAME = "logs"
RUNS_FILE = "runs.jsonl"
CLI_FILE = "cli.jsonl"

# scheme://user:password@host -> scheme://user:***@host (Postgres, dlt and dbt connection strings).
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)([^@\s]+)(@)")
# libpq key/value DSNs and dbt/psycopg arguments: password=..., "password": "...".
_KV_PASSWORD = re.compile(r"""(\b(?:password|passwd|pgpassword)\b["']?\s*[=:]\s*["']?)([^\s"',}]+)""", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
# Shorter values (a port, "true") would scrub ordinary words out of messages.
_MIN_SECRET_LENGTH = 8


def logs_dir() -> Path:
    return studentops_home() / LOG_DIR_NAME


def _secret_values() -> list[str]:
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def scrub(text: str) -> str:
    """The text without passwords, secrets from the environment or e-mail addresses."""
    for value in _secret_values():
        text = text.replace(value, "***")
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    text = _KV_PASSWORD.sub(r"\1***", text)
    return _EMAIL.sub("<email>", text)


def _timestamp(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key_string(key: Any) -> str:
    return key.to_user_string() if hasattr(key, "to_user_string") else str(key)


def _event_fields(event: Any) -> dict[str, Any]:
    """What a Dagster event says about assets: its type, asset key and partition."""
    # The enum's name (RUN_SUCCESS), not its stored value (the legacy PIPELINE_SUCCESS).
    out: dict[str, Any] = {"event_type": getattr(getattr(event, "event_type", None), "name", None)}
    key = None
    try:
        key = event.asset_key
    except Exception:  # noqa: BLE001 - events without asset data raise instead of returning None
        key = None
    data = getattr(event, "event_specific_data", None)
    if key is None:
        key = getattr(data, "asset_key", None)
    if key is not None:
        out["asset_keys"] = [_key_string(key)]
    try:
        partition = event.partition
    except Exception:  # noqa: BLE001 - as above
        partition = None
    if partition:
        out["partition"] = partition
    return out


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record. Dagster's records carry `dagster_meta` (run, job, step, event);
    other records may pass the same fields as `extra` (`run_id`, `job`, `step_key`, `asset_keys`)."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def record_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "source": getattr(record, "source", None) or self.source,
        }
        meta = getattr(record, "dagster_meta", None)
        if isinstance(meta, dict):
            # The message the code logged, not Dagster's "job - run_id - step - message" line.
            fields["message"] = meta.get("orig_message") or fields["message"]
            fields.update(run_id=meta.get("run_id"), job=meta.get("job_name"), step_key=meta.get("step_key"))
            if meta.get("step_key"):
                fields["source"] = "step"
            if meta.get("dagster_event") is not None:
                fields.update(_event_fields(meta["dagster_event"]))
        for name in ("run_id", "job", "step_key", "asset_keys", "event_type", "partition"):
            value = getattr(record, name, None)
            if value is not None and fields.get(name) is None:
                fields[name] = [_key_string(k) for k in value] if name == "asset_keys" else value
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return fields

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in self.record_fields(record).items() if v is not None}
        for name in ("message", "error"):
            if name in fields:
                fields[name] = scrub(str(fields[name]))
        return json.dumps(fields, default=str, ensure_ascii=False)


def append_line(path: Path, line: str) -> None:
    """One write per line with O_APPEND: the run worker and its steps (several processes) append to
    the same file without interleaving. Opened per record, so a forked step never writes through a
    descriptor its parent closed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


class JsonLinesFileHandler(logging.Handler):
    """JSON lines in `$STUDENTOPS_HOME/logs/<file_name>` (the home of the process at each record)."""

    def __init__(self, file_name: str = RUNS_FILE, source: str = "run", level: int | str = logging.INFO):
        super().__init__(level)
        self.file_name = file_name
        self.setFormatter(JsonLogFormatter(source))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            append_line(logs_dir() / self.file_name, self.format(record))
        except Exception:  # noqa: BLE001 - logging's own convention: report, never raise into the caller
            self.handleError(record)


def configure_cli_logging(level: int = logging.INFO) -> None:
    """`studentops` commands: their records (and the libraries' above `level`) go to `cli.jsonl`."""
    root = logging.getLogger()
    if any(isinstance(h, JsonLinesFileHandler) for h in root.handlers):
        return
    root.addHandler(JsonLinesFileHandler(CLI_FILE, source="cli", level=level))
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "2026-12-03 05:30:48 +0000 - dagster.code_server - INFO - message"
_CONSOLE_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} - (?P<logger>\S+) - (?P<level>[A-Z]+) - (?P<message>.*)$")
# A run's records: "<job> - <run id> - ..."
_RUN_PREFIX = re.compile(r"^(?P<job>\S+) - (?P<run_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) - ")
_LEVELS = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "warn": "WARNING", "error": "ERROR",
           "critical": "CRITICAL", "exception": "ERROR"}


class ChildLogRelay:
    """Turns what a Dagster process prints into JSON lines for `<source>.jsonl`, and readable lines.

    `dagster-daemon run` and `dagster-webserver` run with `--log-format json` print one JSON object
    per record (`event`, `logger`, `level`, `timestamp`); other output (uvicorn's access lines,
    warnings, a traceback, a run worker's console log) is kept as records of its own, a traceback's
    indented lines joined to the line before them."""

    def __init__(self, source: str, path: Path):
        self.source = source
        self.path = path
        self._pending: dict[str, Any] | None = None

    def feed(self, line: str) -> list[dict[str, Any]]:
        """The records completed by this line (written to the file), for display."""
        line = line.rstrip("\n")
        if not line.strip():
            return []
        if self._pending is not None and (line[:1].isspace() or line.startswith(("Traceback", "During handling"))):
            self._pending["message"] += "\n" + line
            return []
        done = self.flush()
        parsed = _parse_json(line)
        if parsed is not None:
            done += self._write([self._from_json(parsed)])
        else:
            self._pending = self._from_text(_ANSI.sub("", line))
        return done

    def flush(self) -> list[dict[str, Any]]:
        pending, self._pending = self._pending, None
        return self._write([pending]) if pending is not None else []

    def _record(self, message: str, level: str, logger: str, timestamp: str | None = None) -> dict[str, Any]:
        return {"timestamp": timestamp or _timestamp(time.time()), "level": level, "logger": logger,
                "message": message, "source": self.source}

    def _from_text(self, line: str) -> dict[str, Any]:
        """A line in Dagster's console format (the code servers and run workers the daemon and the
        webserver start print that one), else the line as it is."""
        match = _CONSOLE_LINE.match(line)
        if match is None:
            return self._record(message=line, level="INFO", logger=self.source)
        record = self._record(message=match["message"], level=_LEVELS.get(match["level"].lower(), "INFO"),
                              logger=match["logger"])
        run = _RUN_PREFIX.match(match["message"])
        if run is not None:
            record.update(job=run["job"], run_id=run["run_id"])
        return record

    def _from_json(self, parsed: dict[str, Any]) -> dict[str, Any]:
        record = self._record(
            message=str(parsed.pop("event", parsed.pop("message", ""))),
            level=_LEVELS.get(str(parsed.pop("level", "info")).lower(), "INFO"),
            logger=str(parsed.pop("logger", self.source)),
            timestamp=_normalised(parsed.pop("timestamp", None)),
        )
        if parsed.get("exc_info"):
            record["error"] = str(parsed.pop("exc_info"))
        for name in ("run_id", "job_name", "step_key"):
            if parsed.get(name):
                record["job" if name == "job_name" else name] = parsed[name]
        return record

    def _write(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for record in records:
            for name in ("message", "error"):
                if name in record:
                    record[name] = scrub(record[name])
            try:
                append_line(self.path, json.dumps(record, default=str, ensure_ascii=False))
            except OSError:
                # A full or read-only disk loses the line, not the process: the relay must keep
                # reading the child's output, or the child blocks on a full pipe. The terminal
                # still shows the record.
                pass
            out.append(record)
        return out


def _normalised(timestamp: Any) -> str | None:
    """structlog's ISO timestamp (microseconds) in the format of the other records (milliseconds, Z)."""
    try:
        return _timestamp(dt.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _parse_json(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def readable(record: dict[str, Any]) -> str:
    """A terminal line for a record: time, source, level, message."""
    return f"{record['timestamp'][11:19]} {record['source']:<9} {record['level']:<7} {record['message']}"
