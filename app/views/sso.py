"""Sign-in through an institution's OpenID provider, the profile asked once afterwards, the provider settings."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from accounts.models import Institution, Role
from accounts.oidc import (
    SignIn,
    begin_sign_in,
    clean_provider_settings,
    complete_profile,
    delete_provider,
    finish_sign_in,
    get_provider,
    login_providers,
    logout_url,
    needs_profile,
    providers_of,
    save_provider,
)
from accounts.second_factor import second_factor_required
from accounts.validation import GENDERS, SALUTATIONS, clean_profile
from app.access import role_required, same_institution, user
from app.oidc_session import AFTER_PROFILE, PENDING, SAML_SIGNED_IN, SIGNED_IN
from app.views.auth import PENDING as PENDING_LOGIN
from app.views.auth import safe_next
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, NotFound, ValidationFailed

bp = Blueprint("sso", __name__)
bp.add_app_template_global(login_providers, "sign_in_providers")  # the login page's "Sign in with ..." links


def callback_url() -> str:
    """The one redirect URI of every provider (the exam office enters it at the provider)."""
    return url_for("sso.callback", _external=True)


@bp.get("/sso/<int:provider_id>/start")
def start(provider_id: int) -> Response:
    """Send the browser to the provider's sign-in page (state, nonce and PKCE kept in the session)."""
    url, pending = begin_sign_in(get_provider(provider_id, enabled_only=True), callback_url())
    pending["next"] = safe_next(request.args.get("next"))
    session[PENDING] = pending
    return redirect(url)


@bp.post("/account/sign-in/<int:provider_id>/link")
@role_required(Role.CANDIDATE, Role.PROCTOR, Role.STAFF)
def start_link(provider_id: int) -> str:
    """The logged-in owner links the account to their login at the institution's provider (the only way an
    existing account gets linked: a provider never opens one by its email address)."""
    me = user()
    provider = get_provider(provider_id, institution_id=me.institution_id, enabled_only=True)
    url, pending = begin_sign_in(provider, callback_url())
    pending["link"] = {"u": me.id, "v": me.session_version}
    session[PENDING] = pending
    # A page, not a redirect: this was a form post, and CSP's form-action keeps its redirects on our site.
    return render_template("sso/to_provider.html", url=url, provider=provider)


@bp.get("/sso/callback")
def callback() -> Response | tuple[str, int]:
    """The provider sends the browser back here: check everything, then log the account in (or link it)."""
    pending = session.pop(PENDING, None)
    link = pending.get("link") if isinstance(pending, dict) else None
    link_to = None
    if isinstance(link, dict):
        # a link started from the account page: only for the same account, still logged in
        if not current_user.is_authenticated or (user().id, user().session_version) != (link.get("u"), link.get("v")):
            return render_template("sso/refused.html", error=_("Please log in again and start the link from your "
                                                               "account page.")), 400
        link_to = user()
    try:
        result = finish_sign_in(pending, request.args.to_dict(), callback_url(), request.remote_addr or "-",
                                link_to=link_to)
    except DomainError as err:
        return render_template("sso/refused.html", error=err.message), err.status
    if link_to is not None:
        flash(_("Your account is linked to %(p)s: you can sign in with it from now on.", p=result.provider.name))
        return redirect(url_for("account.security"))
    return _log_in(result, pending.get("next") if isinstance(pending, dict) else None)


def _log_in(result: SignIn, target: str | None) -> Response:
    """The one place this flow logs an account in: the same ``login_user`` the password login calls.

    Where the second factor of ours is due (staff, proctors) and the institution has not declared that the
    provider asks for one (``result.second_factor_at_provider``), this is where it goes in.
    """
    session[SIGNED_IN] = {"p": result.provider.id, "u": result.user.id, "id_token": result.id_token}
    u = result.user
    if second_factor_required(u) and not result.second_factor_at_provider:
        # our second factor, as after a password (the provider's sign-in counts as the first factor)
        session[PENDING_LOGIN] = {"u": u.id, "v": u.session_version, "t": int(utcnow().timestamp()), "next": target}
        return redirect(url_for("auth.second_factor" if u.totp_secret else "auth.enrol_second_factor"))
    login_user(u)
    if needs_profile(result.user):
        flash(_("Welcome! Before your first exam we need a few details that %(p)s does not give us.",
                p=result.provider.name))
        return redirect(url_for("sso.profile"))
    return redirect(target or url_for("main.index"))


