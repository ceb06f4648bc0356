"""Sending a text: one small interface, with console, memory and Twilio implementations."""

from __future__ import annotations

import secrets
import sys
import threading
from dataclasses import dataclass, field
from typing import Protocol

from .phones import masked

#: Twilio codes that mean the number will not take texts from us (SPEC section 4).
OPTED_OUT = {21610}
UNDELIVERABLE = {21211, 21614, 30005, 30006}
RETRYABLE = {20429, 30003, 30008}


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str = "sent"


class SendError(Exception):
    """A send that failed; `code` is Twilio's error code when there is one."""

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 timeout: bool = False) -> None:
        super().__init__(message)
        self.code, self.http_status, self.timeout = code, http_status, timeout

    @property
    def outcome(self) -> str:
        """'opted_out', 'undeliverable', 'retry' or 'failed'."""
        return classify(self.code, self.http_status, self.timeout)


def classify(code: int | None, http_status: int | None = None, timeout: bool = False) -> str:
    if code in OPTED_OUT:
        return "opted_out"
    if code in UNDELIVERABLE:
        return "undeliverable"
    if timeout or code in RETRYABLE or (http_status or 0) >= 500 or http_status == 429:
        return "retry"
    return "failed"


class SmsSender(Protocol):
    def send(self, to: str, body: str, ref: str | None = None) -> Sent:
        """Sends one text; `ref` is our message id, echoed back in status callbacks."""


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


@dataclass
class MemorySender:
    """Keeps texts in a list for tests; `fail_with` scripts errors for the next sends."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    fail_with: list[SendError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, to: str, body: str, ref: str | None = None) -> Sent:
        with self._lock:
            if self.fail_with:
                raise self.fail_with.pop(0)
            sid = "SM" + secrets.token_hex(16)
            self.sent.append((sid, to, body))
            return Sent(sid)


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
        from requests import RequestException
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
            raise SendError(f"Twilio {exc.status}: {exc.code}", code=exc.code,
                            http_status=exc.status) from None
        except RequestException as exc:
            raise SendError(f"no answer from Twilio ({exc.__class__.__name__})",
                            timeout=True) from None
        return Sent(message.sid, message.status or "queued")

    def close(self) -> None:
        """Closes the pooled HTTP connections."""
        if self.client.http_client.session is not None:
            self.client.http_client.session.close()


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
            timeout=float(config.get("TWILIO_TIMEOUT", 10)))
    raise ValueError(f"Unknown SMS_BACKEND {backend!r}: use console, memory or twilio.")
