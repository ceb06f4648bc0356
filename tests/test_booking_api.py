"""The booking rules (README, "The clinic's rules"), through POST /api/v1/bookings."""

from conftest import payload
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.models import Appointment, AppointmentEvent, Client

TUE_9 = "2027-03-02T09:00:00-08:00"


def count_visits(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Appointment.id)))


def test_booking_a_facial_returns_the_booking(book, providers):
    r = book(TUE_9)
    assert r.status_code == 201
    b = r.json["booking"]
    assert b["status"] == "booked"
    assert b["service"] == "facial"
    assert b["provider_id"] == providers.aesthetician
    assert b["start"] == TUE_9
    assert b["end"] == "2027-03-02T10:00:00-08:00"
    assert b["price_cents"] == 8000
    assert b["manage_url"] == f"http://clinic.test/manage/{b['token']}"
    assert b["warnings"] == []
    assert len(b["token"]) >= 32


def test_get_booking_by_token_is_the_same_object(book, client):
    created = book(TUE_9).json
    fetched = client.get(f"/api/v1/bookings/{created['booking']['token']}")
    assert fetched.status_code == 200
    assert fetched.json == created


def test_unknown_token_is_404(client):
    r = client.get("/api/v1/bookings/not-a-real-token")
    assert r.status_code == 404
    assert r.json["error"]["code"] == "not_found"


def test_phone_is_stored_in_e164(book, app):
    assert book(TUE_9, client={"name": "A", "phone": "(415) 555-2671"}).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(Client.phone)) == "+14155552671"


def test_same_phone_typed_differently_is_one_client(book, app):
    assert book(TUE_9, client={"name": "A", "phone": "(415) 555-2671"}).status_code == 201
    second = book("2027-03-16T10:00:00-07:00", service="extraction",
                  client={"name": "A", "phone": "+1 415-555-2671"}, concerns=["cysts"])
    assert second.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count(Client.id))) == 1


def test_impossible_phone_is_422(book, app):
    r = book(TUE_9, client={"name": "A", "phone": "555-0000"})
    assert r.status_code == 422
    assert "client.phone" in r.json["error"]["fields"]
    assert count_visits(app) == 0


def test_booking_without_sms_consent_is_refused(book, app):
    r = book(TUE_9, sms_consent=False)
    assert r.status_code == 422
    assert r.json["error"]["code"] == "sms_consent_required"
    assert count_visits(app) == 0


def test_pustules_booked_as_facial_need_a_dermatologist(book, app):
    r = book(TUE_9, concerns=["blackheads", "pustules"])
    assert r.status_code == 422
    err = r.json["error"]
    assert err["code"] == "needs_dermatologist"
    assert err["suggested_service"] == "extraction"
    assert "pustules" in err["fields"]["intake.concerns"]
    assert count_visits(app) == 0


def test_every_dermatologist_concern_is_refused_as_facial(book):
    for concern in ("pustules", "cysts", "milia", "infection_signs"):
        assert book(TUE_9, concerns=[concern]).json["error"]["code"] == "needs_dermatologist"


def test_cysts_can_be_booked_with_a_dermatologist(book, providers):
    r = book(TUE_9, service="extraction", concerns=["cysts"])
    assert r.status_code == 201
    assert r.json["booking"]["provider_id"] == providers.dermatologist
    assert r.json["booking"]["price_cents"] == 20000


def test_second_extraction_within_14_days_is_refused(book, app):
    assert book(TUE_9, service="extraction").status_code == 201
    r = book("2027-03-15T09:00:00-07:00", service="extraction")
    assert r.status_code == 422
    err = r.json["error"]
    assert err["code"] == "too_soon"
    assert err["earliest_date"] == "2027-03-16"
    assert count_visits(app) == 1


def test_facials_count_for_the_extraction_cadence(book):
    assert book(TUE_9).status_code == 201
    r = book("2027-03-09T09:00:00-08:00", service="extraction")
    assert r.json["error"]["code"] == "too_soon"


def test_cadence_counts_visits_before_the_new_one_too(book):
    assert book("2027-03-20T09:00:00-07:00").status_code == 201
    r = book("2027-03-10T09:00:00-08:00", service="extraction")
    assert r.json["error"]["code"] == "too_soon"
    # Today is 14 days or more before the 20th: the earliest allowed day is today.
    assert r.json["error"]["earliest_date"] == "2027-03-01"
    assert book("2027-03-06T09:00:00-08:00", service="extraction").status_code == 201


def test_extraction_14_clinic_days_later_is_allowed_at_any_hour(book):
    assert book("2027-03-02T14:00:00-08:00", service="extraction").status_code == 201
    # Fourteen calendar days on, earlier in the day and across the clock change.
    assert book("2027-03-16T09:00:00-07:00", service="extraction").status_code == 201


