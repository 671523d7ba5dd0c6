"""Sessions and tokens: who is asking, and the login page (the one page reachable without a session).

A login session is a row of `login_session` (engine/access/logins.py) whose secret travels in the signed
session cookie: logging out deletes the row, so a copied cookie stops working. Failed logins and bad
bearer tokens are counted in `login_failure`, shared by every gunicorn worker; past the limits
(`LOGIN_LIMITS`) the answer is 429 with Retry-After, without checking the password.
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.access import logins
from engine.access.policy import Capability, Viewer, attributes_of, may, require_capability
from engine.access.users import ROLES, authenticate, find_user, token_digest
from engine.access.viewer import set_acting_viewer
from engine.store import audit
from engine.store.models import User
from webapp.app_state import runtime
from webapp.demo_users import demo_users_by_role
from webapp.errors import error_body
from webapp.i18n import gettext as _

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"auth.login", "static", "i18n.set_language"}
SESSION_KEY = "tf_sid"  # the login session's secret, in the signed session cookie


class LoginUser(UserMixin):
    def __init__(self, username: str, display_name: str, roles: frozenset[str],
                 attributes: dict[str, str] | None = None):
        self.id = username
        self.username = username
        self.display_name = display_name
        self.roles = roles
        self.attributes = dict(attributes or {})  # the user's desk / branch (engine/access/policy.py)
        self.viewer = Viewer(username, roles, self.attributes)  # what engine/access/policy.py decides on
        self.read_only = self.viewer.read_only  # auditors read everything and change nothing

    def may(self, capability: str) -> bool:
        """For the templates: current_user.may("read_reports") (engine/access/policy.py Capability)."""
        return may(self.viewer, Capability(capability))


def _login_user_from(user: User | None) -> LoginUser | None:
    if user is None or not user.active:
        return None
    return LoginUser(user.username, user.display_name, frozenset(user.role_ids), attributes_of(user.attributes))


@login_manager.user_loader
def load_user(username: str) -> LoginUser | None:
    """The cookie's user, if its login session is still live (not logged out, expired or ended)."""
    secret = session.get(SESSION_KEY)
    with runtime().reading() as db_session:
        user = find_user(db_session, username)
        if user is None or not logins.session_is_live(db_session, user.id, secret):
            return None
        return _login_user_from(user)


def client_address() -> str:
    return request.remote_addr or "unknown"


def _limits() -> logins.Limits:
    return current_app.config["LOGIN_LIMITS"]


@login_manager.request_loader
def act_as(user: LoginUser) -> None:
    """Make `user` this request's `current_user` without a login session (a bearer token's user).
    Flask-Login keeps the request's user in `g._login_user`; this is the one place we set it."""
    g._login_user = user


def load_user_from_token(req) -> LoginUser | None:
    """The bearer token's user (None: no token, or a bad one, counted as a failure). `TooManyFailures`
    when this address is past the limits, before any token is looked at. One read transaction: the
    throttle and the user with their roles, one statement for a good token (`token_holder_unless_blocked`,
    on a plain connection: `Runtime.bearer_token_holder`)."""
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or req.blueprint != "api":
        return None  # a token is for /api/v1 only: the pages need a login session
    digest = token_digest(header.removeprefix("Bearer ").strip())
    holder, wait = runtime().bearer_token_holder(digest, client_address(), _limits())
    if wait is not None:
        raise TooManyFailures(wait)
    if holder is not None:
        g.token_auth = True
        viewer, display_name = holder
        return LoginUser(viewer.username, display_name, viewer.roles, dict(viewer.attributes))
    with runtime().transaction() as tx:
        logins.record_failure(tx.session, None, client_address(), _limits())
    return None


class TooManyFailures(Exception):
    """Too many bad tokens or failed logins from this address: 429 with Retry-After."""

    def __init__(self, wait: int):
        super().__init__(wait)
        self.wait = wait


def too_many_failures(exc: TooManyFailures):
    body = error_body("too_many_requests", f"too many failed logins or bad tokens from this address; "
                                           f"retry in {exc.wait} seconds")
    return jsonify(body), 429, {"Retry-After": str(exc.wait)}


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)

    @app.before_request
    def throttle_bearer_tokens():
        """Too many bad tokens from one address: 429 before any token is looked at (the API checks it
        in the same read as the token: load_user_from_token)."""
        if not request.headers.get("Authorization", "").startswith("Bearer ") or request.blueprint == "api":
            return None
        with runtime().reading() as db_session:
            wait = logins.blocked_for(db_session, None, client_address(), _limits())
        return None if wait is None else too_many_failures(TooManyFailures(wait))

    app.register_error_handler(TooManyFailures, too_many_failures)

    @app.teardown_request
    def forget_acting_viewer(_exc):
        set_acting_viewer(None)

    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if request.blueprint == "api":
            return None  # the API answers 401 JSON itself
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None

    @app.context_processor
    def inject_roles():
        return {"ROLE_NAMES": ROLES}


def _safe_next(target: str | None) -> str:
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


def _demo_loaded() -> bool:
    with runtime().reading() as session:
        return audit.has_event(session, "demo_loaded")


@bp.context_processor
def _login_page_helpers():
    return {"demo_users_by_role": demo_users_by_role}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        username, address, limits = form.username.data, client_address(), _limits()
        rt = runtime()
        with rt.reading() as db_session:
            wait = logins.blocked_for(db_session, username, address, limits)
        if wait is not None:
            flash(_("登录失败次数过多，请 {minutes} 分钟后再试", minutes=math.ceil(wait / 60)), "error")
            return (render_template("auth/login.html", form=form, demo=_demo_loaded()), 429,
                    {"Retry-After": str(wait)})
        with rt.reading() as db_session:
            user = authenticate(db_session, username, form.password.data)
            found = _login_user_from(user)
        with rt.transaction() as tx:
            if found is None:
                logins.record_failure(tx.session, username, address, limits)
            else:
                logins.clear_user_failures(tx.session, username)
                lifetime = timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"])
                secret = logins.start_session(tx.session, user.id, lifetime)
        if found is not None:
            session[SESSION_KEY] = secret
            login_user(found)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("用户名或密码错误"), "error")
        return render_template("auth/login.html", form=form, demo=_demo_loaded()), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, demo=_demo_loaded()), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the login session on the server too: the same cookie, replayed, is logged out."""
    with runtime().transaction() as tx:
        logins.end_session(tx.session, session.pop(SESSION_KEY, None))
    logout_user()
    return redirect(url_for("auth.login"))


def capability_required(capability: Capability):
    """Routes of one capability of engine/access/policy.py (403 for the others), pages and API alike."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            require_capability(current_user.viewer, capability)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def writer_required(view):
    """Any change: refused (403) for read-only users such as auditors."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.is_authenticated and current_user.read_only:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
