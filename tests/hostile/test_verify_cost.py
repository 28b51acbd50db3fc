"""/verify is cheap to attack no longer: a credential crafted to make RDF canonicalisation explode (blank nodes
that all look alike, each added one costing about eight times more) is answered "altered" at once, because an
uploaded credential is first found by its id and issuer and compared with what was issued; canonicalisation
itself refuses many blank nodes and gives up after a deadline."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from exams.dataintegrity import CANON_SECONDS, CREDENTIALS_V2, OB_V3, ProofInvalid, canonize
from exams.issuer import check_upload, openbadge
from tests.hostile.conftest import Tenant


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Many verifications per test: the per-IP rate limit is tested elsewhere."""
    return {"VERIFY_RATE_LIMIT_PER_MINUTE": 10_000}


@pytest.fixture
def issued(make_tenant) -> Tenant:
    """A tenant with a released pass and its signed certificate."""
    return make_tenant("Echt")


def clique(size: int) -> list[dict[str, Any]]:
    """``size`` blank nodes, each linked to all others: RDFC-1.0 tries every permutation of them."""
    return [{"id": f"_:n{i}", "type": ["VerifiableCredential"],
             "evidence": [f"_:n{j}" for j in range(size) if j != i]} for i in range(size)]


def crafted(credential: dict[str, Any], size: int = 7) -> dict[str, Any]:
    """A real credential (our id, issuer and proof) with a clique of blank nodes added: about 3 KB."""
    doc = copy.deepcopy(credential)
    doc["evidence"] = [*doc["evidence"], *clique(size)]
    return doc


def timed(call: Any) -> tuple[Any, float]:
    """The call's result and how long it took in seconds."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def test_crafted_credential_is_answered_altered_in_under_100_ms(app, issued):
    credential = openbadge(issued.cert)
    assert check_upload(json.dumps(credential)).status == "valid"
    doc = crafted(credential)
    assert 2_000 < len(json.dumps(doc)) < 4_096
    client = app.test_client()
    page, seconds = timed(lambda: client.post("/verify/upload", data={"credential_text": json.dumps(doc)}))
    assert page.status_code == 200 and 'data-status="altered"' in page.get_data(as_text=True)
    assert seconds < 0.1, seconds
    answer, seconds = timed(lambda: client.post("/api/verify/credential", json={"credential": doc}))
    assert answer.status_code == 200 and answer.json["status"] == "altered", answer.json
    assert seconds < 0.1, seconds
    answer, seconds = timed(lambda: client.post("/api/verify/credential", json=doc))  # the credential as the body
    assert answer.json["status"] == "altered" and seconds < 0.1, (answer.json, seconds)


def test_a_clique_in_place_of_the_evidence_is_altered_at_once(app, issued):
    credential = openbadge(issued.cert)
    doc = copy.deepcopy(credential)
    doc["evidence"] = clique(7)  # no larger in JSON objects than what was issued
    verdict, seconds = timed(lambda: check_upload(json.dumps(doc)))
    assert verdict.status == "altered" and seconds < 0.1, (verdict, seconds)


def test_an_unknown_certificate_id_costs_no_canonicalisation(app, issued):
    doc = crafted(openbadge(issued.cert))
    doc["id"] = "urn:aufsicht:certificate:" + "0000-0000-0000-0000-0000-0000-0000"
    verdict, seconds = timed(lambda: check_upload(json.dumps(doc)))
    assert verdict.status in ("unknown", "malformed") and seconds < 0.1, (verdict, seconds)


def test_the_same_credential_written_differently_still_verifies(app, issued):
    credential = openbadge(issued.cert)
    rewritten = json.loads(json.dumps(credential))
    rewritten["evidence"][1]["type"] = "Evidence"  # a single type instead of a list: the same statements
    assert rewritten != credential
    assert check_upload(json.dumps(rewritten)).status == "valid"
    changed = json.loads(json.dumps(credential))
    changed["credentialSubject"]["result"][0]["value"] = "99.00"
    assert check_upload(json.dumps(changed)).status == "altered"


def test_canonicalisation_refuses_many_blank_nodes_and_stops_at_its_deadline(app):
    base = {"@context": [CREDENTIALS_V2, OB_V3], "id": "urn:x", "type": ["VerifiableCredential"]}
    with pytest.raises(ProofInvalid) as err:
        canonize({**base, "evidence": [{"type": ["Evidence"]} for _ in range(40)]})
    assert err.value.reason == "too_costly"
    slow = {**base, "evidence": clique(8)}  # about a minute of CPU without the deadline
    start = time.perf_counter()
    with pytest.raises(ProofInvalid) as err:
        canonize(slow)
    assert err.value.reason == "too_costly"
    assert time.perf_counter() - start < CANON_SECONDS + 0.5
    assert canonize({**base, "evidence": clique(3)}).count("_:c14n") > 0  # small ones still canonicalise
