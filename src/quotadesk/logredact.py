"""Every log line redacted: keys and tokens never reach a log, whichever logger writes it.

``install()`` wraps the logging module's record factory, so the redaction happens once, when a
record is made, for every logger (quotadesk's, uvicorn's access log with its query strings,
a library's): the message is formatted with its arguments and passed through
``billing.secrets.redact``, and an exception's traceback is formatted and redacted the same way
(handlers use ``exc_text`` when it is set). Handlers and formatters are left as configured.
``quotadesk`` calls it at start (``cli.main``) and in every web app (``web.app.create_app``),
including uvicorn's worker processes; installing twice is the same as once.
"""

from __future__ import annotations

import logging
from typing import Any

from quotadesk.billing.secrets import scrub

_FORMATTER = logging.Formatter()
_MARK = "_quotadesk_redacting"


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message (and traceback text) redacted, arguments folded in."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler to report, as usual
        return record
    record.msg, record.args = scrub(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub(_FORMATTER.formatException(record.exc_info))
    return record


def install() -> None:
    """Redact every record from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)