@bp.route("/candidate/profile", methods=["GET", "POST"])
@role_required(Role.CANDIDATE)
def profile() -> str | Response | tuple[str, int]:
    """Asked once, after the first sign-in through a provider: address, phone, birth data, ID number, consent."""
    me = user()
    if not needs_profile(me):
        return redirect(safe_next(session.pop(AFTER_PROFILE, None)) or url_for("candidate.home"))
    first, _sep, last = me.display_name.partition(" ")
    form = request.form if request.method == "POST" else {"first_name": first, "last_name": last}
    ctx = {"salutations": SALUTATIONS, "genders": GENDERS, "form": form, "errors": {}}
    if request.method == "GET":
        return render_template("sso/profile.html", **ctx)
    if request.form.get("privacy") != "yes":
        ctx["errors"] = {"privacy": _("Please confirm that you have read the privacy notice.")}
        return render_template("sso/profile.html", **ctx), 400
    try:
        complete_profile(me, clean_profile(request.form.to_dict(), utcnow().date()),
                         current_app.config["PRIVACY_NOTICE_VERSION"])
    except ValidationFailed as err:
        ctx["errors"] = err.fields
        return render_template("sso/profile.html", **ctx), 400
    flash(_("Thank you, your profile is complete."))
    return redirect(safe_next(session.pop(AFTER_PROFILE, None)) or url_for("candidate.home"))


@bp.get("/sso/logged-out")
def logged_out() -> Response | str:
    """After our logout: on to the provider's logout, where it offers one (RP-initiated logout)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    if SAML_SIGNED_IN in session:  # signed in through a SAML IdP: its single logout
        return redirect(url_for("saml.logged_out"))
    signed_in = session.pop(SIGNED_IN, None)
    if not isinstance(signed_in, dict):
        return redirect(url_for("auth.login"))
    url = logout_url(int(signed_in.get("p", 0)), str(signed_in.get("id_token", "")),
                     url_for("auth.login", _external=True))
    if url is None:
        return redirect(url_for("auth.login"))
    # A page, not a redirect: the logout was a form post, and CSP's form-action keeps its redirects on our site.
    return render_template("sso/logged_out.html", url=url)


# ------------------------------------------------------------------------------------------- settings


def _institution(institution_id: int) -> Institution:
    same_institution(institution_id)
    inst = db.session.get(Institution, institution_id)
    if inst is None:
        raise NotFound()
    return inst


@bp.route("/institutions/<int:institution_id>/sign-in", methods=["GET", "POST"])
@role_required(Role.STAFF, Role.ADMIN)
def providers(institution_id: int) -> str | Response | tuple[str, int]:
    """The institution's OpenID providers, and the form for a new one."""
    inst = _institution(institution_id)
    ctx = {"institution": inst, "providers": providers_of(inst.id), "callback": callback_url(), "form": {},
           "errors": {}, "provider": None}
    if request.method == "GET":
        return render_template("sso/providers.html", **ctx)
    try:
        save_provider(inst, clean_provider_settings(request.form.to_dict(), new=True,
                                                    by_admin=user().role == Role.ADMIN))
    except ValidationFailed as err:
        ctx.update(form=request.form, errors=err.fields)
        return render_template("sso/providers.html", **ctx), 400
    flash(_("Sign-in provider saved."))
    return redirect(url_for("sso.providers", institution_id=inst.id))


@bp.route("/institutions/<int:institution_id>/sign-in/<int:provider_id>", methods=["GET", "POST"])
@role_required(Role.STAFF, Role.ADMIN)
def edit_provider(institution_id: int, provider_id: int) -> str | Response | tuple[str, int]:
    """Change a provider; the client secret is never shown, and an empty field keeps it."""
    inst = _institution(institution_id)
    prov = get_provider(provider_id, institution_id=inst.id)
    ctx = {"institution": inst, "provider": prov, "callback": callback_url(), "errors": {},
           "form": request.form if request.method == "POST" else {
               "name": prov.name, "issuer": prov.issuer, "client_id": prov.client_id, "scopes": prov.scopes,
               "claim_email": prov.claim_email, "claim_first_name": prov.claim_first_name,
               "claim_last_name": prov.claim_last_name,
               "second_factor_at_provider": "yes" if prov.second_factor_at_provider else "",
               "enabled": "yes" if prov.enabled else ""}}
    if request.method == "GET":
        return render_template("sso/provider_edit.html", **ctx)
    try:
        save_provider(inst, clean_provider_settings(request.form.to_dict(), new=False,
                                                    by_admin=user().role == Role.ADMIN), prov)
    except ValidationFailed as err:
        ctx["errors"] = err.fields
        return render_template("sso/provider_edit.html", **ctx), 400
    flash(_("Sign-in provider saved."))
    return redirect(url_for("sso.providers", institution_id=inst.id))


@bp.post("/institutions/<int:institution_id>/sign-in/<int:provider_id>/delete")
@role_required(Role.STAFF, Role.ADMIN)
def remove_provider(institution_id: int, provider_id: int) -> Response:
    """Remove a provider (accounts stay; they sign in with a password or another provider)."""
    inst = _institution(institution_id)
    prov = get_provider(provider_id, institution_id=inst.id)
    if request.form.get("confirm") != "yes":
        flash(_("Please confirm that the provider is to be removed."))
        return redirect(url_for("sso.edit_provider", institution_id=inst.id, provider_id=prov.id))
    delete_provider(prov)
    flash(_("Sign-in provider removed."))
    return redirect(url_for("sso.providers", institution_id=inst.id))
