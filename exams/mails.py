"""The mails of the exams domain, written when they are sent (``accounts.notices``), in the recipient's language:
enrolment (the session's time and the system-check link), the reminder the day before, the result released,
the appeal received, the proctor assigned. (The appeal's decision and the certificate go by their own jobs.)
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Notice
from accounts.notices import Mail, composer, link, local_time, queue
from exams.models import Appeal, Attempt, Enrolment, ExamSession
from kernel.db import db

REMINDER_AHEAD = dt.timedelta(hours=24)


def _when(enrolment: Enrolment) -> str:
    user, exam = enrolment.user, enrolment.exam
    if enrolment.session is not None:
        return _("Your session: %(start)s to %(end)s.", start=local_time(user, enrolment.session.starts_at),
                 end=local_time(user, enrolment.session.ends_at))
    return _("The exam is open from %(start)s to %(end)s.", start=local_time(user, exam.opens_at),
             end=local_time(user, exam.closes_at))


def _preparation(enrolment: Enrolment) -> str:
    exam = enrolment.exam
    lines = [_("The exam: %(url)s", url=link(f"/candidate/exams/{exam.id}"))]
    if exam.seb_required:
        from exams.lockdown import seb_file_path, sebs_link

        lines.append(_("This exam runs only in Safe Exam Browser, which locks your computer to the exam. Install it "
                       "from https://safeexambrowser.org (Windows 3.2 or later, macOS or iPad 3.1.1 or later) and "
                       "open the exam with this link: %(link)s (or open this settings file in Safe Exam Browser: "
                       "%(file)s).",
                       link=sebs_link(link(seb_file_path(exam))), file=link(seb_file_path(exam))))
    if exam.proctoring_required:
        lines.append(_("Please test your camera, microphone and connection beforehand: %(url)s",
                       url=link(f"/candidate/exams/{exam.id}/system-check")))
    return "\n".join(lines)


@composer("enrolment")
def enrolment_mail(notice: Notice) -> Mail | None:
    """You are enrolled: when, and the links to the exam and the system check."""
    enrolment = db.session.get(Enrolment, notice.params.get("enrolment_id"))
    if enrolment is None:
        return None
    return Mail(_("You are enrolled: %(title)s", title=enrolment.exam.title),
                _("Hello %(name)s,\n\nyou are enrolled in the exam \"%(title)s\".\n%(when)s\n\n%(prep)s\n",
                  name=notice.user.display_name, title=enrolment.exam.title, when=_when(enrolment),
                  prep=_preparation(enrolment)))


@composer("reminder")
def reminder_mail(notice: Notice) -> Mail | None:
    """Your exam is tomorrow (or within the next day)."""
    enrolment = db.session.get(Enrolment, notice.params.get("enrolment_id"))
    if enrolment is None or enrolment.session_id != notice.params.get("session_id"):
        return None  # moved to another session meanwhile (that one has its own reminder)
    return Mail(_("Reminder: %(title)s", title=enrolment.exam.title),
                _("Hello %(name)s,\n\nyour exam \"%(title)s\" is coming up.\n%(when)s\n\n%(prep)s\n",
                  name=notice.user.display_name, title=enrolment.exam.title, when=_when(enrolment),
                  prep=_preparation(enrolment)))


def queue_reminders(now: dt.datetime) -> int:
    """Queue a reminder for every enrolment whose session starts within the next day (once per session)."""
    rows = db.session.execute(
        select(Enrolment, ExamSession).join(ExamSession, ExamSession.id == Enrolment.session_id)
        .where(ExamSession.starts_at > now, ExamSession.starts_at <= now + REMINDER_AHEAD)
        .order_by(Enrolment.id).limit(2000)).all()
    queued = 0
    for enrolment, session in rows:
        if enrolment.enrolled_at > session.starts_at - REMINDER_AHEAD:
            continue  # enrolled within the last day: the enrolment mail said it all
        key = f"reminder:{enrolment.id}:{session.id}:{session.starts_at:%Y%m%d%H%M}"
        if queue(enrolment.user, "reminder", key, enrolment_id=enrolment.id, session_id=session.id):
            queued += 1
    db.session.commit()
    return queued


def queue_result_released(attempt: Attempt) -> None:
    """Tell the candidate their result is out (caller commits); once per release."""
    released = attempt.result_released_at
    queue(attempt.user, "result_released", f"result_released:{attempt.id}:{released:%Y%m%d%H%M%S%f}"
          if released else f"result_released:{attempt.id}", attempt_id=attempt.id)


@composer("result_released")
def result_mail(notice: Notice) -> Mail | None:
    """Your result is released: where to see it, until when you can appeal, and when the certificate comes."""
    from exams.trust import appeal_window

    attempt = db.session.get(Attempt, notice.params.get("attempt_id"))
    window = appeal_window(attempt) if attempt is not None else None
    if attempt is None or window is None:
        return None
    url = link(f"/candidate/attempts/{attempt.id}/result")
    deadline = local_time(notice.user, window.closes_at)
    body = _("Hello %(name)s,\n\nyour result for \"%(title)s\" has been released: %(url)s\n\n"
             "Appeals against it are taken until %(deadline)s.\n", name=notice.user.display_name,
             title=attempt.exam.title, url=url, deadline=deadline)
    if attempt.passed:  # a released pass gets its certificate (issued right after the release)
        body += "\n" + _("Your certificate will be mailed to you at %(deadline)s, when the appeal window closes. "
                         "If you want it sooner, ask for it on your result page; that ends the possibility to "
                         "appeal.\n", deadline=deadline)
    return Mail(_("Your result: %(title)s", title=attempt.exam.title), body)


@composer("appeal_received")
def appeal_received_mail(notice: Notice) -> Mail | None:
    """We have your appeal; the exam office decides and writes."""
    appeal = db.session.get(Appeal, notice.params.get("appeal_id"))
    if appeal is None:
        return None
    title = appeal.attempt.exam.title
    return Mail(_("Appeal received: %(title)s", title=title),
                _("Hello %(name)s,\n\nwe have received your appeal against your result for \"%(title)s\" "
                  "(filed %(when)s). The exam office will decide and tell you the reason by email. "
                  "The recordings of your exam are kept until then.\n",
                  name=notice.user.display_name, title=title, when=local_time(notice.user, appeal.filed_at)))


@composer("proctor_assigned")
def proctor_assigned_mail(notice: Notice) -> Mail | None:
    """You supervise a session: when, how many candidates, where to find them."""
    session = db.session.get(ExamSession, notice.params.get("session_id"))
    if session is None or notice.user not in session.proctors:
        return None
    return Mail(_("You supervise: %(title)s", title=session.exam.title),
                _("Hello %(name)s,\n\nyou are assigned to supervise \"%(title)s\" from %(start)s to %(end)s "
                  "(up to %(n)d candidates). Your sessions: %(url)s\n", name=notice.user.display_name,
                  title=session.exam.title, start=local_time(notice.user, session.starts_at),
                  end=local_time(notice.user, session.ends_at), n=session.capacity_per_proctor,
                  url=link("/proctor/")))
