"""Staff accounts from the command line, Bearer tokens, and the day's appointments."""

from datetime import timedelta

from sqlalchemy import select

from clinic.extensions import db
from clinic.models import ApiToken, StaffUser

PASSWORD = "correct horse battery"


def make_staff(runner, email="desk@clinic.test", role="staff"):
    result = runner.invoke(args=["create-staff", email, "--name", "Front desk", "--role", role],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    token = runner.invoke(args=["issue-token", email])
    assert token.exit_code == 0, token.output
    return token.output.strip()


def test_create_staff_hashes_the_password_with_argon2id(runner, app):
    make_staff(runner)
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_create_staff_refuses_short_passwords_and_duplicates(runner):
    short = runner.invoke(args=["create-staff", "a@clinic.test", "--name", "A"], input="short\n")
    assert short.exit_code != 0 and "at least 12" in short.output
    make_staff(runner, "b@clinic.test")
    again = runner.invoke(args=["create-staff", "b@clinic.test", "--name", "B"],
                          input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already has an account" in again.output


def test_issued_token_is_stored_only_as_a_hash(runner, app):
    token = make_staff(runner)
    with app.app_context():
        stored = db.session.scalar(select(ApiToken.token_hash))
    assert token not in stored
    assert stored == ApiToken.digest(token)


def test_issue_token_for_unknown_account_fails(runner):
    result = runner.invoke(args=["issue-token", "nobody@clinic.test"])
    assert result.exit_code != 0 and "No active staff account" in result.output


def test_staff_appointments_need_a_valid_token(client, runner):
    make_staff(runner)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = client.get("/api/v1/staff/appointments?date=2027-03-02", headers=headers)
        assert r.status_code == 401
        assert r.json["error"]["code"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused(client, runner, app, clock):
    token = make_staff(runner)
    with app.app_context():
        db.session.scalar(select(ApiToken)).revoked_at = clock.now
        db.session.commit()
    r = client.get("/api/v1/staff/appointments?date=2027-03-02",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_staff_see_the_clinic_days_appointments(client, runner, book, providers):
    token = make_staff(runner)
    book("2027-03-02T09:00:00-08:00")
    book("2027-03-02T16:30:00-08:00", service="extraction", phone="(415) 555-2672")
    book("2027-03-03T09:00:00-08:00", phone="(415) 555-2673")
    r = client.get("/api/v1/staff/appointments?date=2027-03-02",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    rows = r.json["appointments"]
    assert [a["start"] for a in rows] == ["2027-03-02T09:00:00-08:00", "2027-03-02T16:30:00-08:00"]
    first = rows[0]
    assert first["client"] == {"name": "Dana Client", "phone": "+14155552671"}
    assert first["provider_id"] == providers.aesthetician
    assert (first["status"], first["service"]) == ("booked", "facial")
    assert rows[1]["end"] == "2027-03-02T17:00:00-08:00"


def test_staff_day_follows_clinic_time_on_a_clock_change(client, runner, book, clock):
    token = make_staff(runner)
    book("2027-03-15T09:00:00-07:00")
    r = client.get("/api/v1/staff/appointments?date=2027-03-15",
                   headers={"Authorization": f"Bearer {token}"})
    assert [a["start"] for a in r.json["appointments"]] == ["2027-03-15T09:00:00-07:00"]


def test_staff_appointments_need_a_date(client, runner):
    token = make_staff(runner)
    r = client.get("/api/v1/staff/appointments?date=March", headers={
        "Authorization": f"Bearer {token}"})
    assert r.status_code == 422
    assert "date" in r.json["error"]["fields"]


def staff_headers(runner) -> dict:
    return {"Authorization": f"Bearer {make_staff(runner)}"}


def visit_id(client, headers) -> int:
    return client.get("/api/v1/staff/appointments?date=2027-03-02",
                      headers=headers).json["appointments"][0]["id"]


def test_staff_move_a_visit_through_its_lifecycle(client, runner, book):
    headers = staff_headers(runner)
    book("2027-03-02T09:00:00-08:00")
    vid = visit_id(client, headers)
    for status in ("confirmed", "checked_in", "completed"):
        r = client.post(f"/api/v1/staff/appointments/{vid}/status", json={"status": status},
                        headers=headers)
        assert r.status_code == 200, r.json
        assert r.json["appointment"]["status"] == status


def test_a_transition_the_lifecycle_forbids_is_409(client, runner, book):
    headers = staff_headers(runner)
    book("2027-03-02T09:00:00-08:00")
    vid = visit_id(client, headers)
    r = client.post(f"/api/v1/staff/appointments/{vid}/status", json={"status": "completed"},
                    headers=headers)
    assert r.status_code == 409
    assert r.json["error"]["code"] == "transition_not_allowed"
    client.post(f"/api/v1/staff/appointments/{vid}/status", json={"status": "no_show"},
                headers=headers)
    r = client.post(f"/api/v1/staff/appointments/{vid}/status", json={"status": "checked_in"},
                    headers=headers)
    assert r.status_code == 409


def test_status_change_needs_a_known_status_and_visit(client, runner, book):
    headers = staff_headers(runner)
    book("2027-03-02T09:00:00-08:00")
    vid = visit_id(client, headers)
    r = client.post(f"/api/v1/staff/appointments/{vid}/status", json={"status": "done"},
                    headers=headers)
    assert r.status_code == 422
    r = client.post("/api/v1/staff/appointments/999999/status", json={"status": "confirmed"},
                    headers=headers)
    assert r.status_code == 404
    assert client.post(f"/api/v1/staff/appointments/{vid}/status",
                       json={"status": "confirmed"}).status_code == 401


def test_staff_see_a_visits_messages(client, runner, book, dispatch, clock):
    headers = staff_headers(runner)
    book("2027-03-02T09:00:00-08:00", uses_prescription_topicals=True)
    dispatch(clock.now)
    vid = visit_id(client, headers)
    rows = client.get(f"/api/v1/staff/appointments/{vid}/messages", headers=headers).json[
        "messages"]
    by_kind = {m["kind"]: m for m in rows}
    assert set(by_kind) == {"confirmation", "pre_visit_pause", "reminder"}
    sent = by_kind["confirmation"]
    assert sent["status"] == "sent" and sent["provider_sid"].startswith("SM")
    assert sent["sent_at"] == "2027-03-01T08:00:00-08:00"
    assert "Clear Skin Clinic" in sent["body"]
    assert by_kind["reminder"]["due_at"] == "2027-03-01T09:00:00-08:00"
    assert set(sent) >= {"id", "kind", "due_at", "status", "body", "sent_at", "provider_sid"}
    assert sent["history"] == [{"at": "2027-03-01T08:00:00-08:00", "outcome": "sent",
                                "provider_sid": sent["provider_sid"], "error_code": None,
                                "note": None}]
    assert by_kind["reminder"]["history"] == []


def test_a_retried_text_shows_its_failure_in_history_not_in_its_note(client, runner, book,
                                                                     dispatch, clock, sms):
    from clinic.messaging.senders import SendError

    headers = staff_headers(runner)
    book("2027-03-02T09:00:00-08:00")
    sms.fail_with.append(SendError("Twilio 400: 30003", code=30003, http_status=400))
    dispatch(clock.now)
    vid = visit_id(client, headers)
    url = f"/api/v1/staff/appointments/{vid}/messages"
    [failed] = client.get(url, headers=headers).json["messages"][:1]
    assert (failed["status"], failed["error_code"]) == ("scheduled", 30003)
    dispatch(clock.now + timedelta(minutes=5))
    confirmation = client.get(url, headers=headers).json["messages"][0]
    assert (confirmation["status"], confirmation["error_code"], confirmation["note"]) == (
        "sent", None, None)
    assert [(h["outcome"], h["error_code"]) for h in confirmation["history"]] == [
        ("retry", 30003), ("sent", None)]
    assert confirmation["history"][0]["note"] == "Twilio 400: 30003; retrying"


def test_followups_list_high_priority_first(client, runner, book, app):
    from datetime import timedelta

    from conftest import NOW

    from clinic.models import Client, Followup

    headers = staff_headers(runner)
    book("2027-03-02T09:00:00-08:00")
    with app.app_context():
        person = db.session.scalar(select(Client))
        db.session.add_all([
            Followup(client=person, reason="unrecognised reply", priority="normal",
                     created_at=NOW),
            Followup(client=person, reason="redness bad", priority="high",
                     created_at=NOW + timedelta(minutes=5)),
            Followup(client=person, reason="old", priority="high", status="closed",
                     created_at=NOW)])
        db.session.commit()
    rows = client.get("/api/v1/staff/followups?status=open", headers=headers).json["followups"]
    assert [(f["reason"], f["priority"]) for f in rows] == [
        ("redness bad", "high"), ("unrecognised reply", "normal")]
    assert rows[0]["client"]["phone"] == "+14155552671"
    assert client.get("/api/v1/staff/followups?status=maybe", headers=headers).status_code == 422
