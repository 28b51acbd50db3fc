"""A logged-in person's own account: password, email address, second factor."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from accounts.oidc import identities_of, providers_of
from accounts.recovery import change_password, confirm_email_change, request_email_change
from accounts.second_factor import recovery_codes_left, renew_recovery_codes, second_factor_required
from app.access import user
from app.views.auth import client_address, login_limits
from kernel.errors import DomainError, ValidationFailed

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    u = user()
    linked = {i.provider_id for i in identities_of(u)}
    providers = [(p, p.id in linked) for p in providers_of(u.institution_id) if p.enabled] \
        if u.institution_id is not None else []
    return render_template("account/security.html", errors=errors or {}, has_second_factor=u.totp_secret is not None,
                           needs_second_factor=second_factor_required(u),
                           codes_left=recovery_codes_left(u), providers=providers), status


@bp.get("/security")
@login_required
def security() -> tuple[str, int]:
    """Forms to change the password and the email address; the second factor's state."""
    return _page()


@bp.post("/password")
@login_required
def password() -> Response | tuple[str, int]:
    """Change the password: every other session ends, this one goes on."""
    u = user()
    try:
        change_password(u, request.form.get("current", ""), request.form.get("password", ""), client_address(),
                        login_limits())
    except ValidationFailed as err:
        return _page(err.fields, 400)
    except DomainError as err:  # too many wrong passwords
        return _page({"current": err.message}, err.status)
    login_user(u)  # this session under the new session version
    flash(_("Your password has been changed. Every other session of your account has ended."))
    return redirect(url_for("account.security"))


@bp.post("/email")
@login_required
def email() -> Response | tuple[str, int]:
    """Ask to change the email address: the new address gets a link to confirm it."""
    try:
        request_email_change(user(), request.form.get("current", ""), request.form.get("email", ""),
                             str(get_locale() or "de"), client_address(), login_limits())
    except ValidationFailed as err:
        fields = dict(err.fields)
        if "current" in fields:  # the email form's own password field
            fields["current-for-email"] = fields.pop("current")
        return _page(fields, 400)
    except DomainError as err:  # too many wrong passwords
        return _page({"current-for-email": err.message}, err.status)
    flash(_("We have sent a link to the new address. The change takes effect when you open it."))
    return redirect(url_for("account.security"))


@bp.get("/email/<token>")
def confirm_email(token: str) -> Response:
    """The link to the new address: it becomes the account's address, and every session ends."""
    confirm_email_change(token, str(get_locale() or "de"))
    if current_user.is_authenticated:
        logout_user()
    flash(_("Your email address has been changed. Please log in with the new address."))
    return redirect(url_for("auth.login"))


@bp.post("/recovery-codes")
@login_required
def recovery_codes() -> str | tuple[str, int]:
    """New recovery codes (the old ones stop working), shown once, after the current password."""
    try:
        codes = renew_recovery_codes(user(), request.form.get("current", ""), client_address(), login_limits())
    except ValidationFailed as err:
        return _page({"current-for-codes": err.fields["current"]}, 400)
    except DomainError as err:  # too many wrong passwords
        return _page({"current-for-codes": err.message}, err.status)
    return render_template("auth/recovery_codes.html", codes=codes, next=url_for("account.security"))
