"""Third-party verifiers accept our credentials: Digital Bazaar's vc + eddsa-rdfc-2022 and bitstring status list,
and jose for the JWTs (tests/node/verify.mjs, Node 20, offline, JSON-LD contexts from the npm context packages).

Tampered fields, a revoked entry in the status list and an unknown key are each refused by that verifier.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exams.dataintegrity import CONTEXTS, add_proof
from exams.models import Certificate
from kernel.clock import utcnow
from tests.conftest import REPO, login

NODE_DIR = REPO / "tests" / "node"


def _need_node() -> None:
    """Install the verifier's npm packages (npm ci) when missing; under CI a missing Node.js/npm fails."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js and npm are needed for the third-party verifier test")
        pytest.skip("Node.js/npm not installed")
    if not (NODE_DIR / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=600,
                       capture_output=True)


def run_verifier(bundle: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Run tests/node/verify.mjs on ``bundle``; its JSON answer."""
    _need_node()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    done = subprocess.run(["node", "verify.mjs", str(path)], cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    (tmp_path / "answer.json").write_text(json.dumps(answer, indent=2))
    return answer


def _release(client: Any, attempt: Any) -> None:
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "5"})
    assert client.post(f"/staff/attempts/{attempt.id}/release").status_code == 302


@pytest.fixture
def two_certs(app, client, office, submitted, make_user):
    """Two released passes of one institution; the second certificate is revoked."""
    login(client, office.staff)
    first = submitted()
    _release(client, first)
    other = make_user("candidate", office.inst, first_name="Max", last_name="Muster")
    second = submitted(candidate=other)
    _release(client, second)
    from sqlalchemy import select

    from kernel.db import db

    good = db.session.scalar(select(Certificate).where(Certificate.attempt_id == first.id))
    bad = db.session.scalar(select(Certificate).where(Certificate.attempt_id == second.id))
    assert client.post(f"/staff/certificates/{bad.public_id}/revoke",
                       data={"reason": "Täuschung", "confirm": "yes"}).status_code == 302
    return good, bad


def _get_json(client: Any, url: str) -> Any:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return json.loads(resp.get_data(as_text=True))


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def test_digital_bazaar_and_jose_verify_and_refuse(app, client, office, two_certs, tmp_path):
    good, bad = two_certs
    credential = _get_json(client, f"/certificates/{good.public_id}/credential.jsonld")
    revoked = _get_json(client, f"/certificates/{bad.public_id}/credential.jsonld")
    issuer = credential["issuer"]["id"]
    status_url = credential["credentialStatus"]["statusListCredential"]
    assert status_url == revoked["credentialStatus"]["statusListCredential"]
    did_doc = _get_json(client, f"/institutions/{office.inst.slug}/did.json")
    status_list = _get_json(client, _path(status_url))

    altered_result = copy.deepcopy(credential)
    altered_result["credentialSubject"]["result"][0]["value"] = "100.00" if \
        altered_result["credentialSubject"]["result"][0]["value"] != "100.00" else "99.00"
    altered_name = copy.deepcopy(credential)
    altered_name["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory Mustermann"
    altered_evidence = copy.deepcopy(credential)
    altered_evidence["evidence"][1]["narrative"] = "Identity verified twice."
    # Signed by a key that is not in the issuer's DID document (same document, fresh key, our DID's name space).
    foreign = Ed25519PrivateKey.generate()
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unknown_key = add_proof(unsigned, foreign, verification_method=f"{issuer}#not-our-key", created=utcnow())
    # The revoked credential with its status entry pointed at a valid bit: the proof then breaks.
    moved = copy.deepcopy(revoked)
    moved["credentialStatus"] = credential["credentialStatus"]

    jwks = _get_json(client, "/.well-known/jwks.json")
    jws = client.get(f"/certificates/{good.public_id}.jwt").get_data(as_text=True).strip()
    es256 = client.get(f"/certificates/{good.public_id}/credential.jwt").get_data(as_text=True).strip()
    head, payload, sig = es256.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["vc"]["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory Mustermann"
    forged_es256 = f"{head}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{sig}"

    bundle = {
        "documents": {issuer: did_doc, status_url: status_list},
        "contexts": {url: json.loads((REPO / "exams" / "contexts" / name).read_text())
                     for url, name in CONTEXTS.items()},
        "cases": [{"name": n, "credential": c} for n, c in [
            ("valid", credential), ("revoked", revoked), ("altered_result", altered_result),
            ("altered_name", altered_name), ("altered_evidence", altered_evidence), ("unknown_key", unknown_key),
            ("moved_status", moved)]],
        "jwts": [{"name": "jws", "jwt": jws, "jwks": jwks, "alg": "EdDSA"},
                 {"name": "es256", "jwt": es256, "jwks": jwks, "alg": "ES256"},
                 {"name": "es256_forged", "jwt": forged_es256, "jwks": jwks, "alg": "ES256"}],
    }
    answer = run_verifier(bundle, tmp_path)
    cases = {c["name"]: c for c in answer["cases"]}
    assert cases["valid"]["verified"] is True, cases["valid"]
    assert cases["valid"]["statusVerified"] is True
    assert cases["revoked"]["verified"] is False and "revoked" in cases["revoked"]["error"], cases["revoked"]
    for name in ("altered_result", "altered_name", "altered_evidence", "moved_status"):
        assert cases[name]["verified"] is False, cases[name]
        assert "Invalid signature" in cases[name]["error"], cases[name]
    assert cases["unknown_key"]["verified"] is False and "not-our-key" in cases["unknown_key"]["error"]
    jwts = {j["name"]: j for j in answer["jwts"]}
    assert jwts["jws"]["verified"] is True and jwts["jws"]["payload"]["credentialSubject"]["name"] == "Erika Mustermann"
    assert jwts["es256"]["verified"] is True and jwts["es256"]["alg"] == "ES256"
    assert jwts["es256"]["payload"]["vc"]["id"] == credential["id"] and jwts["es256"]["payload"]["iss"] == issuer
    assert jwts["es256_forged"]["verified"] is False and "signature" in jwts["es256_forged"]["error"]
    assert answer["contexts"] == {url: True for url in CONTEXTS}, answer["contexts"]


def test_verifier_refuses_a_status_list_credential_that_was_altered(app, client, office, two_certs, tmp_path):
    _good, bad = two_certs
    revoked = _get_json(client, f"/certificates/{bad.public_id}/credential.jsonld")
    status_url = revoked["credentialStatus"]["statusListCredential"]
    did_doc = _get_json(client, f"/institutions/{office.inst.slug}/did.json")
    status_list = _get_json(client, _path(status_url))
    # Someone serving an older list with the bit cleared (same proof) does not get the revoked credential through.
    from exams.statuslist import encode_bits

    cleared = copy.deepcopy(status_list)
    cleared["credentialSubject"]["encodedList"] = encode_bits(set())
    answer = run_verifier({"documents": {revoked["issuer"]["id"]: did_doc, status_url: cleared},
                           "cases": [{"name": "revoked", "credential": revoked}]}, tmp_path)
    case = answer["cases"][0]
    assert case["verified"] is False and "not verified" in case["error"], case
    assert dt.datetime.fromisoformat(status_list["validFrom"].replace("Z", "+00:00")).year >= 2026
