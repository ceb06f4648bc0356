"""Sending a text: one small interface, with console, memory and Twilio implementations.

A sender either returns the provider's SID or raises `SendError`, which says whether the text
certainly did not go out (safe to retry, or not worth it) or may have gone out (`unsure`: the
request reached the provider and no answer came back). `find` asks the provider whether a text
went out, so an unsure send is settled by looking, never by sending it again blindly.
"""

from __future__ import annotations

import secrets
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ..enums import SendFailure
from ..phones import masked

#: Twilio codes that mean the number will not take texts from us (README, "Texts").
OPTED_OUT = {21610}
UNDELIVERABLE = {21211, 21614, 30005, 30006}
RETRYABLE = {20429, 30003, 30008}
#: How many of a number's newest texts a lookup reads, and how far Twilio's clock may differ.
LOOKUP_LIMIT = 200
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Sent:
    """A text the provider has: its SID, status and, when it failed, the error code."""

    sid: str
    status: str = "sent"
    error_code: int | None = None


class SendError(Exception):
    """A send that failed; `code` is Twilio's error code when there is one.

    `timeout`: no connection could be made, so nothing was sent (retry). `unsure`: the request
    went out and no clear answer came back (a read timeout, a dropped connection, a 5xx from
    Twilio or a proxy in front of it), so the text may have been sent.
    """

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 timeout: bool = False, unsure: bool = False) -> None:
        super().__init__(message)
        self.code, self.http_status, self.timeout = code, http_status, timeout
        self.unsure = unsure

    @property
    def outcome(self) -> SendFailure:
        if self.unsure:
            return SendFailure.UNSURE
        return classify(self.code, self.http_status, self.timeout)


def classify(code: int | None, http_status: int | None = None,
             timeout: bool = False) -> SendFailure:
    if code in OPTED_OUT:
        return SendFailure.OPTED_OUT
    if code in UNDELIVERABLE:
        return SendFailure.UNDELIVERABLE
    if timeout or code in RETRYABLE or (http_status or 0) >= 500 or http_status == 429:
        return SendFailure.RETRY
    return SendFailure.FAILED


class SmsSender(Protocol):
    def send(self, to: str, body: str, ref: str | None = None) -> Sent:
        """Sends one text; `ref` is our message id, echoed back in status callbacks."""

    def find(self, to: str, body: str, since: datetime) -> list[Sent]:
        """The texts with this body sent to `to` from our sender since then, newest first.

        Raises SendError when the provider cannot be asked.
        """


def close(sender: SmsSender) -> None:
    """Releases what a sender holds open, for senders that hold anything."""
    closer = getattr(sender, "close", None)
    if closer:
        closer()


class ConsoleSender:
    """Prints texts for the demo; the number is masked as everywhere else."""

    def __init__(self, stream=None) -> None:
        self.stream = stream

    def send(self, to: str, body: str, ref: str | None = None) -> Sent:
        sid = "CONSOLE" + secrets.token_hex(8)
        print(f"--- SMS to {masked(to)} ---\n{body}\n---", file=self.stream or sys.stdout,
              flush=True)
        return Sent(sid)

    def find(self, to: str, body: str, since: datetime) -> list[Sent]:
        return []  # a printout leaves nothing to ask: the demo prints it again


@dataclass
class MemorySender:
    """Keeps texts in a list for tests.

    `fail_with` scripts errors for the next sends; `lose_answers` counts sends that go out but
    whose answer is lost (they raise an unsure SendError); `find_fails` makes lookups fail.
    """

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    fail_with: list[SendError] = field(default_factory=list)
    lose_answers: int = 0
    find_fails: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, to: str, body: str, ref: str | None = None) -> Sent:
        with self._lock:
            if self.fail_with:
                raise self.fail_with.pop(0)
            sid = "SM" + secrets.token_hex(16)
            self.sent.append((sid, to, body))
            if self.lose_answers:
                self.lose_answers -= 1
                raise SendError("no answer from the provider", unsure=True)
            return Sent(sid)

    def find(self, to: str, body: str, since: datetime) -> list[Sent]:
        with self._lock:
            if self.find_fails:
                raise SendError("the provider's message list did not answer", timeout=True)
            return [Sent(sid) for sid, t, b in reversed(self.sent) if (t, b) == (to, body)]


