"""What this browser session keeps of a sign-in through an OpenID provider (shared by the login and logout views)."""

from __future__ import annotations

from flask import session

PENDING = "oidc_pending"  # state, nonce and PKCE verifier of a sign-in under way (good once)
SIGNED_IN = "oidc_login"  # provider, account and ID token of this session's sign-in, for logout at the provider
SAML_SIGNED_IN = "saml_login"  # the same for a sign-in through a SAML IdP (app/views/saml.py)
AFTER_PROFILE = "after_profile"  # where the profile page sends the candidate once it is complete (an LTI launch's)


def signed_in_through_provider(user_id: int) -> bool:
    """True if this session's login of ``user_id`` came through an OpenID provider (for the logout)."""
    signed_in = session.get(SIGNED_IN) or session.get(SAML_SIGNED_IN)
    return isinstance(signed_in, dict) and signed_in.get("u") == user_id
