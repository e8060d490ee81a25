"""Logging for the long-running service: text for a terminal, JSON lines for a log collector.

Lines about one device carry its id as a field (``extra={"device_id": …}``), so a collector can
filter by device; in text they read ``… device LP-0001 is offline …`` as well.

>>> import logging
>>> record = logging.LogRecord("gateway", logging.WARNING, __file__, 1, "device %s is offline", ("LP-1",), None)
>>> record.device_id = "LP-1"
>>> JsonFormatter().format(record).startswith('{"time": ')
True
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum

from streetwatch.redact import RedactingFilter

_FIELDS = ("device_id", "subscriber", "bus")


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, fmt: LogFormat = LogFormat.text) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())  # no URL credentials in any log line, whoever logs it
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pymodbus", "mqtt", "uvicorn.error", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # the bus converts and reports its errors
