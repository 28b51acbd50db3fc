"""Sign-in through an institution's SAML 2.0 IdP (DFN-AAI, Shibboleth, Keycloak): SP metadata, SSO, logout,
the IdP settings. The checks live in accounts/saml.py; these views only carry messages between browser and it."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from accounts.saml import (
    SignIn,
    SignInRefused,
    SpUrls,
    answer_logout_request,
    begin_sign_in,
    clean_provider_settings,
    delete_provider,
    discovery_list,
    federation_idps,
    finish_sign_in,
    get_provider,
    login_providers,
    logout_url,
    providers_of,
    save_provider,
    sp_metadata,
)
from accounts.second_factor import second_factor_required
from app.access import role_required, user
from app.extensions import csrf
from app.views.auth import PENDING as PENDING_LOGIN
from app.views.auth import safe_next
from app.views.sso import _institution
from kernel.clock import utcnow
from kernel.errors import DomainError, ValidationFailed

bp = Blueprint("saml", __name__)
bp.add_app_template_global(login_providers, "saml_providers")  # the login page's "Sign in with ..." links
COOKIE = "aufsicht_saml"  # binds a sign-in under way to this browser (the IdP posts back cross-site)
from app.oidc_session import SAML_SIGNED_IN as SIGNED_IN  # noqa: E402 - IdP connection, account, NameID, session index


def urls(provider_id: int) -> SpUrls:
    """Our SP's stable URLs for one IdP connection (the exam office copies them to the IdP)."""
    return SpUrls(entity_id=url_for("saml.metadata", provider_id=provider_id, _external=True),
                  acs=url_for("saml.acs", provider_id=provider_id, _external=True),
                  slo=url_for("saml.slo", provider_id=provider_id, _external=True))


@bp.get("/saml/<int:provider_id>/metadata")
def metadata(provider_id: int) -> Response:
    """Our SP metadata (entity id, ACS, SLO, signing and encryption certificate) for the IdP's operators."""
    xml = sp_metadata(get_provider(provider_id), urls(provider_id))
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.get("/saml/<int:provider_id>/start")
def start(provider_id: int) -> BaseResponse | tuple[str, int]:
    """Send the browser to the IdP with our signed AuthnRequest (HTTP-Redirect binding)."""
    provider = get_provider(provider_id, enabled_only=True)
    if provider.discovery and not request.args.get("idp"):
        return redirect(url_for("saml.discover", provider_id=provider_id, next=request.args.get("next")))
    try:
        url, token = begin_sign_in(provider, urls(provider_id), safe_next(request.args.get("next")),
                                   request.args.get("idp"))
    except DomainError as err:
        return render_template("sso/refused.html", error=err.message), err.status
    resp = redirect(url)
    # SameSite=None (so Secure): the IdP's POST back is cross-site and must carry it. Browsers keep Secure cookies
    # on loopback over plain http too; elsewhere plain http (no deployment) gets Lax.
    secure = request.is_secure or (request.host.rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]"))
    resp.set_cookie(COOKIE, token, max_age=900, httponly=True, secure=secure, samesite="None" if secure else "Lax",
                    path=f"/saml/{provider_id}/")
    return resp


@bp.get("/saml/<int:provider_id>/discover")
def discover(provider_id: int) -> str:
    """A federation's IdPs to pick the home organisation from, searchable by name or entity id."""
    provider = get_provider(provider_id, enabled_only=True)
    query = request.args.get("q", "")[:200]
    return render_template("saml/discover.html", provider=provider, query=query,
                           idps=discovery_list(provider, query), next=safe_next(request.args.get("next")))


@bp.post("/saml/<int:provider_id>/acs")
@csrf.exempt  # the IdP posts here; the response's signature, InResponseTo and the browser cookie stand in for it
def acs(provider_id: int) -> BaseResponse | tuple[str, int]:
    """The assertion consumer service (HTTP-POST binding): check everything, then log the account in."""
    try:
        result = finish_sign_in(provider_id, request.form.get("SAMLResponse", ""), request.cookies.get(COOKIE),
                                urls(provider_id), request.remote_addr or "-")
    except DomainError as err:
        return render_template("sso/refused.html", error=err.message), err.status
    resp = _log_in(result)
    resp.delete_cookie(COOKIE, path=f"/saml/{provider_id}/")
    return resp


