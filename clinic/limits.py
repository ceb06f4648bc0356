"""One size limit for every request body, MAX_CONTENT_LENGTH, sent with a length or without.

Flask answers 413 for a Content-Length over the limit. A body sent without one (chunked) is
instead cut at the limit by Werkzeug and read as if that were all of it. So such a body is read
here first, at most one byte past the limit, and handed on with its length: both kinds then
meet the same 413, in the same error shapes.
"""

from __future__ import annotations

import io


class LengthForStreamedBodies:
    """WSGI middleware: gives a streamed body (wsgi.input_terminated) a Content-Length."""

    def __init__(self, wsgi_app, limit: int) -> None:
        self.wsgi_app, self.limit = wsgi_app, limit

    def __call__(self, environ, start_response):
        if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            body = read_at_most(environ["wsgi.input"], self.limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            # Its length now ends it; Werkzeug ignores a length beside Transfer-Encoding.
            del environ["wsgi.input_terminated"]
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.wsgi_app(environ, start_response)


def read_at_most(stream, size: int) -> bytes:
    """Up to `size` bytes; a read may return fewer than asked before the end."""
    data = bytearray()
    while len(data) < size:
        part = stream.read(size - len(data))
        if not part:
            break
        data += part
    return bytes(data)
