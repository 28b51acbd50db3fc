"""Login (with the second factor), logout, candidate registration, email verification and password reset."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Institution, User
from accounts.recovery import (
    check_reset_token,
    confirm_email,
    request_password_reset,
    reset_password,
    send_registration_notice,
    send_verification,
)
from accounts.second_factor import (
    enrol,
    new_secret,
    open_enrolment_secret,
    provisioning_uri,
    seal_enrolment_secret,
    second_factor_required,
    verify_second_factor,
)
from accounts.services import (
    LoginLimits,
    audit_login,
    authenticate,
    get_institution_by_slug,
    logout_everywhere,
    register_candidate,
)
from accounts.validation import GENDERS, SALUTATIONS, clean_registration
from app.access import user
from app.oidc_session import signed_in_through_provider
from app.qr import qr_svg
from app.ratelimit import limit
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, DomainError, ValidationFailed

bp = Blueprint("auth", __name__)
PENDING = "pending_login"
PENDING_SECONDS = 600  # the second factor must follow the password within ten minutes


def login_limits() -> LoginLimits:
    """The login throttle as configured."""
    cfg = current_app.config
    return LoginLimits(per_account=int(cfg["LOGIN_MAX_FAILURES"]),
                       per_address=int(cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
                       window=dt.timedelta(minutes=int(cfg["LOGIN_FAILURE_WINDOW_MINUTES"])),
                       per_account_everywhere=int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
                       under_attack=int(cfg["LOGIN_MAX_FAILURES_UNDER_ATTACK"]))


def client_address() -> str:
    """The client's address (behind AUFSICHT_TRUSTED_PROXIES proxies, the one they saw)."""
    return request.remote_addr or "-"


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Show the login form; on POST authenticate (throttled, audited), then ask for the second factor if due."""
    if request.method == "GET":
        return render_template("auth/login.html")
    try:
        u = authenticate(request.form.get("email", ""), request.form.get("password", ""), client_address(),
                         login_limits())
    except DomainError as err:
        return render_template("auth/login.html", error=err.message, email=request.form.get("email", "")), err.status
    target = safe_next(request.args.get("next"))
    if second_factor_required(u):
        session[PENDING] = {"u": u.id, "v": u.session_version, "t": int(utcnow().timestamp()), "next": target}
        return redirect(url_for("auth.second_factor" if u.totp_secret else "auth.enrol_second_factor"))
    return _finish_login(u, target)


def _finish_login(u: User, target: str | None) -> Response:
    session.pop(PENDING, None)
    login_user(u)
    return redirect(target or url_for("main.index"))


def _pending_user() -> User:
    """The account whose password was right a moment ago and whose second factor is still due."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or int(utcnow().timestamp()) - int(pending.get("t", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        raise _StartAgain()
    u = db.session.get(User, pending.get("u"))
    if u is None or not u.active or u.session_version != pending.get("v"):
        session.pop(PENDING, None)
        raise _StartAgain()
    return u


class _StartAgain(Exception):
    """The pending login is gone or too old: back to the login form."""


@bp.errorhandler(_StartAgain)
def _start_again(_err: _StartAgain) -> Response:
    flash(_("Please log in again."))
    return redirect(url_for("auth.login"))


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> str | Response | tuple[str, int]:
    """Ask for the code of the authenticator app (or a recovery code)."""
    u = _pending_user()
    if u.totp_secret is None:
        return redirect(url_for("auth.enrol_second_factor"))
    if request.method == "GET":
        return render_template("auth/second_factor.html")
    try:
        verify_second_factor(u, request.form.get("code", ""), client_address(), login_limits())
    except DomainError as err:
        return render_template("auth/second_factor.html", error=err.message), err.status
    return _finish_login(u, session.get(PENDING, {}).get("next"))


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_second_factor() -> str | Response | tuple[str, int]:
    """First login of an account that needs a second factor: set up the authenticator app, get recovery codes."""
    u = _pending_user()
    if u.totp_secret is not None:
        return redirect(url_for("auth.second_factor"))
    pending = session[PENDING]
    secret = open_enrolment_secret(u, pending.get("secret"))
    if secret is None:
        # sealed: the session cookie is signed, not encrypted, and whoever reads it must not get the secret
        secret = new_secret()
        pending["secret"] = seal_enrolment_secret(u, secret)
        session.modified = True
    ctx = {"secret": secret, "uri": provisioning_uri(u, secret), "qr": qr_svg(provisioning_uri(u, secret))}
    if request.method == "GET":
        return render_template("auth/enrol.html", **ctx)
    try:
        codes = enrol(u, secret, request.form.get("code", ""))
    except DomainError as err:
        return render_template("auth/enrol.html", error=err.message, **ctx), err.status
    audit_login(u, u.email, client_address(), True, "second factor enrolled")
    target = pending.get("next")
    session.pop(PENDING, None)
    login_user(u)
    return render_template("auth/recovery_codes.html", codes=codes, next=target or url_for("main.index"))


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; never an open redirect.

    Control characters and backslashes are refused outright: browsers (and ``urlsplit``) drop tabs and
    newlines, so ``/<TAB>/evil.example`` becomes ``//evil.example``, and a newline breaks the header (500).
    """
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return None


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End this session, and with it every other session of the account (a copied cookie stops working)."""
    via_provider = signed_in_through_provider(user().id)
    logout_everywhere(user())
    logout_user()
    flash(_("You are logged out."))
    # Signed in through an OpenID provider: on to its logout too (RP-initiated logout), where it offers one.
    return redirect(url_for("sso.logged_out") if via_provider else url_for("auth.login"))


