"""Sessions and tokens: who is asking, and the login page (the one page reachable without a session)."""

from __future__ import annotations

import hashlib
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import exists, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.models import ApiToken, AuditEvent, User
from engine.queries import Viewer
from engine.users import ROLES, check_password

from .i18n import _

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"auth.login", "static", "i18n.set_language"}


class LoginUser(UserMixin):
    def __init__(self, username: str, display_name: str, roles: frozenset[str], desk: str | None = None,
                 branch: str | None = None):
        self.id = username
        self.username = username
        self.display_name = display_name
        self.roles = roles
        self.desk = desk
        self.branch = branch

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.username, self.roles, self.desk, self.branch)

    @property
    def read_only(self) -> bool:
        """Auditors read everything and change nothing."""
        return "auditor" in self.roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


def _login_user_from(user: User | None) -> LoginUser | None:
    if user is None or not user.active:
        return None
    return LoginUser(user.username, user.display_name, frozenset(user.role_ids), user.desk, user.branch_code)


def _db():
    from . import tourflow

    return tourflow().db


@login_manager.user_loader
def load_user(username: str) -> LoginUser | None:
    with _db().read() as session:
        return _login_user_from(session.execute(select(User).where(User.username == username)).scalar_one_or_none())


@login_manager.request_loader
def load_user_from_token(req) -> LoginUser | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = hashlib.sha256(header.removeprefix("Bearer ").strip().encode()).hexdigest()
    with _db().read() as session:
        user = session.execute(
            select(User).join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None))
        ).scalar_one_or_none()
        found = _login_user_from(user)
    if found is not None:
        g.token_auth = True
    return found


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)

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
    with _db().read() as session:
        return bool(session.execute(select(exists().where(AuditEvent.kind == "demo_loaded"))).scalar())


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        with _db().read() as session:
            user = session.execute(select(User).where(User.username == form.username.data)).scalar_one_or_none()
            ok = user is not None and user.active and check_password(user, form.password.data)
            found = _login_user_from(user) if ok else None
        if found is not None:
            login_user(found)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("用户名或密码错误"), "error")
        return render_template("auth/login.html", form=form, demo=_demo_loaded()), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, demo=_demo_loaded()), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def roles_required(*roles: str):
    """Pages only some roles may open (403 for the others)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
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
