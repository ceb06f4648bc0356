"""Keeps secrets out of access logs: manage tokens in paths become <token>."""

import logging
import re

TOKEN_PATH = re.compile(r"/(manage|bookings|booked)/[A-Za-z0-9_-]{16,}")
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = TOKEN_PATH.sub(r"/\1/<token>", record.msg)
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                TOKEN_PATH.sub(r"/\1/<token>", a) if isinstance(a, str) else a for a in args)
        return True


def install() -> None:
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
