"""One place that turns errors into statuses: JSON bodies for the API, pages for people."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import DeploymentError, FormInvalid, NotAllowed, NotFound, TaskConflict, TourflowError
from webapp import error_messages
from webapp.form_fields import error_text
from webapp.i18n import get_locale
from webapp.i18n import gettext as _

STATUS = {FormInvalid: 422, DeploymentError: 422, TaskConflict: 409, NotAllowed: 403, NotFound: 404}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 414: "uri_too_long", 422: "validation_error",
              500: "internal_error"}
TITLES = {400: "请求有误", 403: "无权访问", 404: "页面不存在", 409: "冲突", 413: "内容过大", 414: "网址过长"}


def status_of(exc: TourflowError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)


def wants_json() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    """An API error: `code` never changes with the language; `message` is in the request's language."""
    return {"error": code, "message": error_messages.render_text(code, message, get_locale(), field),
            "field": field, **extra}


def message_of(exc: TourflowError) -> str:
    """An engine error's message in the user's language (webapp/error_messages.py)."""
    return error_messages.render(exc, get_locale())


def localized_details(errors: list, exc: TourflowError | None = None) -> list:
    """FormInvalid.errors in the user's language: each `message`, and `hint` (the pattern's rule in
    words: the form's x-pattern-hint, or x-pattern-hint-en in English)."""
    lang = get_locale()
    out = []
    for error in errors:
        if not isinstance(error, dict):
            out.append(error)
            continue
        detail = {k: v for k, v in error.items() if k != "hint_en"}
        if lang == "zh":
            detail["message"] = error_messages.field_detail_zh(exc, error) or error_text(error)
        elif "hint" in error:
            detail.pop("hint")
            detail.update({"hint": error["hint_en"]} if error.get("hint_en") else {})
        out.append(detail)
    return out


def finding_dict(finding) -> dict:
    """A finding of a refused deploy: `message` and `text` in the user's language, and both languages."""
    lang = get_locale()
    return {"file": finding.file, "line": finding.line, "col": finding.col, "severity": finding.severity,
            "rule": finding.rule, **finding.messages(lang), "text": finding.line_in(lang)}


def init_app(app: Flask) -> None:
    @app.errorhandler(TourflowError)
    def engine_error(exc: TourflowError):
        status = status_of(exc)
        if wants_json():
            extra = {"errors": localized_details(exc.errors, exc)} if isinstance(exc, FormInvalid) else {}
            if isinstance(exc, DeploymentError):
                extra = {"findings": [finding_dict(f) for f in exc.findings]}
            return jsonify(error_body(exc.code, message_of(exc), getattr(exc, "field", None), **extra)), status
        return render_template("errors/error.html", status=status, title=_(TITLES.get(status, "出错了")),
                               message=message_of(exc)), status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if wants_json():
            return jsonify(error_body("csrf_failed", exc.description)), 400
        return render_template("errors/error.html", status=400, title=_("请求有误"),
                               message=_("表单已过期，请刷新页面后重试")), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if wants_json():
            return jsonify(error_body(HTTP_CODES.get(status, "error"), exc.description or exc.name)), status
        message = error_messages.render_text(HTTP_CODES.get(status, "error"), exc.description or "", get_locale())
        return render_template("errors/error.html", status=status, title=_(TITLES.get(status, "出错了")),
                               message=message), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        if wants_json():
            return jsonify(error_body("internal_error", "internal error; the details are in the server log")), 500
        return render_template("errors/error.html", status=500, title=_("出错了"),
                               message=error_messages.generic("internal_error", get_locale())), 500
