"""OpenAPI 3 description of every /api/v1 endpoint, served at /api/v1/openapi.json."""

from flask import jsonify

from . import bp


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "Error")
BOOKING = _json(_ref("BookingEnvelope"), "The booking")
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
STAFF = [{"bearer": []}]
VISIT = {"name": "appointment_id", "in": "path", "required": True, "schema": {"type": "integer"}}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "alternatives": {"type": "array", "items": _ref("Slot")},
                "earliest_date": {"type": "string", "format": "date"},
                "earliest_start": {"type": "string", "format": "date-time"},
                "suggested_service": {"type": "string"},
            }}},
    },
    "Service": {"type": "object", "properties": {
        "slug": {"type": "string"}, "name": {"type": "string"},
        "price_cents": {"type": "integer"}, "currency": {"type": "string"},
        "duration_minutes": {"type": "integer"},
        "provider_role": {"type": "string", "enum": ["aesthetician", "dermatologist"]},
        "includes_extraction": {"type": "boolean"}}},
    "Provider": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "role": {"type": "string"},
        "board_certified": {"type": "boolean"}}},
    "Slot": {"type": "object", "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"}, "provider_id": {"type": "integer"}}},
    "BookingRequest": {
        "type": "object", "required": ["service", "start", "client", "sms_consent", "intake"],
        "properties": {
            "service": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "provider_id": {"type": "integer"},
            "client": {"type": "object", "required": ["name", "phone"], "properties": {
                "name": {"type": "string"}, "phone": {"type": "string"},
                "email": {"type": "string", "format": "email"}}},
            "sms_consent": {"type": "boolean", "enum": [True]},
            "intake": {"type": "object", "required": ["uses_prescription_topicals"],
                       "properties": {
                           "uses_prescription_topicals": {"type": "boolean"},
                           "concerns": {"type": "array", "items": {"type": "string", "enum": [
                               "blackheads", "whiteheads", "clogged_pores", "pustules", "cysts",
                               "milia", "infection_signs", "other"]}},
                           "event_date": {"type": "string", "format": "date"}}}}},
    "Booking": {"type": "object", "properties": {
        "id": {"type": "integer"}, "token": {"type": "string"},
        "status": {"type": "string", "enum": ["booked", "confirmed", "checked_in", "completed",
                                              "cancelled", "no_show"]},
        "service": {"type": "string"}, "provider_id": {"type": "integer"},
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "price_cents": {"type": "integer"}, "currency": {"type": "string"},
        "manage_url": {"type": "string", "format": "uri"},
        "calendar_url": {"type": "string", "format": "uri"},
        "late_change": {"type": "boolean"},
        "warnings": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}}}},
    "BookingEnvelope": {"type": "object", "properties": {"booking": _ref("Booking")}},
    "StaffAppointment": {"type": "object", "properties": {
        "id": {"type": "integer"}, "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"}, "status": {"type": "string"},
        "service": {"type": "string"}, "provider_id": {"type": "integer"},
        "client": {"type": "object", "properties": {
            "name": {"type": "string"}, "phone": {"type": "string"}}}}},
    "Message": {"type": "object", "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["confirmation", "pre_visit_pause", "reminder",
                                            "aftercare", "redness_checkin", "purging_checkin",
                                            "rebook"]},
        "due_at": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": ["scheduled", "sending", "sent", "delivered",
                                              "failed", "cancelled", "skipped", "unknown"]},
        "body": {"type": "string", "nullable": True},
        "sent_at": {"type": "string", "format": "date-time", "nullable": True},
        "provider_sid": {"type": "string", "nullable": True},
        "attempts": {"type": "integer"}, "error_code": {"type": "integer", "nullable": True},
        "note": {"type": "string", "nullable": True},
        "history": {"type": "array", "description": "Each attempt's outcome, oldest first",
                    "items": {"type": "object", "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "outcome": {"type": "string", "enum": [
                            "sent", "delivered", "retry", "failed", "unsure", "found",
                            "resend", "rechecking", "unknown", "late"]},
                        "provider_sid": {"type": "string", "nullable": True},
                        "error_code": {"type": "integer", "nullable": True},
                        "note": {"type": "string", "nullable": True}}}}}},
    "Followup": {"type": "object", "properties": {
        "id": {"type": "integer"}, "appointment_id": {"type": "integer", "nullable": True},
        "client": {"type": "object", "nullable": True, "properties": {
            "name": {"type": "string"}, "phone": {"type": "string"}}},
        "from_phone": {"type": "string", "nullable": True},
        "message": {"type": "string", "nullable": True},
        "reason": {"type": "string"}, "priority": {"type": "string", "enum": ["high", "normal"]},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "created_at": {"type": "string", "format": "date-time"}}},
}

