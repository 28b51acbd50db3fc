"""Background jobs of the LTI domain: released results reach the platforms' grade columns without a click."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from kernel.db import db
from kernel.errors import DomainError
from kernel.jobs import job
from lti.models import LtiLink, LtiPlatform
from lti.services import send_results

log = logging.getLogger(__name__)


@job("lti.send_released_results", every=dt.timedelta(minutes=5))
def send_released_results_job() -> int:
    """Send every released, not yet sent (or changed) result of every link with a grade column; returns how many.

    A platform that is down or refuses is logged and tried again on the next run; the others go on.
    """
    sent = 0
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # messages outside a request
        links = list(db.session.scalars(select(LtiLink).join(LtiPlatform).where(
            LtiLink.lineitem_url.is_not(None), LtiPlatform.enabled.is_(True))))
        for link in links:
            try:
                sent += send_results(link).sent
            except DomainError as err:  # kept on the link by send_results; tried again on the next run
                log.warning("results of LTI link %s not sent: %s", link.id, err.message)
    return sent