class TwilioSender:
    """The real twilio client; `api_base_url` sends its REST calls to a compatible server."""

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None, status_callback: str | None = None,
                 api_base_url: str | None = None, timeout: float = 10.0) -> None:
        from twilio.rest import Client

        if not (from_number or messaging_service_sid):
            raise ValueError("Set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID.")
        self.from_number, self.service_sid = from_number, messaging_service_sid
        self.status_callback = status_callback
        http = _http_client(api_base_url, timeout)
        self.client = Client(account_sid, auth_token, http_client=http)

    def send(self, to: str, body: str, ref: str | None = None) -> Sent:
        from twilio.base.exceptions import TwilioRestException

        callback = self.status_callback
        if callback and ref:
            # Lets a callback that beats our storing of the SID still find its message.
            callback += f"?m={ref}"
        params = {"to": to, "body": body, "status_callback": callback}
        if self.service_sid:
            params["messaging_service_sid"] = self.service_sid
        else:
            params["from_"] = self.from_number
        try:
            message = self.client.messages.create(**params)
        except TwilioRestException as exc:
            # A 5xx may come from Twilio's edge or a proxy after the message was created.
            raise SendError(f"Twilio {exc.status}: {exc.code}", code=exc.code,
                            http_status=exc.status, unsure=(exc.status or 0) >= 500) from None
        except Exception as exc:  # whatever broke: say whether it may have gone out
            raise _transport_error(exc) from None
        return Sent(message.sid, message.status or "queued")

    def find(self, to: str, body: str, since: datetime) -> list[Sent]:
        """The newest texts to `to` from our sender with this body, created since then.

        Not filtered by DateSent: a text Twilio has accepted but not yet handed to a carrier
        has no sent date, and it is exactly the one looked for. A trial account puts a note in
        front of every body, so the body may end the listed one.
        """
        from twilio.base.exceptions import TwilioRestException

        sender = {} if self.service_sid else {"from_": self.from_number}
        try:
            recent = self.client.messages.list(to=to, limit=LOOKUP_LIMIT, **sender)
        except TwilioRestException as exc:
            raise SendError(f"Twilio {exc.status}: {exc.code} while listing", code=exc.code,
                            http_status=exc.status) from None
        except Exception as exc:  # a lookup that broke is only a lookup
            raise SendError(f"Twilio's message list did not answer "
                            f"({exc.__class__.__name__})", timeout=True) from None
        earliest = since - CLOCK_SKEW
        return [Sent(m.sid, m.status or "queued", m.error_code) for m in recent
                if (m.body or "").endswith(body) and m.date_created is not None
                and m.date_created >= earliest
                and (not self.service_sid or m.messaging_service_sid == self.service_sid)]

    def close(self) -> None:
        """Closes the pooled HTTP connections."""
        if self.client.http_client.session is not None:
            self.client.http_client.session.close()


def _transport_error(exc: Exception) -> SendError:
    """A failure without Twilio's answer: safe to retry only if the request never left.

    That is a connect timeout, a refused connection or failed DNS look-up (urllib3's
    NewConnectionError), or a certificate Twilio's host failed to prove. Any other TLS error
    can happen while the answer is read, so it is unsure like a read timeout.
    """
    import ssl

    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ConnectTimeout
    from urllib3.exceptions import NewConnectionError

    name = exc.__class__.__name__
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    if isinstance(exc, ConnectTimeout) or _caused_by(exc, ssl.SSLCertVerificationError):
        return SendError(f"could not reach Twilio ({name})", timeout=True)
    if isinstance(exc, RequestsConnectionError) and isinstance(reason, NewConnectionError):
        return SendError(f"could not reach Twilio ({name}: connection refused)", timeout=True)
    return SendError(f"no answer from Twilio ({name})", unsure=True)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the exception's arguments, reasons or causes."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        if isinstance(item, kind):
            return True
        seen.add(id(item))
        todo += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return False


def _http_client(api_base_url: str | None, timeout: float):
    from twilio.http.http_client import TwilioHttpClient

    class Redirected(TwilioHttpClient):
        """Sends what would go to api.twilio.com to a Twilio-compatible server instead."""

        def request(self, method, url, *args, **kwargs):
            if api_base_url:
                url = url.replace("https://api.twilio.com", api_base_url.rstrip("/"), 1)
            return super().request(method, url, *args, **kwargs)

    return Redirected(timeout=timeout)


def sender_from_config(config) -> SmsSender:
    backend = config.get("SMS_BACKEND", "console")
    if backend == "console":
        return ConsoleSender()
    if backend == "memory":
        return config.setdefault("SMS_MEMORY", MemorySender())
    if backend == "twilio":
        return TwilioSender(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"],
            from_number=config.get("TWILIO_FROM_NUMBER"),
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID"),
            status_callback=config["PUBLIC_BASE_URL"] + "/sms/status",
            api_base_url=config.get("TWILIO_API_BASE_URL"),
            timeout=config["TWILIO_TIMEOUT"])
    raise ValueError(f"Unknown SMS_BACKEND {backend!r}: use console, memory or twilio.")
