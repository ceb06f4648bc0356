"""Every API failure in one shape: {"error": {"code", "message", "fields"}} (README, "API"), some
with more (the `Error` model in clinic/api/schemas.py names each)."""

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from ..booking import BookingError
from ..validation import InvalidInput
from . import bp


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None,
                 **extra) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.extra = extra


def error_response(status: int, code: str, message: str, fields: dict | None = None, **extra):
    body = {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}
    return jsonify(body), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    response, status = error_response(exc.status, exc.code, exc.message, exc.fields, **exc.extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="staff"'
    return response, status


def json_body() -> dict:
    try:
        payload = request.get_json(force=True, silent=True)
    except RecursionError:  # nesting deeper than the decoder can follow
        payload = None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_json", "Send a JSON object.", {"body": "Not a JSON object."})
    return payload


@bp.errorhandler(InvalidInput)
def _invalid(exc: InvalidInput):
    return error_response(422, exc.code, exc.message, exc.fields)


@bp.errorhandler(BookingError)
def _booking_error(exc: BookingError):
    return error_response(exc.status, exc.code, exc.message, exc.fields, **exc.extra)


_HTTP_CODES = {
    400: (422, "invalid_request", "The request could not be read."),
    404: (404, "not_found", "Nothing here."),
    405: (405, "method_not_allowed", "That method is not allowed here."),
    413: (413, "too_large", "The request is too large."),
    415: (422, "invalid_request", "Send JSON."),
    429: (429, "rate_limited", "Too many requests; wait a minute and try again."),
}


def api_http_error(exc: HTTPException):
    """HTTP errors on /api paths answer in the API's shape; None leaves others to the pages."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return None
    status, code, message = _HTTP_CODES.get(exc.code, (exc.code, "http_error", exc.description))
    response, status = error_response(status, code, message)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response, status
