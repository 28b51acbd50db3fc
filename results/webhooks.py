"""Signed webhooks: the institution's own systems are told when a result is released, a certificate issued or
revoked, or an appeal decided.

How it flows: ``exams.attempts.record_event`` calls :func:`on_event` for every timeline entry (registered by the app
factory through :func:`register`); for the four events above it writes one :class:`WebhookDelivery` per endpoint
that wants the event, in the same transaction (a rolled-back release sends nothing). At commit the delivery job is
queued (``results.deliver_webhook``); a failed try is tried again after 1, 2, 4, ... minutes
(``WEBHOOK_RETRY_BASE_SECONDS`` doubling) up to ``WEBHOOK_MAX_ATTEMPTS`` tries, by the periodic job
``results.deliver_due_webhooks``, which also queues what a lost job left. Requests go through the egress policy
(``kernel.egress``: https, public addresses, no redirects). Delivery is at least once: the receiver drops a repeat by
its ``webhook-id``.

Each request is signed as Standard Webhooks specifies (https://www.standardwebhooks.com), so its libraries verify it:

- ``webhook-id``: the message id, the same on every retry;
- ``webhook-timestamp``: seconds since 1970 (UTC) of this try;
- ``webhook-signature``: ``v1,`` and the Base64 of HMAC-SHA256 over ``<webhook-id>.<webhook-timestamp>.<body>``,
  keyed with the Base64-decoded part of the endpoint's secret after ``whsec_``.

A receiver recomputes the signature over the raw body, compares in constant time and refuses a timestamp more than
five minutes from its clock (a replay).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from exams.certificates import holder_name, score_text, verify_url
from exams.models import Attempt
from kernel import egress
from kernel.db import db
from kernel.errors import Forbidden, NotFound, ValidationFailed
from kernel.jobs import enqueue_pending, exclusive
from results.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix Standard Webhooks gives every secret, not a secret)
MAX_ENDPOINTS = 10
_QUEUED = "aufsicht.webhooks"


class Event(enum.StrEnum):
    """What an endpoint can be told of."""

    RESULT_RELEASED = "result.released"
    CERTIFICATE_ISSUED = "certificate.issued"
    CERTIFICATE_REVOKED = "certificate.revoked"
    APPEAL_DECIDED = "appeal.decided"


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


#: The attempt's timeline entries that are events.
TIMELINE = {"result_released": Event.RESULT_RELEASED, "certificate_issued": Event.CERTIFICATE_ISSUED,
            "certificate_revoked": Event.CERTIFICATE_REVOKED, "appeal_decided": Event.APPEAL_DECIDED}


@dataclasses.dataclass(frozen=True)
class NewEndpoint:
    """An endpoint just registered, with its signing secret (shown this once)."""

    row: WebhookEndpoint
    secret: str


# --------------------------------------------------------------------------------------------- signing


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header's value for one try (Standard Webhooks, version 1)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The headers of one try."""
    return {"Content-Type": "application/json", "User-Agent": "aufsicht-webhooks", "webhook-id": message_id,
            "webhook-timestamp": str(timestamp), "webhook-signature": signature(secret, message_id, timestamp, body)}


def _seal(secret: str) -> tuple[str, bytes]:
    from storage.vault import keyring

    return keyring().wrap(secret.encode())


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret, decrypted (only to sign)."""
    from storage.vault import keyring

    return keyring().unwrap(endpoint.secret_key_id, endpoint.secret_wrapped).decode()


# --------------------------------------------------------------------------------------------- endpoints


def _office(staff: User) -> int:
    if staff.role != Role.STAFF or staff.institution_id is None:
        raise Forbidden()
    return staff.institution_id


def check_url(url: str) -> str:
    """The URL if the egress policy lets the server send to it (https, a public address); else ValidationFailed."""
    url = (url or "").strip()
    if not url or len(url) > 500:
        raise ValidationFailed(_("Give the address (https) of your system, at most 500 characters."),
                               fields={"url": "missing or too long"})
    try:
        egress.target_address(url)
    except egress.EgressError as err:
        raise ValidationFailed(_("This address cannot be used: %(why)s", why=err.detail), fields={"url": "refused"}) \
            from None
    return url


def register_endpoint(staff: User, url: str, events: Iterable[str], now: dt.datetime) -> NewEndpoint:
    """Register an endpoint of the staff member's institution for ``events``; its secret is returned once."""
    institution_id = _office(staff)
    try:
        chosen = sorted({Event(e).value for e in events})
    except ValueError:
        raise ValidationFailed(_("Choose the events to send."), fields={"events": "unknown"}) from None
    if not chosen:
        raise ValidationFailed(_("Choose the events to send."), fields={"events": "missing"})
    url = check_url(url)
    if len(endpoints_of(institution_id)) >= MAX_ENDPOINTS:
        raise ValidationFailed(_("Remove an endpoint first: an institution has at most %(n)d.", n=MAX_ENDPOINTS),
                               fields={"url": "too many endpoints"})
    secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    key_id, wrapped = _seal(secret)
    row = WebhookEndpoint(institution_id=institution_id, url=url, events=chosen, secret_key_id=key_id,
                          secret_wrapped=wrapped, created_at=now, created_by_id=staff.id)
    db.session.add(row)
    db.session.commit()
    return NewEndpoint(row, secret)


