"""The identity check's mail: a person decided (``accounts.notices``; written at sending, in the candidate's
language). The automatic decision is shown on the page at once and needs no mail."""

from __future__ import annotations

from flask_babel import gettext as _

from accounts.models import Notice, User
from accounts.notices import Mail, composer, link, queue
from exams.models import Exam
from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db


def queue_identity_decided(check: IdCheck) -> None:
    """Tell the candidate that a person decided their identity check (caller commits); once per decision."""
    user = db.session.get(User, check.user_id)
    if user is not None and check.decided_at is not None:
        queue(user, "identity_decided", f"identity_decided:{check.id}:{check.decided_at:%Y%m%d%H%M%S%f}",
              check_id=check.id)


@composer("identity_decided")
def identity_decided_mail(notice: Notice) -> Mail | None:
    """Confirmed: you can start; not confirmed: the reason, and that the exam office can reopen it."""
    check = db.session.get(IdCheck, notice.params.get("check_id"))
    exam = db.session.get(Exam, check.exam_id) if check is not None else None
    if check is None or exam is None or check.status not in (IdCheckStatus.VERIFIED, IdCheckStatus.REJECTED):
        return None
    name, url = notice.user.display_name, link(f"/candidate/exams/{exam.id}")
    if check.status == IdCheckStatus.VERIFIED:
        return Mail(_("Identity confirmed: %(title)s", title=exam.title),
                    _("Hello %(name)s,\n\nyour identity for \"%(title)s\" has been confirmed. You can start the "
                      "exam here: %(url)s\n", name=name, title=exam.title, url=url))
    return Mail(_("Identity not confirmed: %(title)s", title=exam.title),
                _("Hello %(name)s,\n\nyour identity for \"%(title)s\" could not be confirmed.\nReason: %(reason)s\n\n"
                  "If you think this is wrong, please contact the exam office; it can reopen the check.\n",
                  name=name, title=exam.title, reason=check.decision_reason or ""))
