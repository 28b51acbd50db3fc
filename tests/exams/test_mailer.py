"""Certificates are emailed in the job runner through a real (local) SMTP server, once the appeal window has ended
(not at release: sending ends the window)."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import socket
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from exams.models import AttemptEvent, Certificate
from kernel.clock import clock
from kernel.db import db
from tests.conftest import login


class Collector:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    @property
    def certificates(self) -> list[tuple[str, list[str], Message]]:
        """The messages with a PDF attached (a release also mails the result: tests/exams/test_notices.py)."""
        return [m for m in self.messages if any(p.get_content_type() == "application/pdf" for p in m[2].walk())]


def _certificate_emls(outbox: Path) -> list[Path]:
    """The outbox files holding a certificate (a release also mails the result: tests/exams/test_notices.py)."""
    return [p for p in outbox.glob("*.eml") if b"application/pdf" in p.read_bytes()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def app_config(smtp) -> dict[str, Any]:
    return {"MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": smtp[1],
            "MAIL_FROM": "Prüfungsamt <office@aufsicht.test>"}


WINDOW = dt.timedelta(days=9)  # past the end of the 7th day after the release, in any time zone


def _wait_sent(cert_id: int, timeout: float = 20) -> Certificate:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        cert = db.session.get(Certificate, cert_id)
        if cert is not None and cert.sent_at is not None:
            return cert
        time.sleep(0.1)
    raise AssertionError("certificate was not sent in time")


def test_the_certificate_goes_via_smtp_when_the_appeal_window_closes(app, client, office, submitted, smtp):
    from kernel.jobs import run_job, runner

    handler, _ = smtp
    attempt = submitted()
    login(client, office.staff)
    client.post(f"/staff/attempts/{attempt.id}/points", data={"question_id": "q4", "points": "5"})
    client.post(f"/staff/attempts/{attempt.id}/release")
    cert = db.session.scalar(select(Certificate).where(Certificate.attempt_id == attempt.id))
    assert cert is not None
    runner().wait_all()  # type: ignore[attr-defined]
    assert handler.certificates == []  # not at release
    clock.advance(WINDOW)
    db.session.expire_all()  # the release was another session's: the job reads the database afresh
    assert run_job("exams.send_unsent_certificates", {}) == 1
    cert = _wait_sent(cert.id)
    assert len(handler.certificates) == 1
    mail_from, rcpt, msg = handler.certificates[0]
    assert mail_from == "office@aufsicht.test" and rcpt == [office.candidate.email]
    attachments = [p for p in msg.walk() if p.get_content_disposition() == "attachment"]
    assert len(attachments) == 1 and attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_payload(decode=True).startswith(b"%PDF")
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert f"/verify/{cert.public_id}" in body
    kinds = db.session.scalars(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt.id)).all()
    assert "certificate_sent" in kinds


def test_without_smtp_host_writes_outbox(app, office, submitted, tmp_path):
    from exams.mailer import send_certificate

    app.config.update(MAIL_SMTP_HOST=None, INSTANCE_PATH=str(tmp_path))
    app.instance_path = str(tmp_path)
    attempt = submitted()
    from exams.grading import give_points, release_result
    from kernel.clock import utcnow

    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    cert = db.session.scalars(select(Certificate)).one()
    clock.advance(WINDOW)  # the appeal window has closed: the certificate may go
    assert cert.sent_at is None
    with app.test_request_context():
        send_certificate(cert)
    assert cert.sent_at is not None
    (eml,) = _certificate_emls(Path(tmp_path) / "outbox")
    msg = email.message_from_bytes(eml.read_bytes())
    assert msg["To"] == office.candidate.email


def test_failed_send_leaves_sent_at_unset(app, office, submitted):
    from exams.grading import give_points, release_result
    from kernel.clock import utcnow
    from kernel.jobs import run_job

    app.config.update(MAIL_SMTP_PORT=_free_port(), MAIL_SMTP_TIMEOUT=2)
    attempt = submitted()
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    cert = db.session.scalars(select(Certificate)).one()
    clock.advance(WINDOW)  # the appeal window has closed: the certificate may go
    with pytest.raises(OSError):
        run_job("exams.send_certificate", {"certificate_id": cert.id})
    assert run_job("exams.send_certificate", {"certificate_id": 999999}) is None
    db.session.expire_all()
    assert db.session.get(Certificate, cert.id).sent_at is None


def test_send_job_returns_the_certificate_id(app, office, submitted, smtp):
    from exams.grading import give_points, release_result
    from kernel.clock import utcnow
    from kernel.jobs import run_job

    attempt = submitted()
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    cert = db.session.scalars(select(Certificate)).one()
    clock.advance(WINDOW)  # the appeal window has closed: the certificate may go
    public_id = cert.public_id
    assert run_job("exams.send_certificate", {"certificate_id": cert.id}) == public_id
    assert len(smtp[0].certificates) == 1


def test_unsent_certificates_are_retried(app, office, submitted, smtp):
    from exams.grading import give_points, release_result
    from kernel.clock import utcnow
    from kernel.jobs import run_job

    attempt = submitted()
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    cert_id = db.session.scalars(select(Certificate.id)).one()
    assert run_job("exams.send_unsent_certificates", {}) == 0  # appeals are taken: not yet
    clock.advance(WINDOW)
    assert run_job("exams.send_unsent_certificates", {}) == 1
    assert _wait_sent(cert_id).sent_at is not None
    assert len(smtp[0].certificates) == 1
    assert run_job("exams.send_unsent_certificates", {}) == 0


def test_a_title_with_a_newline_is_sent_once_into_a_private_outbox(app, office, submitted, tmp_path):
    from exams.grading import give_points, release_result
    from exams.mailer import send_certificate
    from kernel.clock import utcnow

    app.config.update(MAIL_SMTP_HOST=None, INSTANCE_PATH=str(tmp_path))
    app.instance_path = str(tmp_path)
    attempt = submitted()
    attempt.exam.title = "Deutsch B1\r\nBcc: everyone@example.org"
    db.session.commit()
    give_points(attempt, office.staff, "q4", 5, utcnow())
    release_result(attempt, office.staff, utcnow())
    cert = db.session.scalars(select(Certificate)).one()
    clock.advance(WINDOW)  # the appeal window has closed: the certificate may go
    with app.test_request_context():
        send_certificate(cert)  # raised "Header values may not contain linefeed": retried every 15 minutes
    assert cert.sent_at is not None
    (eml,) = _certificate_emls(Path(tmp_path) / "outbox")
    msg = email.message_from_bytes(eml.read_bytes())
    assert msg["Bcc"] is None and "Deutsch B1 Bcc: everyone@example.org" in str(
        email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert eml.stat().st_mode & 0o777 == 0o600  # a certificate with name and result: the owner only
    assert (Path(tmp_path) / "outbox").stat().st_mode & 0o777 == 0o700
