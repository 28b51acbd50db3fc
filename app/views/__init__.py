"""Blueprints: thin views that parse input, check access, call one service and render."""

from __future__ import annotations

from flask import Flask

from app.ids import IdConverter


def register_blueprints(app: Flask) -> None:
    """Register every blueprint of the web app."""
    app.url_map.converters["int"] = IdConverter
    from app.views import (
        account,
        admin,
        attempts,
        auth,
        badges,
        candidate,
        certificates,
        grading,
        identity,
        lti,
        main,
        oversight,
        pictures,
        privacy,
        proctor,
        rosters,
        saml,
        sso,
        staff,
        verify,
    )

    for module in (main, auth, admin, staff, proctor, candidate, attempts, identity, grading, certificates, verify,
                   privacy, sso, saml, badges, account, lti, rosters, oversight, pictures):
        app.register_blueprint(module.bp)
    app.register_blueprint(proctor.api)
    from app.views import engine_api

    app.register_blueprint(engine_api.bp)
    from app.views import accommodations

    app.register_blueprint(accommodations.bp)
    from app.views import lockdown

    app.register_blueprint(lockdown.bp)
    from app.views import items

    app.register_blueprint(items.bp)
    from app.views import roomscan

    app.register_blueprint(roomscan.bp)
    from app.views import spoken

    app.register_blueprint(spoken.bp)

    from app.views import institution_api, results

    app.register_blueprint(results.bp)
    app.register_blueprint(institution_api.bp)

    from app.views import phone

    app.register_blueprint(phone.bp)
    from app.views import qti

    app.register_blueprint(qti.bp)