@bp.post("/logout-everywhere")
@login_required
def logout_all() -> Response:
    """End every session of this account on every device."""
    logout_everywhere(user())
    logout_user()
    flash(_("You are logged out on all devices."))
    return redirect(url_for("auth.login"))


@bp.get("/register")
def choose_institution() -> str:
    """List the institutions a candidate can register with."""
    institutions = db.session.scalars(select(Institution).order_by(Institution.name)).all()
    return render_template("auth/choose_institution.html", institutions=institutions)


@bp.route("/register/<slug>", methods=["GET", "POST"])
def register(slug: str) -> str | Response | tuple[str, int]:
    """Candidate registration with an institution."""
    inst = get_institution_by_slug(slug)
    ctx = {"institution": inst, "salutations": SALUTATIONS, "genders": GENDERS, "form": request.form, "errors": {}}
    if request.method == "GET":
        return render_template("auth/register.html", **ctx)
    if request.form.get("privacy") != "yes":
        ctx["errors"] = {"privacy": _("Please confirm that you have read the privacy notice.")}
        return render_template("auth/register.html", **ctx), 400
    try:
        reg = clean_registration(request.form.to_dict(), utcnow().date())
    except ValidationFailed as err:
        ctx["errors"] = err.fields
        return render_template("auth/register.html", **ctx), 400
    lang = str(get_locale() or "de")
    # Each registration writes an account and sends a mail: a script from one address cannot fill either.
    limit(f"register:{client_address()}", int(current_app.config["REGISTRATIONS_PER_HOUR"]), window_seconds=3600,
          message=_("Too many registrations from your network. Please try again in an hour."))
    try:
        u = register_candidate(inst, reg, current_app.config["PRIVACY_NOTICE_VERSION"])
    except Conflict:
        # The same answer as for a new account, so the form tells nobody which addresses have one.
        send_registration_notice(reg.email, lang)
    else:
        u.language = lang  # mails go out in the language the person registered in
        send_verification(u, lang)
    return render_template("auth/check_mail.html", email=reg.email)


@bp.get("/verify-email/<token>")
def verify_email(token: str) -> Response:
    """The link from the verification mail: the address is confirmed."""
    confirm_email(token)
    flash(_("Thank you, your email address is confirmed."))
    return redirect(url_for("main.index") if current_user.is_authenticated else url_for("auth.login"))


@bp.post("/verify-email/resend")
@login_required
def resend_verification() -> Response:
    """Mail the verification link again (rate-limited)."""
    limit(f"mail:{client_address()}", int(current_app.config["ACCOUNT_MAIL_RATE_LIMIT_PER_MINUTE"]))
    if user().email_verified_at is None:
        send_verification(user(), str(get_locale() or "de"))
    flash(_("We have sent the link again. Please look in your inbox."))
    return redirect(url_for("main.index"))


@bp.route("/password-reset", methods=["GET", "POST"])
def password_reset_request() -> str:
    """Ask for a reset link; the answer is the same whether the address has an account or not."""
    if request.method == "GET":
        return render_template("auth/reset_request.html")
    limit(f"mail:{client_address()}", int(current_app.config["ACCOUNT_MAIL_RATE_LIMIT_PER_MINUTE"]))
    request_password_reset(request.form.get("email", ""), str(get_locale() or "de"))
    return render_template("auth/check_mail.html", email=None)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def password_reset(token: str) -> str | Response | tuple[str, int]:
    """Choose a new password through the mailed link (once, within an hour)."""
    check_reset_token(token)
    if request.method == "GET":
        return render_template("auth/reset_password.html", errors={})
    try:
        reset_password(token, request.form.get("password", ""))
    except ValidationFailed as err:
        return render_template("auth/reset_password.html", errors=err.fields), 400
    if current_user.is_authenticated:
        logout_user()
    flash(_("Your password has been changed. Please log in with the new one."))
    return redirect(url_for("auth.login"))
