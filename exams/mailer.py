"""Sending certificates by email: SMTP when MAIL_SMTP_HOST is set, else an .eml file in instance/outbox/.

``Certificate.sent_at`` is set only after a successful send. A certificate is sent only once its appeal window
has ended (``exams.trust.appeal_window``: closed, or ended by the holder asking for it).
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from exams.attempts import record_event
from exams.certificates import certificate_pdf, holder_name, verify_url
from exams.models import Appeal, AppealStatus, Certificate
from kernel.clock import utcnow
from kernel.db import db


def certificate_message(cert: Certificate) -> EmailMessage:
    """The email to the certificate's holder with the PDF attached."""
    attempt = cert.attempt
    cfg = current_app.config
    from accounts.services import language_of

    with force_locale(language_of(attempt.user)):
        subject = _("Your certificate: %(title)s", title=attempt.exam.title)
        body = _("Hello %(name)s,\n\nattached is your certificate for \"%(title)s\".\n"
                 "Anyone can check it at %(url)s\n", name=holder_name(attempt.user), title=attempt.exam.title,
                 url=verify_url(cert.public_id))
    msg = EmailMessage()
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = attempt.user.email
    msg["Subject"] = one_line(subject)
    msg["Message-ID"] = make_msgid(domain="aufsicht")
    msg.set_content(body)
    msg.add_attachment(certificate_pdf(cert), maintype="application", subtype="pdf",
                       filename=f"certificate-{cert.public_id}.pdf")
    return msg


def one_line(text: str) -> str:
    """A header value on one line: line breaks (an exam title may have one) would make the message unsendable."""
    return " ".join(text.split())


def plain_message(to: str, subject: str, body: str) -> EmailMessage:
    """A plain text email from the platform (notices)."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = one_line(subject)
    msg["Message-ID"] = make_msgid(domain="aufsicht")
    msg.set_content(body)
    return msg


def deliver(msg: EmailMessage) -> str:
    """Send ``msg`` by SMTP, or write it to instance/outbox/ when no SMTP host is configured; returns where."""
    cfg = current_app.config
    host = cfg.get("MAIL_SMTP_HOST")
    if not host:
        outbox = outbox_dir()
        outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        outbox.chmod(0o700)  # mails hold names, results and account links: the platform's user only
        path = outbox / f"{utcnow():%Y%m%dT%H%M%S}-{str(msg['Message-ID']).strip('<>').split('@')[0]}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(msg))
        return str(path)
    with smtplib.SMTP(host, int(cfg["MAIL_SMTP_PORT"]), timeout=float(cfg["MAIL_SMTP_TIMEOUT"])) as smtp:
        if cfg.get("MAIL_SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("MAIL_SMTP_USER"):
            smtp.login(cfg["MAIL_SMTP_USER"], cfg.get("MAIL_SMTP_PASSWORD") or "")
        smtp.send_message(msg)
    return f"smtp://{host}:{cfg['MAIL_SMTP_PORT']}"


def appeal_decision_message(appeal: Appeal) -> EmailMessage:
    """The email telling the candidate how their appeal was decided, with the reason."""
    attempt = appeal.attempt
    from accounts.services import language_of

    with force_locale(language_of(attempt.user)):
        subject = _("Decision on your appeal: %(title)s", title=attempt.exam.title)
        outcome = (_("Your appeal has been upheld. Your result will be graded again and released anew.")
                   if appeal.status == AppealStatus.UPHELD else _("Your appeal has been rejected."))
        body = _("Hello %(name)s,\n\n%(outcome)s\n\nReason: %(reason)s\n",
                 name=attempt.user.display_name, outcome=outcome, reason=appeal.decision_reason or "")
    return plain_message(attempt.user.email, subject, body)


def send_appeal_decision(appeal: Appeal) -> str:
    """Email the appeal's decision to the candidate; returns where it went."""
    where = deliver(appeal_decision_message(appeal))
    record_event(appeal.attempt, "appeal_decision_sent", utcnow(), appeal_id=appeal.id, via=where.split(":")[0])
    db.session.commit()
    return where


def outbox_dir() -> Path:
    """Where mails go when no SMTP host is configured (they are personal data: see privacy/inventory.py)."""
    return Path(current_app.instance_path) / "outbox"


# A mail whose link stops working (password reset, email change, address confirmation) says when, in this header;
# the outbox keeps it no longer than that (``purge_expired_links``).
LINK_EXPIRES = "X-Aufsicht-Link-Expires"


def purge_outbox(now: dt.datetime) -> int:
    """Delete outbox mails older than MAIL_OUTBOX_RETENTION_DAYS, and those whose link has expired; returns how
    many (idempotent)."""
    cutoff = (now - dt.timedelta(days=int(current_app.config["MAIL_OUTBOX_RETENTION_DAYS"]))).replace(tzinfo=dt.UTC)
    gone = 0
    for path in outbox_dir().glob("*.eml"):
        if dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) < cutoff:
            path.unlink(missing_ok=True)
            gone += 1
    return gone + purge_expired_links(now)


def purge_expired_links(now: dt.datetime) -> int:
    """Delete outbox mails whose link (reset, email change, confirmation) has expired; returns how many.

    Such a link in a readable file outlives its use otherwise; deleting it loses nothing the link still gives.
    """
    gone = 0
    for path in outbox_dir().glob("*.eml"):
        try:
            with path.open("rb") as fh:
                expires = BytesParser(policy=policy.default).parse(fh, headersonly=True)[LINK_EXPIRES]
        except FileNotFoundError:
            continue
        if not expires:
            continue
        try:
            when = dt.datetime.fromisoformat(str(expires))
        except ValueError:
            when = now  # unreadable: treat as expired
        if when <= now:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def erase_outbox_mails(address: str) -> int:
    """Delete every outbox mail to ``address`` (the account is erased); returns how many."""
    gone = 0
    for path in outbox_dir().glob("*.eml"):
        with path.open("rb") as fh:
            to = str(BytesParser(policy=policy.default).parse(fh, headersonly=True)["To"] or "")
        if address.lower() in (a.strip().lower() for a in to.split(",")):
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def send_certificate(cert: Certificate) -> Certificate:
    """Email the certificate to its holder and set ``sent_at``; a revoked one, or one whose attempt the chain
    of trust does not let go (say, an identity rejected after issue), is not sent, and neither is one whose
    appeal window is still open (sending ends it: the job sends it when it closes, unless the holder asks)."""
    from exams import trust

    if cert.revoked_at is not None:
        return cert
    found = trust.holds(cert.attempt, trust.Action.SEND)
    if found and all(h.code == trust.WINDOW_OPEN for h in found):
        return cert  # not held back, only not due yet: nothing to note on the timeline
    if found:
        record_event(cert.attempt, "certificate_held", utcnow(), certificate_id=cert.public_id,
                     holds=[h.code for h in found])
        db.session.commit()
        return cert
    where = deliver(certificate_message(cert))
    now = utcnow()
    cert.sent_at = now
    record_event(cert.attempt, "certificate_sent", now, certificate_id=cert.public_id, via=where.split(":")[0])
    db.session.commit()
    return cert
