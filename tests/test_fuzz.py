"""Fuzzing the JSON API with Hypothesis: no input, however odd, gets a 5xx (README, "API").

Every 4xx must carry the one error shape {"error": {"code", "message", "fields"}}. Bookings that
happen to succeed are harmless: their rows go when the test's database is emptied.

With TESTING on, an exception inside a view propagates out of the test client instead of
becoming a 500, so a crash shows up here as that exception, with its traceback and the
example Hypothesis prints. `--hypothesis-show-statistics` lists the answers each test got.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote, quote_from_bytes, urlencode
from zoneinfo import ZoneInfo

import pytest
from conftest import payload
from hypothesis import HealthCheck, Phase, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

LA = ZoneInfo("America/Los_Angeles")
TODAY = date(2027, 3, 1)  # the clinic day of the `clock` fixture
TUE_9 = "2027-03-02T09:00:00-08:00"


def mostly(usual: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` three times in four, so that the deeper code paths get their share."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda u: usual if u else other)


def fuzz_settings(max_examples: int):
    return settings(
        max_examples=max_examples,
        deadline=None,
        # No explain phase: replaying a failing booking a few hundred times costs seconds.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        # The app and client fixtures are shared by every example of a test, on purpose.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )


# --- Building blocks --------------------------------------------------------------------------


def texts(*, surrogates: bool = True) -> st.SearchStrategy[str]:
    """Awkward text. Lone surrogates can arrive in JSON (as "\\ud800"), never in a URL."""
    char = st.characters() if surrogates else st.characters(codec="utf-8")
    options = [
        st.text(char),
        st.text(st.characters(max_codepoint=0x7F), max_size=20),
        st.builds(lambda a, b: a + "\x00" + b, st.text(char, max_size=5),
                  st.text(char, max_size=5)),
        st.builds(lambda c, n: c * n, char, st.integers(100, 20_000)),
        st.sampled_from([
            "", " ", "\t\n", "\x00", "\u202e", "\ufeff", "\U0001f600", "null", "true", "0", "-1",
            "NaN", "Infinity", "<script>", "' OR 1=1 --", "%s%s%n", "{}", "[]", "\\", "\"",
        ]),
    ]
    if surrogates:
        options.append(st.builds(lambda a, s, b: a + s + b, st.text(max_size=5),
                                 st.characters(categories=["Cs"]), st.text(max_size=5)))
    return st.one_of(options)


nasty_text = texts()
url_text = texts(surrogates=False)

huge_ints = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, -(2**31), 2**63 - 1, 2**63, 2**64, 10**30,
                     -(10**30), 10**400]),
)

json_scalars = st.one_of(
    st.none(), st.booleans(), huge_ints, st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(nasty_text, children, max_size=4),
    ),
    max_leaves=12,
)

OFFSETS = ["Z", "z", "+00:00", "-00:00", "-08:00", "-07:00", "+14:00", "-12:00", "+23:59",
           "-23:59", "+24:00", "+0530", "+05", "+05:30:15", "+99:99", "", "+00:00:00.000001"]


def _iso(year, month, day, hour, minute, second, sep, frac, offset) -> str:
    return (f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}"
            f"{frac}{offset}")


#: Out-of-range parts, year 1 and 9999, offsets that push past datetime's limits.
extreme_datetimes = st.builds(
    _iso,
    year=st.sampled_from([1, 2, 1969, 1970, 2026, 2027, 2028, 2038, 9998, 9999])
    | st.integers(1, 9999),
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    hour=st.integers(0, 25),
    minute=st.integers(0, 60),
    second=st.integers(0, 61),
    sep=st.sampled_from(["T", " ", "t"]),
    frac=st.sampled_from(["", ".0", ".123456", ".1234567", ",5"]),
    offset=st.sampled_from(OFFSETS),
)


def _local_start(days: int, minutes: int, utc: bool) -> str:
    start = datetime.combine(TODAY + timedelta(days=days), time(0), tzinfo=LA)
    start = start.replace(hour=minutes // 60, minute=minutes % 60)
    return (start.astimezone(UTC) if utc else start).isoformat()


#: Mostly bookable: on the 15-minute grid within opening hours and the 60-day horizon.
good_starts = st.builds(
    _local_start,
    days=st.integers(1, 59),
    minutes=st.integers(9 * 4, 16 * 4).map(lambda q: q * 15),
    utc=st.booleans(),
)

#: Near the window: the past, the lead time, past the horizon, off the grid, out of hours.
near_starts = st.builds(
    _local_start,
    days=st.integers(-3, 70),
    minutes=st.integers(5 * 60, 20 * 60),
    utc=st.booleans(),
)

aware_datetimes = st.datetimes(
    timezones=st.one_of(st.just(UTC), st.timezones()),
).map(lambda d: d.isoformat())

start_strings = st.one_of(good_starts, near_starts, extreme_datetimes, aware_datetimes,
                          st.datetimes().map(datetime.isoformat), nasty_text)

valid_phones = st.builds("({}) 555-{:04d}".format,
                         st.sampled_from([415, 212, 310, 617, 646, 702, 808, 907]),
                         st.integers(0, 9999))

phones = st.one_of(
    valid_phones,
    st.sampled_from(["+14155552671", "+1 415-555-2671", "+442071838750", "555-0000", "+1", "+",
                     "0", "1" * 40, "1" * 41, "+٤١٥٥٥٥٢٦٧١", "(415) 555-2671 ext. 99999",
                     "tel:+1-415-555-2671"]),
    st.from_regex(r"\+?[0-9 ()\-.]{0,30}", fullmatch=True),
    nasty_text,
)


def day_strings(text: st.SearchStrategy[str] = nasty_text) -> st.SearchStrategy[str]:
    return st.one_of(
        st.dates().map(date.isoformat),
        st.dates(date(2027, 1, 1), date(2027, 7, 1)).map(date.isoformat),
        st.sampled_from(["2027-02-29", "2027-02-30", "2027-13-01", "2027-00-10", "20270301",
                         "2027-3-1", "2027-03-01T00:00", "0000-01-01", "9999-12-31", "1999-12-31",
                         "2200-12-31", "2201-01-01", "+2027-03-01", "2027-W09-1", "２０２７-03-01",
                         " 2027-03-01", "2027-03-01\x00"]),
        text,
    )


#: What str.isdigit() accepts besides 0-9: superscripts, other scripts' digits, circled ones.
digit_lookalikes = st.one_of(
    st.sampled_from(["²", "¹²", "١", "٣٤", "१", "①", "𝟙", "１"]),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=3),
)

DELETE = object()

#: Where a valid booking body can be changed, and what may go there besides any JSON value.
FIELDS = {
    ("service",): st.sampled_from(["facial", "extraction", "Facial", " facial ", "massage"])
    | nasty_text,
    ("start",): start_strings,
    ("provider_id",): st.sampled_from([1, 2, 3]) | huge_ints,
    ("client",): st.none(),
    ("client", "name"): nasty_text,
    ("client", "phone"): phones,
    ("client", "email"): st.one_of(st.emails().map(str), nasty_text),
    ("sms_consent",): st.booleans(),
    ("intake",): st.none(),
    ("intake", "uses_prescription_topicals"): st.booleans(),
    ("intake", "concerns"): st.lists(st.sampled_from(
        ["blackheads", "whiteheads", "clogged_pores", "pustules", "cysts", "milia",
         "infection_signs", "other", "acne", ""]), max_size=10),
    ("intake", "event_date"): day_strings(),
}


def _set(body: dict, path: tuple[str, ...], value) -> None:
    target = body
    for key in path[:-1]:
        target = target.get(key)
        if not isinstance(target, dict):
            return  # an earlier change replaced the parent
    if value is DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


@st.composite
def mutated_bookings(draw) -> dict:
    """A valid booking body (pooled phone, bookable start) with up to three parts changed."""
    service = draw(st.sampled_from(["facial", "extraction"]))
    body = payload(draw(good_starts), service=service, phone=draw(valid_phones),
                   concerns=["cysts"] if service == "extraction" else ["blackheads"])
    paths = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True))
    for path in paths:
        how = draw(st.sampled_from(["typed", "typed", "typed", "any", "delete"]))
        value = {"typed": FIELDS[path], "any": json_values, "delete": st.just(DELETE)}[how]
        _set(body, path, draw(value))
    for key, value in draw(st.dictionaries(nasty_text, json_values, max_size=2)).items():
        body.setdefault(key, value)
    return body


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.sampled_from([b"", b"null", b"NaN", b"-Infinity", b"1e999", b"\xef\xbb\xbf{}", b"{",
                     b'{"start": "', b"\xff\xfe{\x00}\x00", b'{"a": 1, "a": 2}', b"[]", b'""',
                     b'{"client": {"name": "\\ud800"}}']),
    # Nesting deeper than the JSON decoder's recursion limit, within the 64 KB body limit.
    st.builds(lambda opener, n: opener * n, st.sampled_from([b"[", b'{"a":']),
              st.integers(1, 12_000)),
)

CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8",
                                 "application/json; charset=latin-1", "text/plain", None])


def json_text(value) -> str:
    """JSON as a client may send it: NaN, Infinity and lone surrogates (as escapes) included."""
    return json.dumps(value, allow_nan=True, ensure_ascii=True)


def check(response) -> dict | None:
    """No 5xx; every 4xx in the error shape. Returns the JSON body when there is one."""
    text = response.get_data(as_text=True)
    assert response.status_code < 500, f"{response.status_code}: {text[:500]}"
    body = response.get_json(silent=True)
    if currently_in_test_context():  # tallied by --hypothesis-show-statistics
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        event(f"{response.status_code} {code or ''}".strip())
    if 400 <= response.status_code < 500:
        assert isinstance(body, dict), f"{response.status_code} without a JSON object: {text[:500]}"
        error = body.get("error")
        assert isinstance(error, dict), body
        assert isinstance(error.get("code"), str) and error["code"], body
        assert isinstance(error.get("message"), str) and error["message"], body
        assert isinstance(error.get("fields"), dict), body
        assert all(isinstance(k, str) and isinstance(v, str)
                   for k, v in error["fields"].items()), body
    return body


@pytest.fixture
def existing_token(client) -> str:
    """One booking, made once per test; the fuzzed requests may move it."""
    r = client.post("/api/v1/bookings", json=payload(TUE_9))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["booking"]["token"]


# --- POST /api/v1/bookings ------------------------------------------------------------------


@fuzz_settings(max_examples=500)
@given(body=mostly(mutated_bookings(), json_values))
def test_no_booking_payload_gets_a_server_error(client, body):
    r = client.post("/api/v1/bookings", data=json_text(body), content_type="application/json")
    answer = check(r)
    assert r.status_code in (201, 409, 413, 422), r.get_data(as_text=True)[:500]
    if r.status_code == 413:  # a long string, repeated, can pass the 64 KB body limit
        assert answer["error"]["code"] == "too_large"
    if r.status_code == 201:
        booking = answer["booking"]
        assert booking["status"] == "booked" and booking["token"]
        assert datetime.fromisoformat(booking["start"]) == datetime.fromisoformat(
            body["start"].strip().replace("Z", "+00:00"))
    if r.status_code == 409:
        assert answer["error"]["code"] == "slot_unavailable"
        assert isinstance(answer["error"]["alternatives"], list)


@fuzz_settings(max_examples=100)
@given(body=raw_bodies, content_type=CONTENT_TYPES,
       endpoint=st.sampled_from(["/api/v1/bookings", "reschedule"]))
def test_no_raw_body_gets_a_server_error(client, existing_token, body, content_type, endpoint):
    """Bytes that may not be JSON at all, to booking and to moving a booking."""
    if endpoint == "reschedule":
        endpoint = f"/api/v1/bookings/{existing_token}/reschedule"
    r = client.post(endpoint, data=body, content_type=content_type)
    check(r)
    assert r.status_code == 422, r.get_data(as_text=True)[:500]


# --- GET /api/v1/availability ---------------------------------------------------------------

provider_params = st.one_of(
    st.sampled_from(["1", "2", "3", "0", "-1", "01", "999999999", "1234567890", "1.0", " 1",
                     "1 ", "abc", "", "0x1", "1e3", "+1"]),
    digit_lookalikes,
    huge_ints.map(str),
    url_text,
)


@st.composite
def availability_queries(draw) -> dict:
    first = TODAY + timedelta(days=draw(st.integers(-30, 90)))
    span = draw(st.sampled_from([0, 1, 6, 61, 62, -1, -30, 100]) | st.integers(-70, 70))
    query = {"from": first.isoformat(), "to": (first + timedelta(days=span)).isoformat()}
    query["service"] = draw(st.sampled_from(["facial", "extraction"]))
    provider = draw(st.sampled_from(["none", "valid", "odd", "digit lookalike"]))
    if provider != "none":
        query["provider"] = draw({"valid": st.sampled_from(["1", "2"]), "odd": provider_params,
                                  "digit lookalike": digit_lookalikes}[provider])
    for key in draw(st.lists(st.sampled_from(["from", "to", "service", "provider"]),
                             max_size=2, unique=True)):
        if draw(st.booleans()):
            query[key] = draw({"from": day_strings(url_text), "to": day_strings(url_text),
                               "service": url_text, "provider": provider_params}[key])
        else:
            query.pop(key, None)
    return query


availability_requests = mostly(
    st.tuples(st.just("query"), availability_queries()),
    st.tuples(st.just("raw"), st.binary(max_size=100).map(
        lambda b: quote_from_bytes(b, safe="=&"))),
)


@fuzz_settings(max_examples=150)
@given(request=availability_requests)
def test_no_availability_query_gets_a_server_error(client, request):
    kind, query = request
    query_string = urlencode(query) if kind == "query" else query
    r = client.get("/api/v1/availability?" + query_string)
    answer = check(r)
    assert r.status_code in (200, 422), r.get_data(as_text=True)[:500]
    if r.status_code == 200 and kind == "query":
        first, last = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
        assert first <= last and (last - first).days < 62
        assert answer["timezone"] == "America/Los_Angeles"
        for slot in answer["slots"]:
            start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
            assert first <= start.date() <= last, (query, slot)
            assert start < end, slot
            if query.get("provider"):
                assert slot["provider_id"] == int(query["provider"]), (query, slot)


# --- One booking: move it, read it ----------------------------------------------------------


@st.composite
def reschedule_bodies(draw) -> dict:
    body = {"start": draw(mostly(good_starts, start_strings))}
    if draw(st.booleans()):
        body["provider_id"] = draw(mostly(st.sampled_from([1, 2, 3]), huge_ints | json_values))
    changes = draw(st.sampled_from(["none", "none", "none", "start any", "no start"]))
    if changes == "start any":
        body["start"] = draw(json_values)
    elif changes == "no start":
        del body["start"]
    return body


@fuzz_settings(max_examples=150)
@given(body=mostly(reschedule_bodies(), json_values))
def test_no_reschedule_body_gets_a_server_error(client, existing_token, body):
    r = client.post(f"/api/v1/bookings/{existing_token}/reschedule", data=json_text(body),
                    content_type="application/json")
    answer = check(r)
    assert r.status_code in (200, 409, 413, 422), r.get_data(as_text=True)[:500]
    if r.status_code == 413:  # a long string, repeated, can pass the 64 KB body limit
        assert answer["error"]["code"] == "too_large"
    if r.status_code == 200:
        assert answer["booking"]["token"] == existing_token
        assert datetime.fromisoformat(answer["booking"]["start"]) == datetime.fromisoformat(
            body["start"].strip().replace("Z", "+00:00"))


tokens = st.one_of(
    url_text.filter(bool),
    st.text(st.characters(max_codepoint=0x7F), min_size=1, max_size=70),
    st.sampled_from([".", "..", "%", "%00", "\x00", "a" * 64, "a" * 65, "a" * 10_000, " ",
                     "calendar.ics", "cancel", "reschedule", "null", "0", "-1"]),
)


@fuzz_settings(max_examples=150)
@given(which=st.sampled_from(["random", "real", "upper", "shorter", "longer", "with NUL"]),
       token=tokens, suffix=st.sampled_from(["", "/calendar.ics"]))
def test_no_booking_token_gets_a_server_error(client, existing_token, which, token, suffix):
    token = {"random": token, "real": existing_token, "upper": existing_token.upper(),
             "shorter": existing_token[:-1], "longer": existing_token + "x",
             "with NUL": existing_token + "\x00"}[which]
    r = client.get(f"/api/v1/bookings/{quote(token, safe='')}{suffix}")
    if r.status_code == 200:
        assert token == existing_token
        if suffix:
            assert r.mimetype == "text/calendar"
        else:
            assert check(r)["booking"]["token"] == existing_token
        return
    if r.status_code == 308:  # "/" in a token: the router merges the doubled slashes
        assert "//" in f"/{token}{suffix}" and r.location.startswith("http://localhost/api/v1/")
        return
    check(r)
    # 405 when a token holding "/" lands on a POST-only route, like "x/cancel".
    assert r.status_code in (404, 405), r.get_data(as_text=True)[:500]


# --- Staff endpoints with a valid token ----------------------------------------------------

STATUSES = ["booked", "confirmed", "checked_in", "completed", "cancelled", "no_show"]




@pytest.fixture
def existing_visit(client) -> int:
    r = client.post("/api/v1/bookings", json=payload("2027-03-04T11:00:00-08:00"))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["booking"]["id"]


status_bodies = mostly(
    st.fixed_dictionaries({"status": mostly(st.sampled_from(STATUSES), nasty_text)}),
    json_values,
)


@fuzz_settings(max_examples=100)
@given(body=status_bodies)
def test_no_status_change_body_gets_a_server_error(client, staff_auth, existing_visit, body):
    r = client.post(f"/api/v1/staff/appointments/{existing_visit}/status", data=json_text(body),
                    content_type="application/json", headers=staff_auth)
    answer = check(r)
    assert r.status_code in (200, 409, 413, 422), r.get_data(as_text=True)[:500]
    if r.status_code == 200:
        assert answer["appointment"]["status"] == body["status"].strip()
    if r.status_code == 409:
        assert answer["error"]["current_status"] in STATUSES


@fuzz_settings(max_examples=100)
@given(day=day_strings(url_text), status=st.one_of(st.none(), url_text, st.sampled_from(
    ["open", "closed", "all", "OPEN", "open ", ""])))
def test_no_staff_query_gets_a_server_error(client, staff_auth, day, status):
    visits = client.get("/api/v1/staff/appointments?" + urlencode({"date": day}),
                        headers=staff_auth)
    check(visits)
    assert visits.status_code in (200, 422), visits.get_data(as_text=True)[:500]
    query = "" if status is None else "?" + urlencode({"status": status})
    followups = client.get("/api/v1/staff/followups" + query, headers=staff_auth)
    check(followups)
    assert followups.status_code == (200 if status in (None, "open", "closed", "all") else 422)


# --- Staff endpoints without a valid token --------------------------------------------------

#: What a WSGI server can hand over: header bytes decoded as Latin-1, without line breaks.
header_text = st.text(st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=80)

authorizations = st.one_of(
    st.none(),
    header_text,
    header_text.map(lambda t: "Bearer " + t),
    header_text.map(lambda t: "bearer  clk_" + t),
    st.sampled_from(["Bearer", "Bearer ", "Bearer  ", "Bearer\t", "Basic dXNlcjpwYXNz",
                     "Bearer clk_", "Bearer null", "Bearer " + "a" * 5000, "Token abc",
                     "Bearer \x00", "BEARER clk_abc"]),
)


@fuzz_settings(max_examples=150)
@given(authorization=authorizations, day=st.one_of(st.none(), day_strings(url_text)))
def test_staff_appointments_without_a_valid_token_are_401(client, authorization, day):
    headers = {} if authorization is None else {"Authorization": authorization}
    url = "/api/v1/staff/appointments" + ("" if day is None else "?" + urlencode({"date": day}))
    r = client.get(url, headers=headers)
    check(r)
    assert r.status_code == 401, r.get_data(as_text=True)[:500]
    assert r.json["error"]["code"] == "unauthorized"


# --- Inputs the fuzzing above has found; kept so that they fail every run until fixed -------

DEEP = b"[" * 60_000  # far deeper than the decoder follows, yet under the 64 KB body limit
WED_10 = "2027-03-03T10:00:00-08:00"  # free: `existing_token` holds Tuesday 09:00
SURROGATE_NAME = json_text(payload(WED_10, client={"name": "\ud800", "phone": "(415) 555-0000"}))
SURROGATE_SERVICE = json_text(payload(WED_10, service="\ud800"))


@pytest.mark.parametrize(("method", "url", "body"), [
    pytest.param("POST", "/api/v1/bookings", SURROGATE_NAME, id="lone-surrogate-in-client-name"),
    pytest.param("POST", "/api/v1/bookings", SURROGATE_SERVICE, id="lone-surrogate-in-service"),
    pytest.param("POST", "/api/v1/bookings", DEEP, id="deeply-nested-json-booking"),
    pytest.param("POST", "/api/v1/bookings/{token}/reschedule", DEEP,
                 id="deeply-nested-json-reschedule"),
    pytest.param("GET", "/api/v1/availability?service=facial&from=2027-03-02&to=2027-03-02"
                        "&provider=%C2%B2", None, id="superscript-two-as-provider"),
    pytest.param("GET", "/api/v1/bookings/{token}%00", None, id="nul-in-token"),  # PostgreSQL
])
def test_inputs_found_by_fuzzing_get_no_server_error(client, existing_token, method, url, body):
    r = client.open(url.format(token=existing_token), method=method, data=body,
                    content_type="application/json")
    check(r)
    assert r.status_code in (404, 422), r.get_data(as_text=True)[:500]