def _log_in(result: SignIn) -> BaseResponse:
    """Log the account in as the OpenID flow does: our second factor for staff and proctors unless the platform's
    administrator declared that this IdP asks for one; the profile asked once for a new candidate."""
    u = result.user
    session[SIGNED_IN] = {"p": result.provider.id, "u": u.id, "n": result.name_id, "f": result.name_id_format,
                         "s": result.session_index, "i": result.issuer}
    if second_factor_required(u) and not result.second_factor_at_provider:
        session[PENDING_LOGIN] = {"u": u.id, "v": u.session_version, "t": int(utcnow().timestamp()),
                                  "next": result.next_url}
        return redirect(url_for("auth.second_factor" if u.totp_secret else "auth.enrol_second_factor"))
    login_user(u)
    if u.role == Role.CANDIDATE and u.profile is None:
        flash(_("Welcome! Before your first exam we need a few details that %(p)s does not give us.",
                p=result.provider.name))
        return redirect(url_for("sso.profile"))
    return redirect(result.next_url or url_for("main.index"))


@bp.get("/saml/logged-out")
def logged_out() -> BaseResponse | str:
    """After our logout: on to the IdP's single logout (a signed LogoutRequest), where it offers one."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    signed_in = session.pop(SIGNED_IN, None)
    if not isinstance(signed_in, dict):
        return redirect(url_for("auth.login"))
    pid = int(signed_in.get("p", 0))
    url = logout_url(pid, str(signed_in.get("n", "")), str(signed_in.get("f", "")), signed_in.get("s"), urls(pid),
                     signed_in.get("i"))
    if url is None:
        return redirect(url_for("auth.login"))
    return render_template("sso/logged_out.html", url=url)


@bp.route("/saml/<int:provider_id>/slo", methods=["GET", "POST"])
@csrf.exempt  # the IdP's LogoutRequest and LogoutResponse come here; the request's signature stands in for it
def slo(provider_id: int) -> BaseResponse | tuple[str, int]:
    """The IdP's single logout: a signed LogoutRequest (HTTP-Redirect) ends the sessions of the sign-in it names
    and goes back with our signed LogoutResponse; anything else (the IdP's LogoutResponse after ours) only leads on
    to the login page (our session ended before)."""
    get_provider(provider_id)
    if "SAMLRequest" in request.args:
        try:
            answered = answer_logout_request(provider_id, request.query_string, urls(provider_id))
        except DomainError as err:
            return render_template("sso/refused.html", error=err.message, title=_("Logout refused")), err.status
        if answered.user_ids and (not current_user.is_authenticated or current_user.id in answered.user_ids):
            logout_user()
            session.pop(SIGNED_IN, None)
        return redirect(answered.redirect_url or url_for("auth.login"))
    if current_user.is_authenticated:  # nothing here logs anyone out without the IdP's signed request
        return redirect(url_for("main.index"))
    session.pop(SIGNED_IN, None)
    return redirect(url_for("auth.login"))


# ------------------------------------------------------------------------------------------- settings


@bp.route("/institutions/<int:institution_id>/saml", methods=["GET", "POST"])
@role_required(Role.STAFF, Role.ADMIN)
def providers(institution_id: int) -> str | BaseResponse | tuple[str, int]:
    """The institution's SAML IdPs, the fields to copy to the IdP, and the form for a new one."""
    inst = _institution(institution_id)
    ctx = {"institution": inst, "providers": providers_of(inst.id), "urls": urls, "form": {}, "errors": {},
           "is_admin": user().role == Role.ADMIN, "choices": []}
    if request.method == "GET":
        return render_template("saml/providers.html", **ctx)
    try:
        settings = clean_provider_settings(request.form.to_dict(), new=True, by_admin=user().role == Role.ADMIN)
        if settings.federation_cert and settings.metadata_url and not settings.idp_entity_id \
                and not settings.discovery:
            # the discovery list: the federation's IdPs, from its verified aggregate, to pick the institution's
            ctx.update(form=request.form, choices=federation_idps(settings.metadata_url, settings.federation_cert))
            return render_template("saml/providers.html", **ctx)
        save_provider(inst, settings)
    except SignInRefused as err:
        ctx.update(form=request.form, errors={"metadata_url": err.message})
        return render_template("saml/providers.html", **ctx), 400
    except ValidationFailed as err:
        ctx.update(form=request.form, errors=err.fields)
        return render_template("saml/providers.html", **ctx), 400
    flash(_("SAML identity provider saved."))
    return redirect(url_for("saml.providers", institution_id=inst.id))


@bp.post("/institutions/<int:institution_id>/saml/<int:provider_id>/delete")
@role_required(Role.STAFF, Role.ADMIN)
def remove_provider(institution_id: int, provider_id: int) -> BaseResponse:
    """Remove an IdP connection (accounts stay)."""
    inst = _institution(institution_id)
    delete_provider(get_provider(provider_id, institution_id=inst.id))
    flash(_("SAML identity provider removed."))
    return redirect(url_for("saml.providers", institution_id=inst.id))