def test_extraction_13_days_later_is_refused_whatever_the_hour(book):
    assert book(TUE_9, service="extraction").status_code == 201
    r = book("2027-03-15T16:00:00-07:00", service="extraction")
    assert r.json["error"]["code"] == "too_soon"


def test_cancelled_visits_do_not_count_for_cadence(book, client):
    token = book(TUE_9).json["booking"]["token"]
    client.post(f"/api/v1/bookings/{token}/cancel")
    assert book("2027-03-09T09:00:00-08:00", service="extraction").status_code == 201


def test_cadence_is_per_client_phone(book):
    assert book(TUE_9).status_code == 201
    r = book("2027-03-03T09:00:00-08:00", phone="(415) 555-2672")
    assert r.status_code == 201


def test_event_within_3_days_books_with_warning(book):
    r = book(TUE_9, event_date="2027-03-05")
    assert r.status_code == 201
    assert [w["code"] for w in r.json["booking"]["warnings"]] == ["event_soon"]


def test_event_later_than_3_days_has_no_warning(book):
    assert book(TUE_9, event_date="2027-03-06").json["booking"]["warnings"] == []


def test_event_before_the_visit_has_no_warning(book):
    assert book(TUE_9, event_date="2027-03-01").json["booking"]["warnings"] == []


def test_start_inside_lead_time_is_refused(book):
    r = book("2027-03-01T09:45:00-08:00")  # now is 08:00; first bookable start 10:00
    assert r.status_code == 422
    assert r.json["error"]["code"] == "lead_time"
    assert book("2027-03-01T10:00:00-08:00").status_code == 201


def test_start_in_the_past_is_refused(book):
    r = book("2027-02-26T09:00:00-08:00")
    assert r.json["error"]["code"] == "in_past"


def test_start_past_60_days_is_refused(book):
    # Now is 1 March 08:00; sixty days on is 30 April 08:00, before that day opens.
    r = book("2027-04-30T09:00:00-07:00")
    assert r.status_code == 422
    assert r.json["error"]["code"] == "beyond_horizon"
    assert book("2027-04-29T16:00:00-07:00").status_code == 201


def test_start_off_the_15_minute_grid_is_refused(book):
    r = book("2027-03-02T09:10:00-08:00")
    assert r.json["error"]["code"] == "off_grid"


def test_start_outside_working_hours_is_refused(book):
    for start in ("2027-03-02T08:00:00-08:00", "2027-03-02T16:15:00-08:00",
                  "2027-03-07T10:00:00-08:00"):  # before opening, ends after 17:00, Sunday
        r = book(start)
        assert r.status_code == 422, start
        assert r.json["error"]["code"] == "outside_hours"


def test_taken_slot_is_409_with_next_three_alternatives(book):
    assert book(TUE_9).status_code == 201
    r = book(TUE_9, phone="(415) 555-2672")
    assert r.status_code == 409
    err = r.json["error"]
    assert err["code"] == "slot_unavailable"
    # 09:00-10:00 plus 15 min cleanup: the next facial can start at 10:15.
    assert [a["start"] for a in err["alternatives"]] == [
        "2027-03-02T10:15:00-08:00", "2027-03-02T10:30:00-08:00", "2027-03-02T10:45:00-08:00"]


def test_alternatives_run_past_the_refused_day_and_a_closed_one(book, client):
    """The last facial of Saturday taken: the next free times are Monday's first three."""
    saturday = client.get("/api/v1/availability?service=facial&from=2027-03-06&to=2027-03-06")
    last = saturday.json["slots"][-1]["start"]
    assert book(last).status_code == 201
    r = book(last, phone="(415) 555-2672")
    assert r.status_code == 409
    monday = client.get("/api/v1/availability?service=facial&from=2027-03-07&to=2027-03-08")
    assert [a["start"] for a in r.json["error"]["alternatives"]] == [
        s["start"] for s in monday.json["slots"][:3]]
    assert r.json["error"]["alternatives"][0]["start"].startswith("2027-03-08T")


def test_buffer_blocks_a_start_inside_cleanup(book):
    assert book(TUE_9).status_code == 201
    assert book("2027-03-02T10:00:00-08:00", phone="(415) 555-2672").status_code == 409
    assert book("2027-03-02T10:15:00-08:00", phone="(415) 555-2672").status_code == 201


def test_overlap_before_an_existing_visit_is_refused(book):
    assert book("2027-03-02T11:00:00-08:00").status_code == 201
    # 10:00-11:00 plus cleanup runs into 11:00.
    assert book("2027-03-02T10:00:00-08:00", phone="(415) 555-2672").status_code == 409
    assert book("2027-03-02T09:45:00-08:00", phone="(415) 555-2672").status_code == 201


def test_unknown_service_is_422(book):
    r = book(TUE_9, service="massage")
    assert r.status_code == 422
    assert r.json["error"]["code"] == "unknown_service"


def test_unknown_provider_is_422(book):
    r = book(TUE_9, provider_id=999)
    assert r.json["error"]["code"] == "unknown_provider"


