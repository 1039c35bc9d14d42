"""Structured logging to stderr: logfmt by default, JSON lines with DEVHOST_LOG_FORMAT=json.

Fields are passed as ``extra={"fields": {...}}`` so both formats carry them as keys.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

# Record attributes that are not fields; uvicorn's ``color_message`` duplicates ``msg``.
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "color_message", "taskName",
}


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(getattr(record, "fields", None) or {})
    # Plain ``extra={...}`` keys from application code are kept too.
    for key, value in record.__dict__.items():
        if key not in _RESERVED and key != "fields":
            fields.setdefault(key, value)
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_record_fields(record),
        }
        line = " ".join(f"{key}={_logfmt_value(value)}" for key, value in pairs.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_record_fields(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if not text or any(char in text for char in ' ="\n\t'):
        return json.dumps(text)
    return text


def configure_logging(level: str | None = None) -> None:
    """Route every logger (the app's included) to stderr in one structured format."""
    fmt = os.environ.get("DEVHOST_LOG_FORMAT", "logfmt").lower()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("DEVHOST_LOG_LEVEL", "INFO")).upper())
    # The SDKs log every HTTP exchange at INFO; that drowns the host's own lines.
    for noisy in ("azure", "urllib3", "botocore", "boto3", "s3transfer", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
