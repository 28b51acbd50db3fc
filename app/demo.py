"""The demo `make run` seeds: an institution whose exam can be tried at once, and a past exam already through the
chain of trust, so a newcomer sees every role's work and can check a certificate on /verify.

Everything goes through the same services the pages call (authoring, identity decision, attempt, grading,
review, release); the past is replayed with the clock set back, so the release gate judges it as it would
have then. Only the system check is written directly: it needs a camera streaming to the media engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from accounts.models import Institution, Role, User
from accounts.services import create_institution, create_user
from exams.models import Exam
from kernel.clock import clock, utcnow
from kernel.db import db

DEMO_EXAM = Path(__file__).resolve().parent.parent / "exams" / "examples" / "demo-exam.yaml"
PAST_QUESTIONS = [
    {"id": "q1", "type": "single_choice", "prompt": "Wie heißt die Hauptstadt Deutschlands?", "points": 2,
     "options": [{"id": "a", "text": "Berlin", "correct": True}, {"id": "b", "text": "Bonn"}]},
    {"id": "q2", "type": "numeric", "prompt": "Wie viele Bundesländer hat Deutschland?", "points": 1, "answer": 16},
    {"id": "q3", "type": "free_text", "prompt": "Beschreiben Sie Ihren Wohnort in zwei Sätzen.", "points": 2},
]


@dataclasses.dataclass(frozen=True)
class Demo:
    """What the seed made: the logins to print once, the demo certificate and the exam to try."""

    logins: list[tuple[str, str, str]]
    certificate_id: str
    exam_id: int


def seed(now: dt.datetime) -> Demo:
    """Seed the demo institution (call on an empty database only)."""
    inst = create_institution("Sprachschule Demo", "demo")
    logins = []
    people: dict[Role, User] = {}
    for role, email, name in [(Role.ADMIN, "admin@demo.example", "Ada Admin"),
                              (Role.STAFF, "staff@demo.example", "Stefan Staff"),
                              (Role.PROCTOR, "proctor@demo.example", "Paula Proctor")]:
        pw = secrets.token_urlsafe(12)
        people[role] = create_user(email, pw, role, name, None if role == Role.ADMIN else inst)
        logins.append((role.value, email, pw))
    cand_pw = secrets.token_urlsafe(12)
    clara = _candidate(inst, "candidate@demo.example", cand_pw, "Clara", "Candidate", "L01X00T47")
    logins.append((Role.CANDIDATE.value, "candidate@demo.example", cand_pw))
    ben = _candidate(inst, "ben@demo.example", secrets.token_urlsafe(16), "Ben", "Beispiel", "T22000129")
    exam = _todays_exam(inst, now)
    _todays_session(exam, people[Role.PROCTOR], clara, now)
    cert = _past_exam(inst, people[Role.STAFF], people[Role.PROCTOR], clara, ben, now)
    return Demo(logins, cert, exam.id)


def _candidate(inst: Institution, email: str, password: str, first: str, last: str, id_number: str) -> User:
    from accounts.services import register_candidate
    from accounts.validation import Registration

    reg = Registration(email=email, password=password, salutation="ms" if first == "Clara" else "mr",
                       first_name=first, last_name=last, street="Musterstraße 1", postal_code="10115", city="Berlin",
                       country="DE", phone="+49301234567", date_of_birth=dt.date(1995, 5, 17),
                       place_of_birth="Hamburg", gender=None, id_document_number=id_number)
    cand = register_candidate(inst, reg, current_app.config["PRIVACY_NOTICE_VERSION"])
    cand.email_verified_at = utcnow()  # a demo address receives no mail; the candidate can start at once
    db.session.commit()
    return cand


def _todays_exam(inst: Institution, now: dt.datetime) -> Exam:
    """The demo exam file (a question of every type), open from an hour ago for 30 days, the proctor assigned."""
    from exams.authoring import save_exam
    from exams.questions import Window
    from exams.schema import load_exam

    spec = load_exam(DEMO_EXAM.read_text(encoding="utf-8"), "yaml")
    aware = now.replace(tzinfo=dt.UTC)
    image = _consent_form_image(inst)
    questions = tuple(dataclasses.replace(q, image=image) if q.image else q for q in spec.questions)
    spec = dataclasses.replace(spec, window=Window(aware - dt.timedelta(hours=1), aware + dt.timedelta(days=30)),
                               proctors=("proctor@demo.example",), minimum_age=None, questions=questions)
    return save_exam(inst, None, spec)


def _consent_form_image(inst: Institution) -> str:
    """The hotspot item's picture (a form with a consent box at the bottom left), drawn and stored as an item
    image of the demo institution; its id replaces the placeholder in the demo exam file."""
    import io

    from PIL import Image, ImageDraw

    from exams.itemmedia import store_item_image

    img = Image.new("RGB", (400, 320), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 380, 60), outline="black", width=2)
    draw.text((28, 32), "Name", fill="black")
    draw.rectangle((20, 80, 380, 220), outline="black", width=2)
    draw.rectangle((40, 260, 80, 290), outline="black", width=3)
    draw.text((95, 268), "I consent", fill="black")
    out = io.BytesIO()
    img.save(out, "PNG")
    staff = db.session.scalars(select(User).where(User.institution_id == inst.id, User.role == Role.STAFF)).one()
    return store_item_image(staff, out.getvalue()).public_id


def _todays_session(exam: Exam, proctor: User, candidate: User, now: dt.datetime) -> None:
    """Today's sitting of the demo exam (from half an hour ago for eight hours), the proctor assigned to it and
    the demo candidate enrolled in it (exams.rosters: only enrolled candidates see an exam)."""
    from exams.rosters import add_session_proctor, create_session, enrol

    session = create_session(exam, now - dt.timedelta(minutes=30), now + dt.timedelta(hours=8))
    add_session_proctor(session, proctor)
    enrol(exam, candidate, session)


def _past_exam(inst: Institution, staff: User, proctor: User, clara: User, ben: User, now: dt.datetime) -> str:
    """A supervised exam of last week: Clara's result went through the whole chain and was released with its
    certificate; Ben's free-text answer still waits for points (so the exam office has work to find)."""
    from exams.attempts import save_answer, start_attempt, submit_attempt
    from exams.grading import give_points, release_result
    from exams.trust import live_certificate
    from idcheck.manual import decide_by_eye
    from idcheck.verification import choose_manual_check
    from proctoring.models import SystemCheck
    from proctoring.review import record_review

    opens = now - dt.timedelta(days=14)
    exam = Exam(institution=inst, title="Deutsch A2 – Abschlussprüfung (Demo)", description="Demo exam, already taken.",
                duration_minutes=30, opens_at=opens, closes_at=now - dt.timedelta(days=7), pass_mark_percent=60,
                identity_check_required=True, proctoring_required=True, questions=PAST_QUESTIONS)
    exam.proctors = [proctor]
    db.session.add(exam)
    db.session.commit()
    from exams.rosters import enrol

    for cand in (clara, ben):
        enrol(exam, cand)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    day = now - dt.timedelta(days=10)
    try:
        for offset, cand, answers in ((0, clara, {"q1": "a", "q2": "16", "q3": "Berlin ist groß. Es ist grün."}),
                                      (1, ben, {"q1": "a", "q2": "15", "q3": "Ich wohne in Köln am Rhein."})):
            start = day + dt.timedelta(hours=offset)
            clock.freeze(start - dt.timedelta(minutes=10))
            check = choose_manual_check(cand, exam, clock.now(), declined=False)
            decide_by_eye(app, check, proctor, True, "Demo: Gesicht und Ausweis im Live-Bild verglichen.", clock.now())
            db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id, passed_at=clock.now(),
                                       detail={"demo": "seeded without a camera"}))
            db.session.commit()
            clock.freeze(start)
            attempt = start_attempt(cand, exam, start)
            for minute, (qid, value) in enumerate(answers.items(), start=2):
                save_answer(attempt, qid, value, start + dt.timedelta(minutes=minute))
            clock.freeze(start + dt.timedelta(minutes=12))
            submit_attempt(attempt, clock.now())
            record_review(attempt, proctor, "clean", "Demo: Sitzung durchgesehen, keine Auffälligkeiten.",
                          start + dt.timedelta(hours=3))
            if cand is clara:
                clock.freeze(day + dt.timedelta(days=1))
                give_points(attempt, staff, "q3", 2, clock.now())
                release_result(attempt, staff, clock.now())
                cert = live_certificate(attempt)
                assert cert is not None  # noqa: S101 - a released pass always has its certificate
                public_id = cert.public_id
    finally:
        clock.reset()
    return public_id