PATHS = {
    "/api/v1/services": {"get": {
        "summary": "Services the clinic offers",
        "responses": {"200": _json({"type": "object", "properties": {
            "services": {"type": "array", "items": _ref("Service")}}}, "Services")}}},
    "/api/v1/providers": {"get": {
        "summary": "Providers",
        "responses": {"200": _json({"type": "object", "properties": {
            "providers": {"type": "array", "items": _ref("Provider")}}}, "Providers")}}},
    "/api/v1/availability": {"get": {
        "summary": "Free slots for a service between two clinic days (at most 62 days)",
        "parameters": [
            {"name": "service", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "from", "in": "query", "required": True,
             "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "required": True,
             "schema": {"type": "string", "format": "date"}},
            {"name": "provider", "in": "query", "schema": {"type": "integer"}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "timezone": {"type": "string"},
            "slots": {"type": "array", "items": _ref("Slot")}}}, "Slots"), "422": ERROR}}},
    "/api/v1/bookings": {"post": {
        "summary": "Book a visit",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("BookingRequest")}}},
        "responses": {"201": BOOKING, "409": ERROR, "422": ERROR, "429": ERROR}}},
    "/api/v1/bookings/{token}": {"get": {
        "summary": "A booking by its manage token", "parameters": [TOKEN],
        "responses": {"200": BOOKING, "404": ERROR}}},
    "/api/v1/bookings/{token}/cancel": {"post": {
        "summary": "Cancel a booking (late when under 24 h before the start)",
        "parameters": [TOKEN], "responses": {"200": BOOKING, "404": ERROR, "409": ERROR}}},
    "/api/v1/bookings/{token}/reschedule": {"post": {
        "summary": "Move a booking", "parameters": [TOKEN],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["start"], "properties": {
                "start": {"type": "string", "format": "date-time"},
                "provider_id": {"type": "integer"}}}}}},
        "responses": {"200": BOOKING, "404": ERROR, "409": ERROR, "422": ERROR}}},
    "/api/v1/bookings/{token}/calendar.ics": {"get": {
        "summary": "The visit as an iCalendar event", "parameters": [TOKEN],
        "responses": {"200": {"description": "One VEVENT",
                              "content": {"text/calendar": {"schema": {"type": "string"}}}},
                      "404": ERROR}}},
    "/api/v1/staff/appointments": {"get": {
        "summary": "Visits of one clinic day", "security": STAFF,
        "parameters": [{"name": "date", "in": "query", "required": True,
                        "schema": {"type": "string", "format": "date"}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "appointments": {"type": "array", "items": _ref("StaffAppointment")}}},
            "Appointments"), "401": ERROR, "422": ERROR}}},
    "/api/v1/staff/appointments/{appointment_id}/status": {"post": {
        "summary": "Move a visit along its lifecycle (409 for a forbidden transition)",
        "security": STAFF, "parameters": [VISIT],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {"status": {
                "type": "string", "enum": ["confirmed", "checked_in", "completed", "cancelled",
                                           "no_show"]}}}}}},
        "responses": {"200": _json({"type": "object", "properties": {
            "appointment": _ref("StaffAppointment")}}, "The visit"),
            "401": ERROR, "404": ERROR, "409": ERROR, "422": ERROR}}},
    "/api/v1/staff/appointments/{appointment_id}/messages": {"get": {
        "summary": "A visit's texts with their delivery status", "security": STAFF,
        "parameters": [VISIT],
        "responses": {"200": _json({"type": "object", "properties": {
            "messages": {"type": "array", "items": _ref("Message")}}}, "Messages"),
            "401": ERROR, "404": ERROR}}},
    "/api/v1/staff/followups": {"get": {
        "summary": "Replies staff should act on, high priority first", "security": STAFF,
        "parameters": [{"name": "status", "in": "query",
                        "schema": {"type": "string", "enum": ["open", "closed", "all"],
                                   "default": "open"}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "followups": {"type": "array", "items": _ref("Followup")}}}, "Follow-ups"),
            "401": ERROR, "422": ERROR}}},
    "/api/v1/openapi.json": {"get": {
        "summary": "This description",
        "responses": {"200": {"description": "OpenAPI 3 document"}}}},
}


@bp.get("/openapi.json")
def openapi():
    return jsonify({
        "openapi": "3.0.3",
        "info": {"title": "Clinic booking API", "version": "1"},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
