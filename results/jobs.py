"""Background jobs of results out: webhook deliveries and their retries."""

from __future__ import annotations

import datetime as dt

from kernel.clock import utcnow
from kernel.jobs import job
from results import webhooks


@job("results.deliver_webhook")
def deliver_webhook_job(delivery_id: int) -> str | None:
    """Send one webhook delivery if it is due (idempotent: a delivered or not yet due one is left alone)."""
    return webhooks.deliver(delivery_id, utcnow())


@job("results.deliver_due_webhooks", every=dt.timedelta(minutes=1))
def deliver_due_webhooks_job() -> int:
    """Queue the deliveries whose next try is due: retries after the backoff, and deliveries a lost job left."""
    return webhooks.queue_due(utcnow())