def endpoints_of(institution_id: int) -> Sequence[WebhookEndpoint]:
    """The institution's endpoints in use, oldest first."""
    return db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.institution_id == institution_id,
                                                            WebhookEndpoint.disabled_at.is_(None))
                              .order_by(WebhookEndpoint.id)).all()


def get_endpoint_for(staff: User, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint of the staff member's institution in use; anything else is NotFound."""
    institution_id = _office(staff)
    row = db.session.get(WebhookEndpoint, endpoint_id)
    if row is None or row.institution_id != institution_id or row.disabled_at is not None:
        raise NotFound()
    return row


def remove_endpoint(endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    """Stop sending to an endpoint: what waits for a retry is given up; its delivery log stays."""
    endpoint.disabled_at = now
    for delivery in db.session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == DeliveryStatus.PENDING)):
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        delivery.last_error = "endpoint removed"
    db.session.commit()


def deliveries_of(institution_id: int, limit: int = 200) -> Sequence[WebhookDelivery]:
    """The institution's latest deliveries, newest first (the delivery log)."""
    return db.session.scalars(select(WebhookDelivery).join(WebhookEndpoint)
                              .where(WebhookEndpoint.institution_id == institution_id)
                              .order_by(WebhookDelivery.id.desc()).limit(limit)).all()


# --------------------------------------------------------------------------------------------- events


