"""The fake Twilio server, checked with the real twilio client (requests underneath)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest
import requests
from fake_twilio import FakeTwilio
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO = "https://api.twilio.com"
TO, FROM = "+14155552671", "+14155550000"
SERVICE = "MG" + "a" * 32


class RedirectingHttpClient(TwilioHttpClient):
    """The real client's HTTP layer, with https://api.twilio.com swapped for the fake's URL."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url
        self.session.trust_env = False  # no proxy from the environment for 127.0.0.1

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO):
            url = self.base_url + url[len(TWILIO):]
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


def make_client(fake: FakeTwilio, token: str | None = None, timeout: float | None = 5):
    http = RedirectingHttpClient(fake.base_url, timeout=timeout)
    return Client(fake.account_sid, token or fake.auth_token, http_client=http), http


@pytest.fixture
def twilio(fake):
    client, http = make_client(fake)
    yield client
    http.session.close()


def test_identity(fake):
    assert fake.account_sid.startswith("AC") and len(fake.account_sid) == 34
    int(fake.account_sid[2:], 16)
    assert fake.base_url.startswith("http://127.0.0.1:")


def test_create_succeeds(fake, twilio):
    msg = twilio.messages.create(to=TO, from_=FROM, body="Your facial is tomorrow at 10:00",
                                 status_callback="https://clinic.test/sms/status")
    assert msg.sid.startswith("SM") and len(msg.sid) == 34
    assert (msg.status, msg.to, msg.from_, msg.body) == ("queued", TO, FROM,
                                                          "Your facial is tomorrow at 10:00")
    assert msg.account_sid == fake.account_sid and msg.api_version == "2010-04-01"
    assert (msg.direction, msg.num_segments, msg.num_media) == ("outbound-api", "1", "0")
    assert msg.price is None and msg.price_unit == "USD" and msg.error_code is None
    assert msg.date_created.tzinfo == UTC and msg.date_sent is None
    assert msg.uri == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{msg.sid}.json"
    assert msg.subresource_uris["media"].endswith(f"/Messages/{msg.sid}/Media.json")
    assert fake.sent == [{
        "sid": msg.sid, "to": TO, "from": FROM, "messaging_service_sid": None,
        "body": "Your facial is tomorrow at 10:00",
        "status_callback": "https://clinic.test/sms/status",
        "form": {"To": TO, "From": FROM, "Body": "Your facial is tomorrow at 10:00",
                 "StatusCallback": "https://clinic.test/sms/status"},
        "created": msg.date_created, "num_media": 0,
    }]
    [req] = fake.requests
    assert (req["method"], req["status"], req["ok"]) == ("POST", 201, True)
    assert req["path"] == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


def test_sids_are_unique_and_long_bodies_segment(fake, twilio):
    a = twilio.messages.create(to=TO, from_=FROM, body="x" * 161)
    b = twilio.messages.create(to=TO, from_=FROM, body="Merci ✨")
    assert a.sid != b.sid
    assert (a.num_segments, b.num_segments) == ("2", "1")


def test_messaging_service(fake, twilio):
    msg = twilio.messages.create(to=TO, messaging_service_sid=SERVICE, body="hi")
    assert (msg.status, msg.from_, msg.messaging_service_sid) == ("accepted", None, SERVICE)
    assert fake.sent[0]["messaging_service_sid"] == SERVICE and fake.sent[0]["from"] is None


