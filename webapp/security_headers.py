"""Headers on every answer: what the browser may load and run, framing, referrers, and caching.

No page runs inline script (templates load static JS only), so `script-src 'self'` holds. The
vendored bpmn-js viewer draws SVG from script and its CSS uses one `data:` image, hence
`img-src 'self' data:`. Everything but static files may carry personal data: `no-store`.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def has_header(response: Response, lowercase_name: str) -> bool:
    """`name in response.headers` without werkzeug's lookup, which raises (and builds) an exception for
    every header that is missing: a few µs each, several times per request."""
    return any(name.lower() == lowercase_name for name, _value in response.headers)


def add_unless_present(response: Response, name: str, value: str) -> None:
    """`response.headers.setdefault(name, value)`, by `has_header`: an answer's own value stays."""
    if not has_header(response, name.lower()):
        response.headers.add(name, value)


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        present = {name.lower() for name, _value in response.headers}
        for name, value in HEADERS.items():
            if name.lower() not in present:  # setdefault: an answer's own value stays
                response.headers.add(name, value)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