def test_provider_of_the_wrong_role_is_422(book, providers):
    r = book(TUE_9, provider_id=providers.dermatologist)
    assert r.status_code == 422
    assert r.json["error"]["code"] == "wrong_provider_role"


def test_chosen_provider_is_kept(book, providers):
    r = book(TUE_9, service="extraction", provider_id=providers.dermatologist)
    assert r.json["booking"]["provider_id"] == providers.dermatologist


def test_any_free_provider_of_the_role_is_chosen(app, book):
    from datetime import time

    from clinic.models import Provider, WorkingHours

    with app.app_context():
        second = Provider(name="Second aesthetician", role="aesthetician")
        second.hours = [WorkingHours(weekday=1, starts=time(9), ends=time(17))]
        db.session.add(second)
        db.session.commit()
        second_id = second.id
    first = book(TUE_9).json["booking"]["provider_id"]
    other = book(TUE_9, phone="(415) 555-2672").json["booking"]["provider_id"]
    assert {first, other} == {first, second_id}
    assert first != other
    assert book(TUE_9, phone="(415) 555-2673").status_code == 409


def test_malformed_json_is_422_and_writes_nothing(client, app):
    r = client.post("/api/v1/bookings", data="{not json", content_type="application/json")
    assert r.status_code == 422
    assert r.json["error"]["code"] == "invalid_json"
    assert count_visits(app) == 0


def test_missing_fields_are_each_named(client):
    r = client.post("/api/v1/bookings", json={})
    assert r.status_code == 422
    fields = r.json["error"]["fields"]
    for name in ("service", "start", "client", "intake"):
        assert name in fields


def test_wrong_types_are_named(client):
    body = payload(TUE_9)
    body["provider_id"] = "one"
    body["intake"]["uses_prescription_topicals"] = "yes"
    body["intake"]["concerns"] = "blackheads"
    r = client.post("/api/v1/bookings", json=body)
    assert r.status_code == 422
    assert set(r.json["error"]["fields"]) == {
        "provider_id", "intake.uses_prescription_topicals", "intake.concerns"}


def test_start_without_offset_is_422(book):
    r = book("2027-03-02T09:00:00")
    assert r.status_code == 422
    assert "start" in r.json["error"]["fields"]


def test_unknown_concern_is_422(book):
    assert book(TUE_9, concerns=["sunburn"]).status_code == 422


def test_booking_is_logged_with_who_and_when(book, app, clock):
    book(TUE_9)
    with app.app_context():
        event = db.session.scalar(select(AppointmentEvent))
        assert (event.action, event.actor, event.at) == ("booked", "client", clock.now)


def test_price_is_kept_at_booking_time(book, app, client):
    from clinic.models import Service

    token = book(TUE_9).json["booking"]["token"]
    with app.app_context():
        db.session.scalar(select(Service).where(Service.slug == "facial")).price_cents = 9500
        db.session.commit()
    assert client.get(f"/api/v1/bookings/{token}").json["booking"]["price_cents"] == 8000


def test_foreign_and_landline_numbers_are_refused(book, app):
    for phone in ("+44 7911 123456", "+1 500 555 0006"):
        r = book(TUE_9, phone=phone)
        assert r.status_code == 422, phone
        assert "client.phone" in r.json["error"]["fields"]
    assert count_visits(app) == 0


def test_a_phone_books_at_most_five_times_a_day(book, client, app):
    for day in range(2, 7):
        token = book(f"2027-03-0{day}T09:00:00-08:00").json["booking"]["token"]
        client.post(f"/api/v1/bookings/{token}/cancel")
    r = book("2027-03-08T09:00:00-08:00")
    assert r.status_code == 422
    assert r.json["error"]["code"] == "too_many_bookings"
    assert book("2027-03-08T09:00:00-08:00", phone="(415) 555-2672").status_code == 201


def test_a_booking_never_overwrites_the_clients_record(book, app):
    book(TUE_9, client={"name": "Dana Client", "phone": "(415) 555-2671",
                        "email": "dana@example.com"})
    r = book("2027-03-20T09:00:00-07:00", client={"name": "Someone Else",
                                                  "phone": "(415) 555-2671",
                                                  "email": "other@example.com"})
    assert r.status_code == 201
    with app.app_context():
        person = db.session.scalar(select(Client))
        assert (person.name, person.email) == ("Dana Client", "dana@example.com")
        latest = db.session.scalar(select(Appointment).order_by(Appointment.id.desc()))
        assert latest.intake["name_given"] == "Someone Else"


def test_an_opted_out_client_is_told_there_will_be_no_texts(book, app, clock):
    book(TUE_9)
    with app.app_context():
        db.session.scalar(select(Client)).opted_out_at = clock.now
        db.session.commit()
    r = book("2027-03-20T09:00:00-07:00")
    assert [w["code"] for w in r.json["booking"]["warnings"]] == ["sms_opted_out"]