def test_fail_next_unsubscribed(fake, twilio):
    fake.fail_next(21610)
    with pytest.raises(TwilioRestException) as err:
        twilio.messages.create(to=TO, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (400, 21610)
    assert "unsubscribed" in err.value.msg
    assert fake.sent == [] and fake.requests[0]["ok"] is False
    assert twilio.messages.create(to=TO, from_=FROM, body="hi").status == "queued"


def test_fail_next_statuses_and_message(fake, twilio):
    fake.fail_next(20429)
    fake.fail_next(21211, message="Invalid 'To' Phone Number: +1555", times=2)
    fake.fail_next(20503, http_status=503)
    seen = []
    for _ in range(4):
        with pytest.raises(TwilioRestException) as err:
            twilio.messages.create(to=TO, from_=FROM, body="hi")
        seen.append((err.value.status, err.value.code))
    assert seen == [(429, 20429), (400, 21211), (400, 21211), (503, 20503)]
    assert err.value.msg == "Unable to create record: Service Unavailable"
    assert fake.sent == []


def test_server_error(fake, twilio):
    fake.server_error_next()
    with pytest.raises(TwilioRestException) as err:
        twilio.messages.create(to=TO, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (500, 20500)


def test_script_is_one_fifo_queue(fake, twilio):
    fake.server_error_next()
    fake.fail_next(21610)
    codes = []
    for _ in range(2):
        with pytest.raises(TwilioRestException) as err:
            twilio.messages.create(to=TO, from_=FROM, body="hi")
        codes.append(err.value.code)
    assert codes == [20500, 21610]
    assert twilio.messages.create(to=TO, from_=FROM, body="hi").sid.startswith("SM")


def test_timeout(fake):
    client, http = make_client(fake, timeout=0.3)
    fake.timeout_next(5.0)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            client.messages.create(to=TO, from_=FROM, body="hi")
        assert fake.sent == []
        assert [r["outcome"] for r in fake.requests] == ["timeout"]
        assert client.messages.create(to=TO, from_=FROM, body="again").body == "again"
    finally:
        http.session.close()
    started = time.monotonic()
    fake.stop()  # the pending 5 s delay must not hold stop() up
    assert time.monotonic() - started < 2


def test_timeout_shorter_than_client_wait_is_still_not_accepted(fake, twilio):
    fake.timeout_next(0.2)
    with pytest.raises(TwilioRestException) as err:
        twilio.messages.create(to=TO, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (503, 20503)
    assert fake.sent == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": TO, "body": "hi"}, 21603),
        ({"to": "", "from_": FROM, "body": "hi"}, 21604),
        ({"to": TO, "from_": FROM}, 21602),
    ],
)
def test_validation(fake, twilio, kwargs, code):
    with pytest.raises(TwilioRestException) as err:
        twilio.messages.create(**kwargs)
    assert (err.value.status, err.value.code) == (400, code)
    assert fake.sent == [] and fake.requests[0]["code"] == code


def test_media_without_body_is_fine(fake, twilio):
    msg = twilio.messages.create(to=TO, from_=FROM, media_url=["https://x.test/a.png",
                                                               "https://x.test/b.png"])
    assert msg.num_media == "2"
    assert fake.sent[0]["form"]["MediaUrl"] == ["https://x.test/a.png", "https://x.test/b.png"]


def test_wrong_auth(fake):
    client, http = make_client(fake, token="wrong-token")
    try:
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to=TO, from_=FROM, body="hi")
    finally:
        http.session.close()
    assert (err.value.status, err.value.code) == (401, 20003)
    assert fake.sent == [] and fake.requests[0]["status"] == 401


def test_other_account_and_other_paths_are_404(fake, twilio):
    with pytest.raises(TwilioRestException) as err:
        twilio.api.v2010.accounts("AC" + "0" * 32).messages.create(to=TO, from_=FROM, body="x")
    assert (err.value.status, err.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as err:
        twilio.calls.create(to=TO, from_=FROM, url="https://clinic.test/twiml")
    assert (err.value.status, err.value.code) == (404, 20404)
    with pytest.raises(TwilioException, match="Unable to fetch page"):  # paging: plain error
        twilio.api.v2010.accounts("AC" + "0" * 32).messages.list(limit=1)
    assert (fake.requests[-1]["status"], fake.requests[-1]["code"]) == (404, 20404)
    assert fake.sent == [] and len(fake.requests) == 3


def test_error_json_is_twilios_shape(fake):
    fake.fail_next(21610)
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    with requests.Session() as s:
        s.trust_env = False
        r = s.post(url, data={"To": TO, "From": FROM, "Body": "hi"},
                   auth=(fake.account_sid, fake.auth_token))
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                        "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}


def test_concurrent_creates_are_all_recorded(fake):
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    fake.fail_next(21610, times=5)

    def post(i: int) -> int:
        with requests.Session() as s:
            s.trust_env = False
            return s.post(url, data={"To": TO, "From": FROM, "Body": f"n{i}"},
                          auth=(fake.account_sid, fake.auth_token), timeout=5).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(post, range(40)))
    assert statuses == [201] * 35 + [400] * 5
    assert len(fake.sent) == 35 and len(fake.requests) == 40
    assert len({m["sid"] for m in fake.sent}) == 35