def _utc(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def payload(attempt: Attempt, kind: Event, now: dt.datetime, detail: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for one event (codes and UTC times, as the API's results)."""
    data: dict[str, Any] = {"exam": {"id": attempt.exam_id, "title": attempt.exam.title}, "attempt_id": attempt.id,
                            "candidate": {"name": holder_name(attempt.user), "email": attempt.user.email}}
    if kind is Event.RESULT_RELEASED:
        data.update(points=attempt.points, max_points=attempt.max_points, percent=score_text(attempt),
                    passed=attempt.passed, released_at=_utc(attempt.result_released_at))
    elif kind in (Event.CERTIFICATE_ISSUED, Event.CERTIFICATE_REVOKED):
        public_id = str(detail.get("certificate_id") or "")
        data.update(certificate_id=public_id or None, verify_url=verify_url(public_id) if public_id else None)
        if kind is Event.CERTIFICATE_REVOKED:
            data["reason"] = detail.get("reason")
    else:
        data.update(appeal_id=detail.get("appeal_id"), outcome=detail.get("outcome"))
    return {"type": kind.value, "timestamp": _utc(now), "data": data}


def on_event(attempt: Attempt, kind: str, now: dt.datetime, detail: dict[str, Any]) -> None:
    """A timeline entry was recorded: for the events, a delivery to every endpoint that wants it (caller commits)."""
    found = TIMELINE.get(kind)
    if found is None:
        return
    endpoints = [e for e in endpoints_of(attempt.exam.institution_id) if found.value in (e.events or [])]
    if not endpoints:
        return
    body = json.dumps(payload(attempt, found, now, detail), separators=(",", ":"), sort_keys=True)
    for endpoint in endpoints:
        db.session.add(WebhookDelivery(endpoint_id=endpoint.id, attempt_id=attempt.id, event=found.value,
                                       message_id="msg_" + secrets.token_hex(16), body=body, created_at=now,
                                       status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now))


@sa_event.listens_for(Session, "after_flush")
def _remember_new(session: Session, _ctx: Any) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, WebhookDelivery)]
    if ids:
        session.info.setdefault(_QUEUED, set()).update(ids)


@sa_event.listens_for(Session, "after_commit")
def _queue_committed(session: Session) -> None:
    for delivery_id in sorted(session.info.pop(_QUEUED, ())):
        enqueue_pending("results.deliver_webhook", delivery_id=delivery_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_QUEUED, None)


# --------------------------------------------------------------------------------------------- delivery


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed try: the base, doubling with each try."""
    base = float(current_app.config.get("WEBHOOK_RETRY_BASE_SECONDS", 60))
    return dt.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


def deliver(delivery_id: int, now: dt.datetime) -> str | None:
    """Send one delivery if it is due, and note how it went; a run beside another, or before it is due, does
    nothing. Returns the delivery's status after this try (None when nothing was tried)."""
    with exclusive(f"results.deliver_webhook:{delivery_id}") as mine:
        delivery = db.session.get(WebhookDelivery, delivery_id) if mine else None
        if delivery is None or delivery.status != DeliveryStatus.PENDING or \
                (delivery.next_attempt_at is not None and delivery.next_attempt_at > now):
            return None
        endpoint = delivery.endpoint
        if endpoint.disabled_at is not None:
            delivery.status, delivery.next_attempt_at, delivery.last_error = DeliveryStatus.FAILED, None, \
                "endpoint removed"
            db.session.commit()
            return delivery.status
        stamp = int(now.replace(tzinfo=dt.UTC).timestamp())
        headers = signed_headers(secret_of(endpoint), delivery.message_id, stamp, delivery.body)
        code: int | None = None
        error: str | None = None
        # What failed is kept in the platform's language (a job has no reader's request).
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            try:
                answer = egress.fetch("POST", endpoint.url, headers=headers, content=delivery.body.encode())
                code = answer.status
                if not 200 <= code < 300:
                    error = f"HTTP {code}"
            except egress.EgressError as err:
                code, error = err.http_status, str(err.detail)[:200]
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.response_code, delivery.last_error = now, code, error
        if error is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.DELIVERED, None
        elif delivery.attempts >= int(current_app.config.get("WEBHOOK_MAX_ATTEMPTS", 10)):
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        log.info("webhook %s to endpoint %s: try %d, %s", delivery.message_id, endpoint.id, delivery.attempts,
                 error or "delivered")
        db.session.commit()
        return str(delivery.status)


def queue_due(now: dt.datetime, batch: int = 500) -> int:
    """Queue the delivery job of every pending delivery whose next try is due (retries, and work of lost jobs)."""
    ids = db.session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.PENDING,
                                                              WebhookDelivery.next_attempt_at <= now)
                             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(batch)).all()
    for delivery_id in ids:
        enqueue_pending("results.deliver_webhook", delivery_id=delivery_id)
    return len(ids)


# --------------------------------------------------------------------------------------------- registration


def reseal_all(ring: Any) -> int:
    """Seal every endpoint's secret under the active master key (``flask storage rotate-key``)."""
    done = 0
    for endpoint in db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.secret_key_id != ring.active_id)):
        plain = ring.unwrap(endpoint.secret_key_id, endpoint.secret_wrapped)
        endpoint.secret_key_id, endpoint.secret_wrapped = ring.wrap(plain)
        done += 1
    db.session.commit()
    return done


def sealed_with(key_id: str) -> int:
    """How many endpoint secrets master key ``key_id`` still seals."""
    return int(db.session.scalar(select(func.count()).select_from(WebhookEndpoint)
                                 .where(WebhookEndpoint.secret_key_id == key_id)) or 0)


def register() -> None:
    """Hear the exams domain's events, and let storage re-seal the secrets (idempotent)."""
    from exams.attempts import ON_EVENT
    from storage import vault

    if on_event not in ON_EVENT:
        ON_EVENT.append(on_event)
    if reseal_all not in vault.RESEALERS:
        vault.RESEALERS.append(reseal_all)
    if sealed_with not in vault.KEY_USERS:
        vault.KEY_USERS.append(sealed_with)
