"""Signed webhooks against a real HTTP server on loopback: the signature checked by an independent implementation
of Standard Webhooks (hmac here), retries with exponential backoff through the job queue, giving up, the delivery
log the office reads, and endpoints refused where the egress policy refuses them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.server
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from exams.appeals import decide_appeal, file_appeal
from exams.certificates import certificate_for_attempt, revoke_certificate
from exams.grading import give_points, release_all
from kernel.clock import clock, utcnow
from kernel.db import db
from kernel.jobs import run_job, runner
from results.models import WebhookDelivery
from results.webhooks import register_endpoint
from tests.conftest import login
from tests.results.conftest import RIGHT, WRONG


class Receiver:
    """A webhook receiver on 127.0.0.1 answering the statuses given in turn (the last one from then on)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.seen: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses[min(len(receiver.seen) - 1, len(receiver.statuses) - 1)]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/aufsicht"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(*statuses: int) -> Receiver:
        made.append(Receiver(list(statuses) or [200]))
        return made[-1]

    yield make
    for r in made:
        r.close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks' check, written from its specification: HMAC-SHA256 over "id.timestamp.body" with the
    Base64-decoded secret, any of the space-separated "v1,<base64>" signatures, compared in constant time."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1]) for sig in headers["webhook-signature"].split()
               if sig.startswith("v1,"))


def drain() -> None:
    runner().wait_all()  # type: ignore[attr-defined]


def _release(app: Any, office: Any) -> None:
    with app.test_request_context():
        release_all(office.staff, office.exam, utcnow())
    drain()


def test_a_release_is_sent_signed_to_the_registered_endpoint(app, client, office, take, receiver):
    hook = receiver(200)
    login(client, office.staff)
    page = client.post("/staff/api/webhooks", data={"url": hook.url, "events": [
        "result.released", "certificate.issued", "certificate.revoked", "appeal.decided"]}).get_data(as_text=True)
    secret = re.search(r'<code id="new-secret">(whsec_[A-Za-z0-9+/=]+)</code>', page).group(1)
    assert secret not in client.get("/staff/api").get_data(as_text=True)  # shown once
    passed = take(RIGHT)
    with app.test_request_context():
        give_points(passed, office.staff, "q4", 1, utcnow())  # 6 of 10: a pass
    _release(app, office)
    assert len(hook.seen) == 2
    bodies = [json.loads(body) for _h, body in hook.seen]
    assert sorted(b["type"] for b in bodies) == ["certificate.issued", "result.released"]
    for headers, body in hook.seen:
        assert verify(secret, headers, body), "the signature does not verify"
        assert headers["content-type"] == "application/json" and headers["webhook-id"].startswith("msg_")
        assert abs(int(headers["webhook-timestamp"]) - utcnow().replace(tzinfo=dt.UTC).timestamp()) < 60
        assert not verify(secret, headers, body + b" ")  # the body as sent, and nothing else
    released = next(b for b in bodies if b["type"] == "result.released")["data"]
    assert released["attempt_id"] == passed.id and released["percent"] == "60.00" and released["passed"] is True
    assert released["candidate"]["email"] == passed.user.email
    cert = certificate_for_attempt(passed)
    issued = next(b for b in bodies if b["type"] == "certificate.issued")["data"]
    assert issued["certificate_id"] == cert.public_id and issued["verify_url"].endswith(f"/verify/{cert.public_id}")
    log = client.get("/staff/api/deliveries").get_data(as_text=True)
    assert log.count("zugestellt") == 2 and "HTTP 200" in log and "Ergebnis freigegeben" in log

    with app.test_request_context():
        revoke_certificate(cert, office.staff, "Täuschung nachgewiesen", utcnow())
        appeal = file_appeal(passed, "Bitte prüfen", utcnow())
        decide_appeal(appeal, office.staff, "rejected", "Die Wertung ist richtig.", utcnow())
    drain()
    later = {json.loads(b)["type"]: json.loads(b)["data"] for _h, b in hook.seen[2:]}
    assert later["certificate.revoked"]["certificate_id"] == cert.public_id
    assert later["certificate.revoked"]["reason"] == "Täuschung nachgewiesen"
    assert later["appeal.decided"] == {**later["appeal.decided"], "appeal_id": appeal.id, "outcome": "rejected"}
    assert all(verify(secret, h, b) for h, b in hook.seen)


