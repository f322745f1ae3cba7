"""Structured logs: correlation ids on every line, personal numbers masked before any handler.

Two parts, so whoever owns the handlers (Airflow's task logging, pytest, the command line) gets
the same content:

- A log-record factory, installed once per process (``install``; ``hub/__init__`` does it, so
  any process that imports the hub has it). It formats each record's message at creation, masks
  citizen IDs and phone numbers in it and in its traceback (``mappings.masking``), and appends
  the correlation ids in force (``dossier_no=... batch_id=... message_id=...``). Formatting
  lazily in a handler would be too late: by then a number may already sit in Airflow's task log.
  Every logger is covered, Airflow's too, because an exception raised by hub code is logged by
  Airflow's ``airflow.task`` logger.
- :class:`JsonFormatter` and :func:`configure_json_logging` for processes the hub owns (the
  command line): one JSON object per line with the correlation ids as fields.

Correlation ids are set with :func:`correlated` around a unit of work (a batch, one message,
one dossier); they nest and are per thread and per asyncio task (``contextvars``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

from mappings.masking import mask_personal_data

CORRELATION_KEYS = ("dossier_no", "batch_id", "message_id")
_ids: ContextVar[Mapping[str, str]] = ContextVar("hub_correlation_ids", default=MappingProxyType({}))
_MARK = "_hub_masking_factory"


@contextmanager
def correlated(**ids: str | None) -> Iterator[None]:
    """Tag every log line written inside the block with these ids (``None`` values are ignored)."""
    unknown = set(ids) - set(CORRELATION_KEYS)
    if unknown:
        raise ValueError(f"unknown correlation ids {sorted(unknown)}; use {CORRELATION_KEYS}")
    token = _ids.set({**_ids.get(), **{k: str(v) for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _ids.reset(token)


def _masking_factory(previous: Any) -> Any:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        ids = dict(_ids.get())
        record.correlation = ids
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record  # a malformed call; logging reports it when a handler formats it
        record.masked_message = mask_personal_data(message)
        suffix = "".join(f" {key}={value}" for key, value in ids.items())
        record.msg, record.args = record.masked_message + suffix, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_personal_data(logging.Formatter().formatException(record.exc_info))
        return record

    setattr(make_record, _MARK, True)
    return make_record


def install() -> None:
    """Put the masking, correlating record factory in front of whatever factory is in place."""
    current = logging.getLogRecordFactory()
    if not getattr(current, _MARK, False):
        logging.setLogRecordFactory(_masking_factory(current))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": getattr(record, "masked_message", None) or mask_personal_data(record.getMessage()),
            **getattr(record, "correlation", {}),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def configure_json_logging(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) as JSON lines; once per process."""
    install()
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return handler


# Libraries whose notes are for whoever debugs a rendering, not for the operator reading a verdict:
# matplotlib's font fallbacks, WeasyPrint's CSS and SVG remarks, fontTools' subsetting.
LIBRARY_LOGGERS = ("matplotlib", "weasyprint", "fontTools", "PIL")


def route_library_logs(path: Path) -> logging.Handler:
    """Send :data:`LIBRARY_LOGGERS`' records to ``path`` (JSON lines, appended) instead of the console;
    once per process. Kept, not dropped: a broken chart or font is still there to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in LIBRARY_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == path.resolve():
                return handler
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(JsonFormatter())
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.addHandler(handler)
        library.propagate = False
    return handler
