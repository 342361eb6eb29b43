"""Logging setup: stderr, as text for people or JSON lines for log pipelines."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["BANNER_LOGGER", "JsonFormatter", "setup_logging"]

BANNER_LOGGER = "tertulia.server.start"

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: LogRecord attributes that are not "extra" fields
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (RFC 3339, UTC), level, logger, msg, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send every log record to stderr in ``fmt`` ("text" or "json"), replacing handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # the start banner (addresses, fingerprint), reload and stop messages: always logged,
    # like PostgreSQL's start-up messages, so --log-level WARNING still says where it listens
    logging.getLogger(BANNER_LOGGER).setLevel(logging.INFO)
