"""Chinese first, English on request. UI strings are written in Chinese in the code and
templates (`_("收件箱")`); `EN` gives their English, kept in webapp/translations/en.json. A missing English entry shows the Chinese,
and a test lists every `_()` string without one.

We keep a dictionary instead of gettext catalogs: the UI has a few hundred short strings,
and there is no compile step to forget.

Pages follow the switch (/lang/<code>, kept in the session), Chinese by default. The JSON API
under /api/ follows the request's `Accept-Language` when it names zh or en (by its weights), else
the session's switch, else Chinese, like the pages; a script that parses messages sends
`Accept-Language: en`. The error `code` of an answer never changes with the language (docs/i18n.md).
"""

from __future__ import annotations

import json
from importlib import resources

from flask import Blueprint, Flask, redirect, request, session, url_for

from webapp.security_headers import add_unless_present

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

bp = Blueprint("i18n", __name__)


def load_messages(language: str) -> dict[str, str]:
    """The table of one language (webapp/translations/<language>.json): its sections (shell, inbox,
    the KPI dashboard, ...) merged into one Chinese -> translation dictionary."""
    text = resources.files("webapp").joinpath("translations", f"{language}.json").read_text(encoding="utf-8")
    return {source: target for section in json.loads(text).values() for source, target in section.items()}


EN: dict[str, str] = load_messages("en")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def get_locale() -> str:
    # No Accept-Language header: nothing to parse (werkzeug's matching of an empty header answers None).
    asked = (request.accept_languages.best_match(LANGUAGES)
             if request.environ.get("HTTP_ACCEPT_LANGUAGE") and is_api_request() else None)
    lang = asked or session.get("lang") or request.cookies.get("lang")
    return lang if lang in LANGUAGES else DEFAULT


def in_language(text: str, language: str, **params: object) -> str:
    """`gettext` for a given language (the CLI's --lang, a test): outside any request too."""
    out = EN.get(text, text) if language == "en" else text
    return out.format(**params) if params else out


def gettext(text: str, **params: object) -> str:
    """Translate a Chinese UI string into the user's language; `{name}` placeholders are filled.
    Modules import it as `_` (`from webapp.i18n import gettext as _`), templates call it `_`."""
    out = EN.get(text, text) if get_locale() == "en" else text
    return out.format(**params) if params else out


_ = gettext


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    target = request.referrer or url_for("inbox.index")
    return redirect(target if target.startswith(request.host_url) or target.startswith("/") else "/")


def say_language(response):
    """Content-Language: the language of the answer's messages (what get_locale chose)."""
    add_unless_present(response, "Content-Language", "zh-CN" if get_locale() == "zh" else "en")
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(say_language)
    app.jinja_env.globals.update(_=gettext, get_locale=get_locale)