def test_start_stop_twice_and_explicit_sid():
    server = FakeTwilio(account_sid="AC" + "b" * 32, auth_token="t").start()
    with pytest.raises(RuntimeError):
        server.start()
    server.stop()
    server.stop()
    assert server.account_sid == "AC" + "b" * 32


def test_list_is_newest_first_filtered_by_to_and_from_and_paged(fake, twilio):
    for n in range(5):
        twilio.messages.create(to=TO, from_=FROM, body=f"n{n}")
    twilio.messages.create(to="+14155552672", from_=FROM, body="other client")
    twilio.messages.create(to=TO, from_="+14155550001", body="other sender")
    listed = twilio.messages.list(to=TO, from_=FROM, page_size=2)  # three pages
    assert [m.body for m in listed] == ["n4", "n3", "n2", "n1", "n0"]
    assert all(m.status == "sent" and m.date_sent is not None for m in listed)
    assert [q["found"] for q in fake.lists] == [2, 2, 1]
    assert [m.body for m in twilio.messages.list(to=TO, limit=2)] == ["other sender", "n4"]


def test_list_filters_by_date_sent_as_twilio_documents(fake, twilio):
    from datetime import datetime, timedelta

    twilio.messages.create(to=TO, from_=FROM, body="today")
    today = datetime.now(UTC)
    assert len(twilio.messages.list(date_sent_after=today - timedelta(minutes=1))) == 1
    assert twilio.messages.list(date_sent_after=today + timedelta(minutes=1)) == []
    assert len(twilio.messages.list(date_sent_before=today + timedelta(minutes=1))) == 1
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    with requests.Session() as s:
        s.trust_env = False
        day = today.date().isoformat()
        r = s.get(url, params={"DateSent": day}, auth=(fake.account_sid, fake.auth_token))
        assert [m["body"] for m in r.json()["messages"]] == ["today"]
        r = s.get(url, params={"DateSent>": "2099-01-01"},
                  auth=(fake.account_sid, fake.auth_token))
        assert r.json()["messages"] == [] and r.json()["next_page_uri"] is None


def test_list_can_fail_on_purpose(fake, twilio):
    fake.fail_list_next(20500)
    with pytest.raises(TwilioException):
        twilio.messages.list(to=TO)
    assert twilio.messages.list(to=TO) == []
    assert [q["status"] for q in fake.lists] == [500, 200]


def test_answer_late_sends_the_message_but_the_client_gives_up(fake):
    client, http = make_client(fake, timeout=0.3)
    fake.answer_late_next(2.0)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            client.messages.create(to=TO, from_=FROM, body="late")
        [listed] = client.messages.list(to=TO)
    finally:
        http.session.close()
    assert listed.body == "late" and listed.sid == fake.sent[0]["sid"]
    assert [r["outcome"] for r in fake.requests] == ["accepted_late"]


@pytest.mark.parametrize("accept", [True, False])
def test_hang_up_closes_the_connection_without_an_answer(fake, twilio, accept):
    fake.hang_up_next(accept=accept)
    with pytest.raises(requests.exceptions.ConnectionError):
        twilio.messages.create(to=TO, from_=FROM, body="dropped")
    assert len(fake.sent) == (1 if accept else 0)
    assert fake.requests[0]["outcome"] == ("accepted_hung_up" if accept else "hung_up")
