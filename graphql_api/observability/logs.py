"""Logging set-up: one JSON object per line, or plain text for a person at a terminal.

LOG_FORMAT unset means text when the log stream (stderr) is a terminal and JSON
otherwise (a file, a pipe, a log collector), and JSON always under ENV=production.

No token, password or event body is ever logged: we never pass them to a
logger, and the filter below blanks anything that looks like one in case a
library does (an Authorization header, a `password=` in a URL, a JWT).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

from pythonjsonlogger.orjson import OrjsonFormatter

from graphql_api.settings import Settings

_SECRETS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (
        re.compile(r"(?i)((?:password|passwd|secret|token|access_token|refresh_token)=)[^&\s]+"),
        r"\1[redacted]",
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1[redacted]@"),  # user:password@host
]


# Every pattern above needs one of these in the text; most lines (the access log's
# "POST /graphql 200") have none and skip the regular expressions.
_MARKERS = ("bearer", "eyj", "=", "://")


def redact(text: str) -> str:
    lowered = text.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _Json(OrjsonFormatter):
    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        # Fields a request did not have (no operation, no user) are left out, not null.
        for key in [k for k, v in log_data.items() if v is None]:
            del log_data[key]


def log_format(settings: Settings, stream: TextIO) -> str:
    """LOG_FORMAT, or the one that suits whoever reads this stream."""
    if settings.log_format is not None:
        return settings.log_format
    if settings.is_production or not stream.isatty():
        return "json"
    return "text"


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Idempotent: the CLI calls it, and so does the app when hypercorn imports it."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format(settings, handler.stream) == "json":
        handler.setFormatter(
            _Json(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    for old in [h for h in root.handlers if getattr(h, "_scheduling_worker", False)]:
        root.removeHandler(old)
    handler._scheduling_worker = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.getLogger("saq").setLevel(logging.WARNING)  # a line per job otherwise
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request, with URLs
