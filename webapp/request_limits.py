"""What every request may be, checked before any view runs (caps in engine/limits.py):

- ids in URLs (`<int:...>`) are at most ID_MAX: a larger number matches no route (404), where it
  would otherwise overflow the database's integer column;
- the path and query string hold at most URI_MAX characters (414);
- a JSON API body holds at most JSON_BODY_MAX bytes (413); uploads and the JSON carrying a diagram
  to lint (DIAGRAM_JSON_PATHS) keep MAX_CONTENT_LENGTH;
- no NUL character in the path (404: nothing is named so) or in a query or form field (422
  naming it): PostgreSQL cannot hold one, and would fail the query.

The 413 and 414 answers are JSON error bodies on /api/ paths, pages elsewhere (webapp/errors.py).
"""

from __future__ import annotations

from flask import Flask, abort
from flask.globals import request_ctx
from werkzeug.routing import IntegerConverter

from engine.limits import ID_MAX, JSON_BODY_MAX, NUL_MESSAGE, URI_MAX, invalid

UPLOAD_TYPES = frozenset({"multipart/form-data"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# JSON bodies that carry a whole BPMN file: they keep the uploads' MAX_CONTENT_LENGTH.
DIAGRAM_JSON_PATHS = frozenset({"/api/v1/lint"})


def digits_up_to(limit: int) -> str:
    """A regular expression of the decimal numbers 0..`limit` (leading zeros allowed below its length)."""
    text = str(limit)
    choices = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, digit in enumerate(text):
        lowest = 1 if i == 0 and len(text) > 1 else 0
        if int(digit) > lowest:
            choices.append(rf"{text[:i]}[{lowest}-{int(digit) - 1}]\d{{{len(text) - i - 1}}}")
    return "(?:" + "|".join([*choices, text]) + ")"


class IdConverter(IntegerConverter):
    """`<int:...>` with the id columns' upper bound. Written into the rule's pattern, not only checked after
    the match: a path that two rules share by method (GET and POST /tasks/<id>/draft) then answers 404
    for a larger id whatever the method, where werkzeug's check after the match answered 405 to one."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)
        if self.max == ID_MAX and not self.signed:
            self.regex = digits_up_to(ID_MAX)


def _check_request():
    request = request_ctx.request  # one context lookup, not one per attribute read
    length = len(request.path) + len(request.query_string)
    if length > URI_MAX:
        abort(414, description=f"the URL is {length} characters long; at most {URI_MAX} are accepted")
    if (request.path.startswith("/api/") and request.mimetype not in UPLOAD_TYPES
            and request.path not in DIAGRAM_JSON_PATHS):
        limit = min(JSON_BODY_MAX, request.max_content_length or JSON_BODY_MAX)
        if request.content_length is not None and request.content_length > limit:
            abort(413, description=f"the request body has {request.content_length} bytes; "
                                   f"at most {limit} are accepted")
        request.max_content_length = limit  # a body sent without Content-Length stops there
    elif request.max_content_length and (request.content_length or 0) > request.max_content_length:
        abort(413, description=f"the request body has {request.content_length} bytes; "
                               f"at most {request.max_content_length} are accepted")
    if "\x00" in request.path:
        abort(404, description="a URL path holding a NUL character names nothing")
    fields = [request.args, request.form] if request.mimetype in FORM_TYPES else [request.args]
    for args in fields:
        for name, value in args.items(multi=True):
            name, value = name or "", value or ""  # a multipart part may come without a name
            if "\x00" in name or "\x00" in value:
                raise invalid(name.replace("\x00", "?"), NUL_MESSAGE, "limit.nul")


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered: their rules take the converter then."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_request)
