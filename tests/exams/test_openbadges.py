"""Open Badges 3.0 certificates: schema, proof, evidence, status list, did:web, downloads, /verify upload, CLI."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import gzip
import io
import json
import secrets
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from exams.certificates import rotate_signing_key
from exams.dataintegrity import OB_V3, ProofInvalid, canonize, did_web, multikey_public_key, verify_proof
from exams.issuer import check_upload, openbadge
from exams.models import Certificate
from exams.openbadges import evidence_for
from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import utcnow
from kernel.db import db
from storage.models import Blob
from tests.conftest import login

# The Open Badges 3.0 spec's required fields (1EdTech's JSON schema ob_v3p0_achievementcredential_schema.json
# is in no registry package we can install; this encodes the spec's "required" and enumerations for
# what we issue: AchievementCredential, Profile, AchievementSubject, Achievement, Criteria, Result,
# ResultDescription, IdentityObject, Evidence, and VC 2.0's credentialStatus and DataIntegrityProof).
_TYPES = {"type": "array", "items": {"type": "string"}}
OB3_REQUIRED = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["@context", "id", "type", "issuer", "validFrom", "name", "credentialSubject"],
    "properties": {
        "@context": {"type": "array", "minItems": 2, "prefixItems": [{"const": "https://www.w3.org/ns/credentials/v2"}],
                     "contains": {"type": "string", "pattern": r"^https://purl\.imsglobal\.org/spec/ob/v3p0/context-3\.0\.\d+\.json$"}},
        "id": {"type": "string", "format": "uri", "pattern": "^[a-z][a-z0-9+.-]*:"},
        "type": {**_TYPES, "allOf": [{"contains": {"const": "VerifiableCredential"}},
                                     {"contains": {"enum": ["OpenBadgeCredential", "AchievementCredential"]}}]},
        "issuer": {"type": "object", "required": ["id", "type"],
                   "properties": {"id": {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*:"},
                                  "type": {**_TYPES, "contains": {"const": "Profile"}}, "name": {"type": "string"}}},
        "validFrom": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"},
        "name": {"type": "string", "minLength": 1},
        "credentialSubject": {
            "type": "object", "required": ["type", "achievement"],
            "anyOf": [{"required": ["id"]}, {"required": ["identifier"]}],
            "properties": {
                "type": {**_TYPES, "contains": {"const": "AchievementSubject"}},
                "identifier": {"type": "array", "items": {
                    "type": "object", "required": ["type", "hashed", "identityHash", "identityType"],
                    "properties": {"type": {"const": "IdentityObject"}, "hashed": {"type": "boolean"},
                                   "identityHash": {"type": "string"}, "identityType": {"type": "string"}}}},
                "achievement": {
                    "type": "object", "required": ["id", "type", "criteria", "description", "name"],
                    "properties": {
                        "type": {**_TYPES, "contains": {"const": "Achievement"}},
                        "criteria": {"type": "object", "anyOf": [{"required": ["id"]}, {"required": ["narrative"]}]},
                        "achievementType": {"enum": ["Achievement", "Assessment", "Assignment", "Award", "Badge",
                                                     "Certificate", "CertificateOfCompletion", "Certification",
                                                     "Course", "Diploma", "License", "MicroCredential"]},
                        "resultDescription": {"type": "array", "items": {
                            "type": "object", "required": ["id", "type", "name", "resultType"],
                            "properties": {"type": {**_TYPES, "contains": {"const": "ResultDescription"}},
                                           "resultType": {"enum": ["GradePointAverage", "LetterGrade", "Percent",
                                                                   "PerformanceLevel", "PredictedScore", "RawScore",
                                                                   "Result", "RubricCriterion", "RubricCriterionLevel",
                                                                   "RubricScore", "ScaledScore", "Status"]}}}},
                    },
                },
                "result": {"type": "array", "items": {
                    "type": "object", "required": ["type"],
                    "properties": {"type": {**_TYPES, "contains": {"const": "Result"}},
                                   "status": {"enum": ["Completed", "Enrolled", "Failed", "InProgress", "OnHold",
                                                       "Provisional", "Withdrew"]}}}},
            },
        },
        "evidence": {"type": "array", "items": {"type": "object", "required": ["type"],
                                                "properties": {"type": {**_TYPES, "contains": {"const": "Evidence"}}}}},
        "credentialStatus": {"type": "object", "required": ["type", "statusPurpose", "statusListIndex",
                                                            "statusListCredential"],
                             "properties": {"type": {"const": "BitstringStatusListEntry"}}},
        "proof": {"type": "object", "required": ["type", "cryptosuite", "created", "verificationMethod",
                                                 "proofPurpose", "proofValue"],
                  "properties": {"type": {"const": "DataIntegrityProof"}, "cryptosuite": {"const": "eddsa-rdfc-2022"},
                                 "proofPurpose": {"const": "assertionMethod"}}},
    },
}


@pytest.fixture
def cert(client, office, submitted) -> Certificate:
    attempt = submitted()
    login(client, office.staff)
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "5"})
    assert client.post(f"/staff/attempts/{attempt.id}/release").status_code == 302
    found = db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id))
    assert found is not None and found.openbadge is not None
    return found


def _doc(client: Any, url: str) -> Any:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return json.loads(resp.get_data(as_text=True))


def _keys_from_did(did_doc: dict[str, Any]) -> dict[str, Any]:
    return {m["id"]: multikey_public_key(m["publicKeyMultibase"]) for m in did_doc["verificationMethod"]}


def test_credential_meets_the_open_badges_required_fields_and_says_what_was_checked(app, client, office, cert):
    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    jsonschema.Draft202012Validator(OB3_REQUIRED).validate(credential)
    assert credential["@context"][1] == OB_V3
    assert credential["issuer"]["name"] == "Sprachschule Süd"
    assert credential["issuer"]["id"] == did_web(app.config["PUBLIC_BASE_URL"], "institutions", office.inst.slug)
    subject = credential["credentialSubject"]
    assert subject["identifier"][0]["identityHash"] == "Erika Mustermann"
    assert subject["result"][0]["value"] == "100.00" and subject["result"][0]["status"] == "Completed"
    assert subject["achievement"]["resultDescription"][0]["requiredValue"] == "60.00"
    narratives = [e.get("narrative", "") for e in credential["evidence"]]
    assert "No identity check was part of this exam." in narratives
    assert "Taken without online proctoring." in narratives
    assert credential["evidence"][0]["id"].endswith(f"/verify/{cert.public_id}")
    assert credential["id"] == f"urn:aufsicht:certificate:{cert.public_id}"
    assert "Heidestraße" not in json.dumps(credential) and "T22000129" not in json.dumps(credential)
    broken = copy.deepcopy(credential)
    broken["credentialSubject"]["result"][0]["status"] = "Passed"  # the JWS form's word is not an OB status
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(OB3_REQUIRED).validate(broken)


def test_proof_verifies_against_the_did_document_and_refuses_changes(app, client, office, cert):
    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    did_doc = _doc(client, f"/institutions/{office.inst.slug}/did.json")
    assert did_doc["id"] == credential["issuer"]["id"] and did_doc["assertionMethod"]
    keys = _keys_from_did(did_doc)
    assert verify_proof(credential, keys) == credential["proof"]["verificationMethod"]
    changed = copy.deepcopy(credential)
    changed["validFrom"] = "2020-01-01T00:00:00Z"
    with pytest.raises(ProofInvalid) as err:
        verify_proof(changed, keys)
    assert err.value.reason == "bad_signature"
    with pytest.raises(ProofInvalid) as err:
        verify_proof(credential, {})
    assert err.value.reason == "unknown_key"
    foreign = {**credential, "@context": [*credential["@context"], "https://example.org/evil-context.json"]}
    with pytest.raises(ProofInvalid) as err:  # never fetched: only the packaged contexts exist
        canonize(foreign)
    assert err.value.reason == "malformed"
    platform = _doc(client, "/.well-known/did.json")
    assert platform["id"] == did_web(app.config["PUBLIC_BASE_URL"])
    assert client.get("/institutions/nope/did.json").status_code == 404


def test_rotation_keeps_open_badges_verifying(app, client, office, cert):
    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    rotate_signing_key()
    did_doc = _doc(client, f"/institutions/{office.inst.slug}/did.json")
    assert len(did_doc["verificationMethod"]) >= 2
    verify_proof(credential, _keys_from_did(did_doc))
    assert check_upload(json.dumps(credential)).status == "valid"


def _bits(status_list: dict[str, Any]) -> set[int]:
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == 16 * 1024
    return {i * 8 + j for i, byte in enumerate(raw) for j in range(8) if byte & (0x80 >> j)}


def test_revoking_sets_the_bit_in_the_signed_status_list_with_http_caching(app, client, office, cert):
    from urllib.parse import urlsplit

    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    entry = credential["credentialStatus"]
    path = urlsplit(entry["statusListCredential"]).path
    first = client.get(path)
    assert first.status_code == 200 and "public" in first.headers["Cache-Control"]
    assert first.headers["Access-Control-Allow-Origin"] == "*" and first.headers["ETag"]
    listed = json.loads(first.get_data(as_text=True))
    assert int(entry["statusListIndex"]) not in _bits(listed)
    keys = _keys_from_did(_doc(client, f"/institutions/{office.inst.slug}/did.json"))
    verify_proof(listed, keys)
    assert listed["issuer"] == credential["issuer"]["id"]
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    assert client.post(f"/staff/certificates/{cert.public_id}/revoke",
                       data={"reason": "Täuschung", "confirm": "yes"}).status_code == 302
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]
    revoked_list = json.loads(again.get_data(as_text=True))
    assert _bits(revoked_list) == {int(entry["statusListIndex"])}
    verify_proof(revoked_list, keys)
    assert revoked_list["validFrom"] > listed["validFrom"]
    db.session.expire_all()  # the revocation was committed by the request's session
    verdict = check_upload(json.dumps(credential))
    assert verdict.status == "revoked" and verdict.reason == "Täuschung"


def test_evidence_names_identity_check_recording_and_review(app, client, office, submitted):
    attempt = submitted()
    office.exam.proctoring_required = True
    decided = utcnow() - dt.timedelta(hours=2)
    db.session.add(IdCheck(user_id=attempt.user_id, exam_id=attempt.exam_id, status=IdCheckStatus.VERIFIED,
                           decided_by_id=office.staff.id, decided_at=decided))
    db.session.add(Blob(key=secrets.token_hex(8), category="recording", attempt_id=attempt.id))
    attempt.review_outcome = "clean"
    db.session.commit()
    login(client, office.staff)
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "5"})
    assert client.post(f"/staff/attempts/{attempt.id}/release").status_code == 302
    cert = db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id))
    facts = evidence_for(cert)
    assert (facts.identity_method, facts.supervised, facts.recorded, facts.review_outcome) == \
        ("face_match_confirmed", True, True, "clean")
    narratives = [e.get("narrative", "") for e in json.loads(cert.openbadge)["evidence"]]
    assert any("a member of the exam office confirmed the match" in n and decided.date().isoformat() in n
               for n in narratives), narratives
    assert "Taken under online proctoring with the camera recorded." in narratives
    assert "The recording of the exam was reviewed: no issues found." in narratives


def test_older_certificate_gets_its_open_badge_from_its_signed_claims(app, client, office, cert):
    cert.openbadge, cert.status_index = None, None
    db.session.commit()
    document = openbadge(cert)
    assert cert.status_index is not None and cert.openbadge is not None
    assert document["credentialSubject"]["identifier"][0]["identityHash"] == "Erika Mustermann"
    assert check_upload(json.dumps(document)).status == "valid"


def _upload(client: Any, content: str, name: str = "credential.jsonld") -> str:
    resp = client.post("/verify/upload", data={"credential_file": (io.BytesIO(content.encode()), name)},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_verify_page_checks_uploaded_credentials(app, client, office, cert):
    credential_text = client.get(f"/certificates/{cert.public_id}/credential.jsonld").get_data(as_text=True)
    es256 = client.get(f"/certificates/{cert.public_id}/credential.jwt").get_data(as_text=True)
    jws = client.get(f"/certificates/{cert.public_id}.jwt").get_data(as_text=True)
    anon = app.test_client()
    for content in (credential_text, es256, jws):
        page = _upload(anon, content)
        assert 'data-status="valid"' in page and "Erika Mustermann" in page, page
    altered = json.loads(credential_text)
    altered["credentialSubject"]["result"][0]["value"] = "99.00"
    page = _upload(anon, json.dumps(altered))
    assert 'data-status="altered"' in page and "Verändert" in page  # German by default
    stranger = json.loads(credential_text)
    stranger["issuer"]["id"] = "did:web:example.org"
    stranger["proof"]["verificationMethod"] = "did:web:example.org#k"
    assert 'data-status="unknown_issuer"' in _upload(anon, json.dumps(stranger))
    other = json.loads(credential_text)
    other["proof"]["verificationMethod"] = other["issuer"]["id"] + "#no-such-key"
    page = _upload(anon, json.dumps(other))
    assert 'data-status="unknown_issuer"' in page
    # The page says it in words (issue 30: no English detail on a German page); the API names the key.
    assert "no-such-key" in anon.post("/api/verify/credential", json={"credential": other}).json["reason"]
    head, payload, sig = es256.strip().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["vc"]["credentialSubject"]["result"][0]["value"] = "99.00"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert 'data-status="altered"' in _upload(anon, f"{head}.{forged}.{sig}", "c.jwt")
    page = anon.post("/verify/upload", data={"credential_text": "not a credential"}).get_data(as_text=True)
    assert 'data-status="malformed"' in page
    api = anon.post("/api/verify/credential", json={"credential": json.loads(credential_text)}).json
    assert api["valid"] is True and api["status"] == "valid" and api["form"] == "jsonld"
    assert anon.post("/api/verify/credential", json={"credential": es256.strip()}).json["form"] == "jwt-es256"

    assert client.post(f"/staff/certificates/{cert.public_id}/revoke",
                       data={"reason": "Täuschung", "confirm": "yes"}).status_code == 302
    for content in (credential_text, es256, jws):
        page = _upload(anon, content)
        assert 'data-status="revoked"' in page and "Täuschung" in page


def test_holder_downloads_and_others_do_not(app, client, office, cert, make_user):
    import datetime as dt

    from kernel.clock import clock

    clock.advance(dt.timedelta(days=9))  # the appeal window has closed: the certificate is the holder's
    cand = app.test_client()
    login(cand, office.candidate)
    login(client, office.staff)
    page = cand.get(f"/candidate/attempts/{cert.attempt_id}/result").get_data(as_text=True)
    for url in (f"/certificates/{cert.public_id}/credential.jsonld", f"/certificates/{cert.public_id}/credential.jwt"):
        resp = cand.get(url)
        assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
        assert f'href="{url}"' in page
        stranger = app.test_client()
        login(stranger, make_user("candidate", office.inst))
        assert stranger.get(url).status_code == 404
    jwks = _doc(client, "/.well-known/jwks.json")
    assert {k["alg"] for k in jwks["keys"]} == {"EdDSA", "ES256"}
    es_kid = next(k["kid"] for k in jwks["keys"] if k["alg"] == "ES256")
    from urllib.parse import urlsplit

    assert _doc(client, urlsplit(es_kid).path)["kid"] == es_kid


def test_cli_export_prints_the_credential_with_proof(app, runner, cert):
    result = runner.invoke(args=["certificates", "export", cert.public_id.lower()])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert check_upload(result.output).status == "valid"
    jwt = runner.invoke(args=["certificates", "export", cert.public_id, "--format", "jwt"])
    assert jwt.exit_code == 0 and check_upload(jwt.output).status == "valid"
    missing = runner.invoke(args=["certificates", "export", "0000-0000-0000-0000-0000-0000-0000"])
    assert missing.exit_code != 0


def test_seed_demo_has_a_released_pass_with_a_valid_certificate(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    cert = db.session.scalars(select(Certificate)).one()
    assert cert.public_id in result.output and cert.attempt.passed and cert.attempt.result_released_at
    page = app.test_client().get(f"/verify/{cert.public_id}").get_data(as_text=True)
    assert 'data-status="valid"' in page and "Clara Candidate" in page
    exported = runner.invoke(args=["certificates", "export", cert.public_id])
    assert check_upload(exported.output).status == "valid"


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("content", [
    _nested(5000),
    '{"@context": ["https://www.w3.org/ns/credentials/v2", "https://example.org/x.json"], "proof": {}}',
    '{"issuer": {"id": 5}, "proof": {"verificationMethod": []}}',
    "[1, 2, 3]",
    "x" * (300 * 1024),
    "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    "a.b.c",
])
def test_hostile_uploads_are_refused_not_crashing(app, content):
    resp = app.test_client().post("/verify/upload", data={"credential_text": content})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'id="credential-status"' in page and 'data-status="valid"' not in page


def test_hostile_json_ld_under_our_issuer_is_refused(app, client, office, cert):
    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    deep = copy.deepcopy(credential)
    node: dict[str, Any] = deep["credentialSubject"]
    for _ in range(450):
        node["achievement"] = {"achievement": {}}
        node = node["achievement"]["achievement"]
    assert check_upload(json.dumps(deep)).status in ("malformed", "altered")
    smuggled = copy.deepcopy(credential)
    smuggled["@context"].append("https://example.org/redefines-everything.json")
    assert check_upload(json.dumps(smuggled)).status == "malformed"


def test_pdf_qr_code_links_verify_with_the_credential_id(app, client, cert):
    import cv2
    import numpy as np

    from exams.certificate_pdf import _qr_png
    from exams.certificates import verify_url

    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    url = verify_url(cert.public_id)
    image = cv2.imdecode(np.frombuffer(_qr_png(url).getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == url and decoded.endswith(f"/verify/{cert.public_id}")
    assert credential["id"].endswith(cert.public_id) and credential["evidence"][0]["id"] == url
    pdf = client.get(f"/certificates/{cert.public_id}.pdf").data
    assert b"/Subtype /Image" in pdf


def test_cli_verify_checks_a_json_ld_credential_offline(app, runner, cert, tmp_path):
    exported = runner.invoke(args=["certificates", "export", cert.public_id]).output
    good = tmp_path / "good.jsonld"
    good.write_text(exported)
    result = runner.invoke(args=["certificates", "verify", str(good)])
    assert result.exit_code == 0 and "VALID proof" in result.output and "Erika Mustermann" in result.output
    altered = json.loads(exported)
    altered["name"] = "Something else"
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(altered))
    result = runner.invoke(args=["certificates", "verify", str(bad)])
    assert result.exit_code == 1 and "bad_signature" in result.output


def test_the_status_list_is_signed_when_it_changes_and_served_with_validators(app, client, office, cert):
    from email.utils import format_datetime
    from urllib.parse import urlsplit

    from exams.issuer import status_list_cache

    credential = _doc(client, f"/certificates/{cert.public_id}/credential.jsonld")
    path = urlsplit(credential["credentialStatus"]["statusListCredential"]).path
    with app.app_context():
        cache = status_list_cache()
    first = client.get(path)
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["Last-Modified"]
    signed = cache.signed
    for _ in range(3):  # served again and again: the same bytes, nothing signed
        again = client.get(path)
        assert again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]
    assert cache.signed == signed
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"',
                                     "If-Modified-Since": first.headers["Last-Modified"]}).status_code == 200

    assert client.post(f"/staff/certificates/{cert.public_id}/revoke",
                       data={"reason": "Täuschung", "confirm": "yes"}).status_code == 302
    changed = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert cache.signed == signed + 1  # signed once for the change
    valid_from = dt.datetime.fromisoformat(json.loads(changed.get_data())["validFrom"].replace("Z", "+00:00"))
    assert changed.headers["Last-Modified"] == format_datetime(valid_from, usegmt=True)
    client.get(path)
    assert cache.signed == signed + 1


def test_evidence_never_says_a_recording_was_reviewed_when_none_was_kept(app):
    """Issue 30: the demo credential said both "no recording was kept" and "The recording ... was reviewed"."""
    from exams.openbadges import EvidenceFacts, evidence_items

    for outcome in ("clean", "findings"):
        items = evidence_items(EvidenceFacts("proctor_compared", utcnow(), True, False, outcome), "https://x/verify")
        text = " ".join(i.get("narrative", "") for i in items)
        assert "no recording was kept" in text
        assert "recording" not in next(i["narrative"] for i in items if i["name"] == "Review")
    recorded = evidence_items(EvidenceFacts("face_match", utcnow(), True, True, "clean"), "https://x/verify")
    assert "The recording of the exam was reviewed: no issues found." in [i.get("narrative") for i in recorded]


def test_demo_credential_evidence_agrees_with_itself(app, runner):
    """The seeded demo certificate's evidence: a review is never of a recording that was not kept."""
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    certificates = db.session.scalars(select(Certificate)).all()
    assert certificates
    for cert in certificates:
        text = " ".join(i.get("narrative", "") for i in openbadge(cert)["evidence"])
        assert not ("no recording was kept" in text and "recording of the exam was reviewed" in text), text
