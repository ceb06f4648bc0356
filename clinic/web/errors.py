"""Error pages for people and JSON errors for the API, chosen by path."""

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..api.errors import api_http_error, error_response

TITLES = {
    404: "We couldn't find that page",
    405: "That didn't work",
    413: "That was too much to send",
    429: "Too many tries",
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("errors/page.html", title="This page was open too long",
                               code=400, detail="Please go back, reload the page and try "
                               "again. Nothing was changed."), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        api = api_http_error(exc)
        if api is not None:
            return api
        title = TITLES.get(exc.code, "Something went wrong")
        return render_template("errors/page.html", title=title, code=exc.code), exc.code

    @app.errorhandler(InternalServerError)
    def _server(exc):
        if request.path.startswith("/api/"):
            return error_response(500, "internal_error", "Something went wrong on our side.")
        return render_template("errors/page.html", title="Something went wrong on our side",
                               code=500), 500