def test_a_failed_delivery_is_retried_with_exponential_backoff(app, client, office, take, receiver):
    hook = receiver(500, 503, 200)
    new = register_endpoint(office.staff, hook.url, ["result.released"], utcnow())
    take(WRONG)
    _release(app, office)
    delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    first = delivery.last_attempt_at
    assert delivery.next_attempt_at == first + dt.timedelta(seconds=60)

    def tick(seconds: float) -> int:
        clock.advance(dt.timedelta(seconds=seconds))
        queued = run_job("results.deliver_due_webhooks", {})
        drain()
        db.session.expire_all()
        return int(queued)

    assert tick(0) == 0 and tick(58) == 0 and len(hook.seen) == 1  # not yet due
    assert tick(3) == 1 and len(hook.seen) == 2  # 60 s after the first try
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 2, 503)
    assert delivery.next_attempt_at - delivery.last_attempt_at == dt.timedelta(seconds=120)  # doubled
    assert tick(100) == 0 and tick(21) == 1 and len(hook.seen) == 3
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.next_attempt_at) == \
        ("delivered", 3, 200, None)
    ids = {h["webhook-id"] for h, _b in hook.seen}
    assert ids == {delivery.message_id}  # one message, so the receiver can drop a repeat
    assert all(verify(new.secret, h, b) for h, b in hook.seen)
    assert len({h["webhook-timestamp"] for h, _b in hook.seen}) == 3  # each try signed at its own time
    assert tick(600) == 0 and len(hook.seen) == 3  # delivered: never sent again

    login(client, office.staff)
    row = client.get("/staff/api/deliveries").get_data(as_text=True)
    assert 'data-status="delivered"' in row and '<td class="tries">3</td>' in row and "HTTP 200" in row


def test_delivery_gives_up_after_the_last_try(app, client, office, take, receiver):
    hook = receiver(500)
    register_endpoint(office.staff, hook.url, ["result.released"], utcnow())
    take(WRONG)
    _release(app, office)
    for _ in range(5):
        clock.advance(dt.timedelta(minutes=10))
        run_job("results.deliver_due_webhooks", {})
        drain()
    db.session.expire_all()
    delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)  # WEBHOOK_MAX_ATTEMPTS
    assert len(hook.seen) == 3
    login(client, office.staff)
    log = client.get("/staff/api/deliveries").get_data(as_text=True)
    assert "fehlgeschlagen (aufgegeben)" in log and "HTTP 500" in log


def test_an_unreachable_endpoint_is_noted_in_words(app, client, office, take):
    register_endpoint(office.staff, "http://127.0.0.1:9/hook", ["result.released"], utcnow())  # nothing listens
    take(WRONG)
    _release(app, office)
    delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert delivery.status == "pending" and delivery.response_code is None and "127.0.0.1" in delivery.last_error


def test_endpoints_the_egress_policy_refuses_are_not_registered(client, office):
    login(client, office.staff)
    for url, why in (("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
                     ("https://10.0.0.1/hook", "10.0.0.1"), ("ftp://example.org/hook", "https")):
        resp = client.post("/staff/api/webhooks", data={"url": url, "events": ["result.released"]})
        assert resp.status_code == 400 and why in resp.get_data(as_text=True)
    resp = client.post("/staff/api/webhooks", data={"url": "https://192.0.2.1/hook", "events": []})
    assert resp.status_code == 400 and "Wählen Sie die Ereignisse" in resp.get_data(as_text=True)
    assert "Noch keine Webhook-Adresse." in client.get("/staff/api").get_data(as_text=True)


def test_a_removed_endpoint_gets_nothing_more(app, client, office, take, receiver):
    hook = receiver(500)
    new = register_endpoint(office.staff, hook.url, ["result.released"], utcnow())
    take(WRONG)
    _release(app, office)
    login(client, office.staff)
    assert client.post(f"/staff/api/webhooks/{new.row.id}/remove", data={"confirm": "yes"}).status_code == 302
    clock.advance(dt.timedelta(minutes=5))
    run_job("results.deliver_due_webhooks", {})
    drain()
    assert len(hook.seen) == 1
    db.session.expire_all()
    assert db.session.scalars(select(WebhookDelivery)).one().status == "failed"
    assert "die Adresse wurde entfernt" in client.get("/staff/api/deliveries").get_data(as_text=True)
