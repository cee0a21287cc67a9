"""Logging: readable text on a terminal, JSON lines under systemd or when asked.

Every record may carry structured fields through ``extra=`` (event, message_id, channel...);
the JSON formatter keeps them as keys. A filter masks known secret values wherever they
might appear, as a last line of defence behind "never log a secret".
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

_SECRETS: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Values to mask in every log record (resolved secrets of the config)."""
    _SECRETS.update(v for v in values if v and len(v) >= 4)


class _MaskSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            masked = message
            for secret in _SECRETS:
                masked = masked.replace(secret, "***")
            if masked != message:
                record.msg, record.args = masked, None
        return True


# Library loggers whose debug lines print SQL parameters (token and session hashes): their
# records below INFO are dropped, whatever level the root logger or a config asks for.
CHATTY_LIBRARIES = ("psycopg", "psycopg.pool")


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_DROP_DEBUG = _DropDebug()


def quiet_libraries() -> None:
    """Drop the debug records of ``CHATTY_LIBRARIES`` (idempotent; called by the stores)."""
    for name in CHATTY_LIBRARIES:
        logger = logging.getLogger(name)
        if _DROP_DEBUG not in logger.filters:
            logger.addFilter(_DROP_DEBUG)


class TextFormatter(logging.Formatter):
    """One record, one line: newlines and other control characters in the message are
    escaped, so a value (a token's name, a platform's error) cannot forge a log line.
    Tracebacks keep their lines; they come from the code, not from input."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)


_CONTROL = {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7F]} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
}


def escape(text: str) -> str:
    return text.translate(_CONTROL)


def setup(level: str = "info", fmt: str = "auto", stream: object = None) -> None:
    out = stream or sys.stderr
    if os.environ.get("FAILOVER_LOG_FORMAT") in ("text", "json"):
        fmt = os.environ["FAILOVER_LOG_FORMAT"]
    if fmt == "auto":
        under_systemd = bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
        fmt = "json" if under_systemd else "text"
    handler = logging.StreamHandler(out)  # type: ignore[arg-type]
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_MaskSecrets())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_libraries()
