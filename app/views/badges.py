"""Public issuer documents of the Open Badges form: did:web documents, status lists, single public keys."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from werkzeug.wrappers import Response

from exams.issuer import (
    did_document,
    es256_jwks,
    institution_by_slug,
    jwk_url,
    platform_did,
    served_status_list,
)
from exams.openbadges import issuer_did
from exams.statuslist import TTL_SECONDS

bp = Blueprint("badges", __name__)


def _public(resp: Response, max_age: int = 3600) -> Response:
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def _did_response(did: str) -> Response:
    resp = jsonify(did_document(did))
    resp.mimetype = "application/did+ld+json"
    return _public(resp, 300)  # a rotated-in key is resolvable within five minutes


@bp.get("/.well-known/did.json")
def platform_did_document() -> Response:
    """The platform's did:web document."""
    return _did_response(platform_did())


@bp.get("/institutions/<slug>/did.json")
def institution_did_document(slug: str) -> Response:
    """An institution's did:web document: the keys its certificates are signed with."""
    institution_by_slug(slug)
    return _did_response(issuer_did(slug))


@bp.get("/institutions/<slug>/status/<int:number>")
def status_list(slug: str, number: int) -> Response:
    """An institution's signed Bitstring Status List (revocation): signed when it changes, revalidated with its
    ETag (or, without one, its Last-Modified)."""
    served = served_status_list(slug, number)
    if request.if_none_match:
        fresh = request.if_none_match.contains(served.etag)
    else:
        fresh = request.if_modified_since is not None and served.last_modified <= request.if_modified_since
    resp = Response(status=304) if fresh else Response(served.body, mimetype="application/ld+json")
    resp.set_etag(served.etag)
    resp.last_modified = served.last_modified
    resp.headers["Cache-Control"] = f"public, max-age={TTL_SECONDS}, must-revalidate"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/.well-known/jwks/<kid>")
def single_jwk(kid: str) -> Response:
    """One public key of the ES256 JWT form as a JWK (the JWT header's kid points here)."""
    for jwk in es256_jwks():
        if jwk["kid"] == jwk_url(kid):
            return _public(jsonify(jwk))
    abort(404)
