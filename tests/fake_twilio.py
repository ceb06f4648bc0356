"""A fake Twilio REST server (Messages.json: create and list) for tests, answering like
api.twilio.com.

Answers follow Twilio's OpenAPI description (2010-04-01, `api.v2010.account.message` and
`ListMessageResponse`) and its legacy error JSON, so the real `twilio` client parses them
exactly as it parses Twilio's. Creates can be scripted to fail, to time out without sending,
to send and answer late, or to send and hang up; lists can be scripted to fail.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import uuid
from collections import deque
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

API = "2010-04-01"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
MESSAGES = {
    20003: "Authenticate", 20004: "Method not allowed", 20429: "Too Many Requests",
    20404: "The requested resource was not found",
    20500: "Internal Server Error", 20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number", 21602: "Message body is required.",
    21603: "A 'From' phone number is required.", 21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def default_status(code: int) -> int:
    """HTTP status Twilio pairs with an error code: 20429 -> 429, 205xx -> 500, else 400."""
    fixed = {20003: 401, 20004: 405, 20404: 404, 20429: 429}
    return fixed.get(code, 500 if 20500 <= code < 20600 else 400)


def error_json(code: int, status: int, message: str | None = None) -> dict:
    """Twilio's (legacy) error body, which the client turns into TwilioRestException."""
    return {"code": code, "message": message or MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def segments(body: str) -> int:
    """SMS segments: GSM-7 160 (153 per part), else UCS-2 70 (67 per part)."""
    if not body:
        return 0
    if set(body) <= GSM7:
        return 1 if len(body) <= 160 else -(-len(body) // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))  # "Thu, 24 Aug ... +0000"


def date_filter(text: str) -> date | datetime:
    """A DateSent filter value: `YYYY-MM-DD`, or a full ISO 8601 instant as twilio-python
    sends one."""
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def matches_date(sent: datetime | None, op: str, bound: date | datetime) -> bool:
    """Twilio's DateSent, DateSent< and DateSent> (on, on or before, on or after)."""
    if sent is None:
        return False  # not yet handed to a carrier: no sent date to match
    value = sent.date() if not isinstance(bound, datetime) else sent
    return {"": value == bound, "<": value <= bound, ">": value >= bound}[op]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTwilio

    def handle_error(self, request, client_address):  # a client that gave up is no error
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: stop() never waits on idle sockets

    def log_message(self, format, *args):  # quiet
        pass

    def do_POST(self):
        self.server.fake._handle(self)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Twilio-Request-Id", "RQ" + uuid.uuid4().hex)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client already timed out and hung up
            pass


class FakeTwilio:
    """A Twilio-compatible REST server on 127.0.0.1 in a thread, for tests."""

    def __init__(self, account_sid: str | None = None, auth_token: str = "test-auth-token",
                 clock=None):
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token
        self.clock = clock or (lambda: datetime.now(UTC))  #: Twilio's own clock
        self.base_url = ""
        self.sent: list[dict] = []  #: every message accepted, oldest first
        self.requests: list[dict] = []  #: every create and every refused request
        self.lists: list[dict] = []  #: every list request: its query and what it answered
        self._script: deque[tuple] = deque()
        self._list_script: deque[tuple] = deque()
        #: Seconds every unscripted create waits, after sending, before it answers.
        self.answer_delay = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeTwilio:
        if self._server is not None:
            raise RuntimeError("FakeTwilio already started")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05}, name="fake-twilio")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes delayed (timeout_next) answers at once
        self._server.shutdown()
        self._server.server_close()  # closes the socket and joins handler threads
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Scripted answers: one FIFO queue, consumed by authenticated POSTs to Messages.json.
    def fail_next(self, code: int, *, http_status: int | None = None, message: str | None = None,
                  times: int = 1) -> None:
        status = http_status or default_status(code)
        with self._lock:
            self._script.extend([("error", code, status, message)] * times)

    def server_error_next(self, times: int = 1) -> None:
        self.fail_next(20500, http_status=500, times=times)

    def timeout_next(self, seconds: float, times: int = 1) -> None:
        """Waits, then answers 503 without sending: a client that gave up lost nothing."""
        with self._lock:
            self._script.extend([("timeout", seconds)] * times)

    def answer_late_next(self, seconds: float, times: int = 1) -> None:
        """Sends the message at once and answers only after `seconds`: a client that gave up
        does not know it went out."""
        with self._lock:
            self._script.extend([("late", seconds)] * times)

    def hang_up_next(self, *, accept: bool, times: int = 1) -> None:
        """Reads the request, sends the message or not, and closes without an answer."""
        with self._lock:
            self._script.extend([("hang_up", accept)] * times)

    def fail_after_sending_next(self, http_status: int = 502, times: int = 1) -> None:
        """Sends the message, then answers an error (an edge or a proxy failing late)."""
        with self._lock:
            self._script.extend([("sent_then_error", http_status)] * times)

    def fail_list_next(self, code: int = 20500, *, http_status: int | None = None,
                       times: int = 1) -> None:
        with self._lock:
            self._list_script.extend([(code, http_status or default_status(code))] * times)

    def _record(self, h: _Handler, path, form, status, code, outcome: str) -> None:
        with self._lock:
            self.requests.append({"method": h.command, "path": path, "form": form,
                                  "status": status, "code": code, "ok": outcome == "accepted",
                                  "outcome": outcome})

    def _error(self, h, path, form, status, code, message=None, headers=None) -> None:
        self._record(h, path, form, status, code, "error")
        h.answer(status, error_json(code, status, message), headers)

    def _handle(self, h: _Handler) -> None:
        path = urlsplit(h.path).path
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        pairs = parse_qs(raw, keep_blank_values=True)
        form = {k: v[0] if len(v) == 1 else v for k, v in pairs.items()}
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if h.headers.get("Authorization") != expected:
            return self._error(h, path, form, 401, 20003, headers={
                "WWW-Authenticate": 'Basic realm="Twilio API"'})
        match = MESSAGES_PATH.match(path)
        if not match or match.group(1) != self.account_sid:
            return self._error(h, path, form, 404, 20404,
                               f"The requested resource {path} was not found")
        if h.command == "GET":
            return self._list(h, path)
        if h.command != "POST":
            return self._error(h, path, form, 405, 20004)
        with self._lock:
            step = self._script.popleft() if self._script else None
        if step and step[0] == "timeout":
            self._record(h, path, form, None, None, "timeout")
            if not self._stopping.wait(step[1]):  # client still waiting: fail, do not send
                h.answer(503, error_json(20503, 503))
            return None
        if step and step[0] == "late":
            message = self._accept(h, path, form, pairs, "accepted_late")
            if message and not self._stopping.wait(step[1]):
                h.answer(201, message)  # the client has long given up
            return None
        if step and step[0] == "sent_then_error":
            if self._accept(h, path, form, pairs, "accepted_then_error"):
                h.answer(step[1], error_json(20500, step[1]))
            return None
        if step and step[0] == "hang_up":
            if step[1]:
                self._accept(h, path, form, pairs, "accepted_hung_up")
            else:
                self._record(h, path, form, None, None, "hung_up")
            h.close_connection = True
            return None
        if step:
            return self._error(h, path, form, step[2], step[1], step[3])
        message = self._accept(h, path, form, pairs, "accepted")
        if message and not (self.answer_delay and self._stopping.wait(self.answer_delay)):
            h.answer(201, message)
        return None

    def _accept(self, h: _Handler, path: str, form: dict, pairs: dict,
                outcome: str) -> dict | None:
        """Validates and stores a create; answers the error itself, or returns the message."""
        to, body = form.get("To") or "", form.get("Body") or ""
        sender, service = form.get("From") or None, form.get("MessagingServiceSid") or None
        media = pairs.get("MediaUrl", [])
        if not to:
            return self._error(h, path, form, 400, 21604)
        if not sender and not service:
            return self._error(h, path, form, 400, 21603)
        if not body and not media and not form.get("ContentSid"):
            return self._error(h, path, form, 400, 21602)
        sid, created = "SM" + uuid.uuid4().hex, self.clock().replace(microsecond=0)
        message = self._resource(sid, to, sender, service, body, len(media), created, None,
                                 "accepted" if service else "queued")
        with self._lock:
            self.sent.append({"sid": sid, "to": to, "from": sender,
                              "messaging_service_sid": service, "body": body,
                              "status_callback": form.get("StatusCallback"), "form": form,
                              "created": created, "num_media": len(media)})
        self._record(h, path, form, 201, None, outcome)
        return message

    def _resource(self, sid, to, sender, service, body, num_media, created, sent, status) -> dict:
        uri = f"/{API}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid, "api_version": API, "body": body,
            "date_created": rfc2822(created), "date_sent": sent and rfc2822(sent),
            "date_updated": rfc2822(sent or created),
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": sender, "messaging_service_sid": service, "num_media": str(num_media),
            "num_segments": str(segments(body)), "price": None, "price_unit": "USD", "sid": sid,
            "status": status, "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to,
            "uri": f"{uri}.json",
        }

    def _list(self, h: _Handler, path: str) -> None:
        """GET Messages.json: newest first, filtered by To, From and DateSent, paged."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query).items()}
        with self._lock:
            step = self._list_script.popleft() if self._list_script else None
            stored = list(self.sent)
        if step:
            self.lists.append({"query": query, "status": step[1], "found": 0})
            return h.answer(step[1], error_json(step[0], step[1]))
        try:
            size = min(max(int(query.get("PageSize", 50)), 1), 1000)
            page = max(int(query.get("Page", 0)), 0)
            dates = [(op, date_filter(query[f"DateSent{op}"])) for op in ("", "<", ">")
                     if f"DateSent{op}" in query]
        except ValueError:
            self.lists.append({"query": query, "status": 400, "found": 0})
            return h.answer(400, error_json(20001, 400, "Invalid parameter"))
        rows = [m for m in reversed(stored)
                if query.get("To") in (None, m["to"]) and query.get("From") in (None, m["from"])
                and all(matches_date(m["created"], op, bound) for op, bound in dates)]
        chunk = rows[page * size:(page + 1) * size]
        base = f"/{API}/Accounts/{self.account_sid}/Messages.json"
        keep = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}

        def uri(n: int) -> str:
            return base + "?" + urlencode({**keep, "PageSize": size, "Page": n,
                                           **({"PageToken": f"PA{n * size}"} if n else {})})

        more = len(rows) > (page + 1) * size
        self.lists.append({"query": query, "status": 200, "found": len(chunk)})
        h.answer(200, {
            "messages": [self._resource(m["sid"], m["to"], m["from"],
                                        m["messaging_service_sid"], m["body"], m["num_media"],
                                        m["created"], m["created"], "sent") for m in chunk],
            "end": page * size + max(len(chunk) - 1, 0), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None, "page": page, "page_size": size,
            "previous_page_uri": uri(page - 1) if page else None, "start": page * size,
            "uri": uri(page),
        })
        return None
