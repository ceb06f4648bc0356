"""Keeps secrets out of access logs and gunicorn's error log, without ever breaking a line.

Contract of the filter that `install()` puts on the werkzeug, gunicorn.access and gunicorn.error
loggers:

* A record's ``args`` keep their type. A mutable mapping (gunicorn's ``SafeAtoms``, whose
  ``%({header}i)s`` lookups ignore case and answer "-" for what is missing) is redacted in place
  and stays the same object; a read-only mapping becomes a redacted dict; a tuple stays a
  tuple; only string values change.
* In the message and every string value: manage tokens in paths (``/manage/``, ``/bookings/``,
  ``/booked/``) become ``<token>``; ``Bearer``/``Basic``/``Digest`` credentials become
  ``<redacted>``; full phone numbers (``+14155552671``, or ``%2B14155552671`` in a query string)
  keep their first digit and last two (``+1***71``).
* A value whose key names a credential (``{authorization}i``, ``{HTTP_AUTHORIZATION}e``,
  ``{cookie}i``, ``{set-cookie}o``, ``{x-csrf-token}i``...) becomes ``<redacted>`` whole.
* Masks are ASCII, so no log file encoding can fail on them. The filter never drops a record;
  should redaction itself fail, the line is withheld rather than written in the clear.
"""

import logging
import re
from collections.abc import Mapping, MutableMapping

ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
#: gunicorn names the failing request's path; so does Flask's own logger ("clinic", the app's
#: name) in "Exception on /manage/<token> [GET]".
LOGGERS = (*ACCESS_LOGGERS, "gunicorn.error", "clinic")

TOKEN_PATH = re.compile(r"(/|%2F)(manage|bookings|booked|set-password)(/|%2F)[A-Za-z0-9_-]{16,}",
                        re.I)
CREDENTIAL = re.compile(r"\b(Bearer|Basic|Digest)\s+[^\s\",]+", re.I)
PHONE = re.compile(r"(\+|%2B)([1-9])\d{5,12}(\d{2})(?!\d)", re.I)  # E.164: 8 to 15 digits
#: Searches may be a phone number typed any way ("(415) 555-2671"): the term is never logged.
SEARCH = re.compile(r"([?&]q=)[^&\s\"]*")
SECRET_KEY = re.compile(r"authorization|cookie|token|secret|passw|api[-_]?key", re.I)
REDACTED = "<redacted>"


def redact(text: str) -> str:
    text = TOKEN_PATH.sub(r"\1\2\3<token>", text)
    text = CREDENTIAL.sub(rf"\1 {REDACTED}", text)
    text = SEARCH.sub(rf"\1{REDACTED}", text)
    return PHONE.sub(r"\1\2***\3", text)


def _clean(key: object, value: object) -> object:
    if not isinstance(value, str):
        return value
    if isinstance(key, str) and SECRET_KEY.search(key):
        return REDACTED
    return redact(value)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
            args = record.args
            if isinstance(args, MutableMapping):
                for key, value in list(args.items()):
                    args[key] = _clean(key, value)
            elif isinstance(args, Mapping):
                record.args = {key: _clean(key, value) for key, value in args.items()}
            elif isinstance(args, tuple):
                record.args = tuple(_clean(None, a) for a in args)
        except Exception as exc:  # a filter that raises would lose the line, or leak it
            record.msg = f"log line withheld: redaction failed ({type(exc).__name__})"
            record.args = ()
        return True


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
