"""The exam office registers learning platforms: fields checked, one tenant never sees another's."""

from __future__ import annotations

from sqlalchemy import select

from kernel.db import db
from lti.models import LtiPlatform
from tests.conftest import login

HOME = "/staff/"
FORM = {"name": "Moodle Uni", "issuer": "https://moodle.uni.example", "client_id": "Zk3pQ9",
        "auth_login_url": "https://moodle.uni.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.uni.example/mod/lti/token.php",
        "jwks_url": "https://moodle.uni.example/mod/lti/certs.php", "deployment_ids": "3\n4"}


def test_staff_register_a_platform_and_see_the_fields_to_copy(app, make_user, make_exam):
    staff = make_user("staff")
    exam = make_exam(institution=staff.institution, title="Recht 1")
    client = app.test_client()
    login(client, staff)
    home = client.get(HOME).get_data(as_text=True)
    assert f'href="/institutions/{staff.institution_id}/lti"' in home  # one click from the home page
    page = client.get(f"/institutions/{staff.institution_id}/lti").get_data(as_text=True)
    assert "/lti/login" in page and "/lti/launch" in page and "/lti/jwks.json" in page
    assert f"aufsicht_exam={exam.id}" in page

    bad = client.post(f"/institutions/{staff.institution_id}/lti",
                      data={**FORM, "issuer": "http://moodle.uni.example", "deployment_ids": " ", "client_id": ""})
    assert bad.status_code == 400 and bad.get_data(as_text=True).count('aria-invalid="true"') >= 2
    assert db.session.scalar(select(LtiPlatform)) is None  # nothing saved from a bad form
    assert 'value="Moodle Uni"' in bad.get_data(as_text=True)  # and nothing typed is lost

    ok = client.post(f"/institutions/{staff.institution_id}/lti", data=FORM)
    assert ok.status_code == 302
    platform = db.session.scalar(select(LtiPlatform))
    assert platform.deployment_ids == ["3", "4"] and platform.institution_id == staff.institution_id
    twice = client.post(f"/institutions/{staff.institution_id}/lti", data=FORM)
    assert twice.status_code == 400  # the same issuer and client id are registered once

    other = make_user("staff")
    intruder = app.test_client()
    login(intruder, other)
    assert intruder.get(f"/institutions/{staff.institution_id}/lti").status_code in (403, 404)
    assert intruder.post(f"/institutions/{other.institution_id}/lti/{platform.id}/delete",
                         data={"confirm": "yes"}).status_code == 404
    assert db.session.get(LtiPlatform, platform.id) is not None

    keep = client.post(f"/institutions/{staff.institution_id}/lti/{platform.id}/delete")  # not confirmed
    assert keep.status_code == 302 and db.session.get(LtiPlatform, platform.id) is not None
    client.post(f"/institutions/{staff.institution_id}/lti/{platform.id}/delete", data={"confirm": "yes"})
    assert db.session.scalar(select(LtiPlatform)) is None


def test_the_tool_key_set_is_public_and_has_no_private_part(client):
    keys = client.get("/lti/jwks.json").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


def test_every_state_and_action_has_a_label(app):
    from app.views.lti import ACTION_LABELS, STATUS_LABELS
    from lti.proctoring import ACTIONS

    with app.test_request_context():
        assert set(ACTIONS) <= set(ACTION_LABELS())
        assert {"checks", "assessment", "ended", "active", "paused", "terminated", "complete"} <= set(STATUS_LABELS())
