"""A crawl of every page each role reaches on the demo data, in German (issue 30, "catch the next ones").

The demo (``app.demo.seed``, what ``flask seed-demo`` makes) is seeded; the candidate, the proctor, the exam office
and the admin each log in through the login form and follow every same-origin link from their home page (GET
only, a bounded number of pages); so do visitors from the login page and the certificate's /verify page. Each
HTML page's visible text (text, ``alt``, ``title``, ``placeholder``, ``aria-label``; not code) must show
no raw enum value (``in_progress``, ``no_face``, ``review``), no ISO date or timestamp, no "UTC", "None" or
"undefined", no raw key (``given_names``) and no English sentence of the catalogue left untranslated.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from babel.messages.pofile import read_po

from tests.conftest import PASSWORD, TOTP_SECRET, login

DE = {"Accept-Language": "de"}
CATALOGUE = Path(__file__).resolve().parent.parent / "app/translations/de/LC_MESSAGES/messages.po"
MAX_PAGES = 150  # per role: the demo's pages are far fewer; a link that multiplies pages is cut off here
# Links not followed: they end the session or leave the pages (files, media, JSON).
SKIP = re.compile(r"^/(logout|static/|api/|.*\.(json|pdf|zip|jwt|jsonld|webm|png|jpe?g|svg|csv|seb|md)$)")
VISIBLE_ATTRS = {"alt", "title", "placeholder", "aria-label"}
# Code and what a person types (an exam file, a CSV example, a library's name) are not words of the page.
CODE = ("script", "style", "template", "code", "pre", "kbd", "samp", "textarea")

ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{2}:\d{2}:\d{2}Z\b|T\d{2}:\d{2}")
WORDS = re.compile(r"\b(UTC|None|undefined|null|NaN)\b")
SNAKE = re.compile(r"(?<![\w@.-])[a-z]+(?:_[a-z0-9]+)+(?![\w@.-])")  # a raw key or value: given_names, in_progress


class _Text(HTMLParser):
    """The visible text of a page as separate pieces, and its links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in CODE:
            self._hidden += 1
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")
        if not self._hidden:
            self.pieces += [v for k, v in attrs if v and k in VISIBLE_ATTRS]
        if tag == "input" and found.get("type") in ("submit", "button") and found.get("value"):
            self.pieces.append(found["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in CODE and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.pieces.append(" ".join(data.split()))


def _enum_values() -> set[str]:
    """Every value of our StrEnums (the app's models are imported by now)."""
    values: set[str] = set()
    todo = list(enum.StrEnum.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.split(".")[0] in ("accounts", "exams", "idcheck", "items", "lti", "oversight", "privacy",
                                           "proctoring", "storage", "kernel"):
            values |= {str(m.value) for m in cls}
    return values


def _english_sentences() -> list[str]:
    """Fragments of catalogue messages long enough to be English only where a translation was missed."""
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f)
    out = set()
    for message in catalogue:
        msgid = message.id if isinstance(message.id, str) else (message.id[0] if message.id else "")
        string = message.string if isinstance(message.string, str) else (message.string or ("",))[0]
        if not msgid or string == msgid:
            continue
        for fragment in re.split(r"%\(\w+\)[sdf]|%[sdf]", msgid):
            fragment = fragment.strip(" .,:;–-()")
            if len(fragment) >= 20 and fragment.count(" ") >= 3:
                out.add(fragment)
    return sorted(out)


def problems(text: _Text, enum_values: set[str], english: list[str]) -> list[str]:
    """What a German page must not show."""
    found = []
    whole = " | ".join(text.pieces)
    for piece in text.pieces:
        for pattern, what in ((ISO, "ISO date or time"), (WORDS, "code word"), (SNAKE, "raw key")):
            for m in pattern.finditer(piece):
                found.append(f"{what} {m.group(0)!r} in {piece[:120]!r}")
        if piece.strip(" :.,()–") in enum_values:
            found.append(f"raw enum value {piece!r}")
    found += [f"untranslated {sentence!r}" for sentence in english if sentence in whole]
    return found


def crawl(client, start: str, enum_values: set[str], english: list[str],
          also: tuple[str, ...] = ()) -> tuple[dict[str, list[str]], set[str]]:
    """Follow same-origin links from ``start`` and ``also`` (pages only scripts link to), GET only, at most
    MAX_PAGES; problems per page, pages seen."""
    seen, queue, report = {start, *also}, deque([start, *also]), {}
    while queue and len(seen) <= MAX_PAGES:
        path = queue.popleft()
        resp = client.get(path, headers=DE)
        if resp.status_code in (301, 302, 303):
            target = urlsplit(urljoin(path, resp.headers["Location"]))
            nxt = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc in ("", "aufsicht.test") and nxt not in seen and not SKIP.match(target.path):
                seen.add(nxt)
                queue.append(nxt)
            continue
        assert resp.status_code < 500, f"{path}: {resp.status_code}"
        if not resp.content_type.startswith("text/html"):
            continue
        parser = _Text()
        parser.feed(resp.get_data(as_text=True))
        if found := problems(parser, enum_values, english):
            report[path] = found
        for href in parser.links:
            url = urlsplit(urljoin(path, urldefrag(href)[0]))
            nxt = url.path + (f"?{url.query}" if url.query else "")
            if url.scheme not in ("", "http") or url.netloc not in ("", "aufsicht.test") or SKIP.match(url.path):
                continue
            if nxt and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return report, seen


def _exam_day(app, exam_id: int) -> int:
    """Today's demo exam under way, through the services: Clara's identity confirmed by the proctor, her attempt
    running with a flag dismissed and one open; Ben's identity check with a person, the machine's notes and the
    document step's fields kept (the pages that show these are crawled too)."""
    import sqlalchemy as sa

    from accounts.models import User
    from exams.attempts import start_attempt
    from exams.models import Exam
    from exams.rosters import enrol
    from idcheck.document import TYPED
    from idcheck.manual import decide_by_eye
    from idcheck.models import IdCheck, IdCheckStatus
    from idcheck.verification import choose_manual_check
    from kernel.clock import clock
    from kernel.db import db
    from proctoring.flags import raise_flag, resolve_flag
    from proctoring.models import FlagKind, SystemCheck

    exam = db.session.get(Exam, exam_id)
    clara = db.session.scalar(sa.select(User).where(User.email == "candidate@demo.example"))
    ben = db.session.scalar(sa.select(User).where(User.email == "ben@demo.example"))
    proctor = db.session.scalar(sa.select(User).where(User.email == "proctor@demo.example"))
    now = clock.now()
    check = choose_manual_check(clara, exam, now, declined=False)
    decide_by_eye(app, check, proctor, True, "Gesicht und Ausweis im Live-Bild verglichen.", now)
    db.session.add(SystemCheck(user_id=clara.id, exam_id=exam.id, passed_at=now, detail={"demo": "no camera"}))
    db.session.commit()
    attempt = start_attempt(clara, exam, now)
    dismissed = raise_flag(attempt, FlagKind.TAB_HIDDEN, now)
    resolve_flag(dismissed.id, attempt, proctor, False, "", now)
    raise_flag(attempt, FlagKind.MULTIPLE_FACES, now)
    enrol(exam, ben)
    db.session.add(IdCheck(
        user_id=ben.id, exam_id=exam.id, status=IdCheckStatus.REVIEW, biometric=True, auto_decision="no_match",
        distance=0.71, liveness_passed=False,
        reason="faces differ: a person will review; ID document: " + TYPED + "; liveness: step 1 (up): no clear "
               "movement up within the deadline",
        document_check={"mrz": "TD1", "source": "typed", "surname": "BEISPIEL", "given_names": "BEN",
                        "birth_date": "1995-05-17", "expiry_date": "2031-01-31", "nationality": "D",
                        "photo_reason": "no_mrz", "differences": [TYPED]}))
    db.session.commit()
    return attempt.id


@pytest.fixture
def demo(app):
    """The demo's data, with its people's password and second factor known to the test."""
    import sqlalchemy as sa

    from accounts.models import User
    from accounts.second_factor import seal_secret
    from accounts.services import hash_password
    from app.demo import seed
    from kernel.clock import clock
    from kernel.db import db

    with app.test_request_context():  # as the CLI: the services' messages need a request's locale
        made = seed(clock.now())
        running = _exam_day(app, made.exam_id)
    people = {}
    for user in db.session.scalars(sa.select(User)).all():
        user.password_hash = hash_password(PASSWORD)
        if user.role.value != "candidate":
            user.totp_secret = seal_secret(user, TOTP_SECRET)
        people[user.email] = user
    db.session.commit()
    return made, people, running


@pytest.mark.parametrize("email", ["candidate@demo.example", "proctor@demo.example", "staff@demo.example",
                                   "admin@demo.example", None])
def test_every_page_of_the_demo_in_german_words(app, demo, email):
    """Every page a role reaches by links from its home shows German words and dates, no codes or UTC."""
    made, people, running = demo
    client = app.test_client()
    # Pages the grid's and the exam page's scripts open (no plain link leads there): today's running attempt and
    # last week's reviewed one (1).
    also = {"candidate@demo.example": (f"/candidate/attempts/{running}",),
            "proctor@demo.example": (f"/proctor/attempts/{running}", "/proctor/attempts/1/review"),
            "staff@demo.example": ("/proctor/attempts/1/review",)}.get(email or "", ())
    if email is None:  # a visitor: the login page, the privacy notice, the demo certificate
        start = f"/verify/{made.certificate_id}"
    else:
        start = login(client, people[email], headers=DE).headers["Location"]
        start = urlsplit(start).path
    report, seen = crawl(client, start, _enum_values(), _english_sentences(), also)
    assert all(client.get(path, headers=DE).status_code == 200 for path in also), also
    assert len(seen) >= (3 if email is None else 8), sorted(seen)
    assert not report, "\n".join(f"{path}:\n  " + "\n  ".join(found) for path, found in sorted(report.items()))


def test_the_crawl_sees_what_it_must_refuse():
    """The page check itself: it finds each kind of leftover in a page and passes German words."""
    english = ["the credential was altered or not signed"]
    values = {"in_progress", "review"}

    def check(html: str) -> list[str]:
        parser = _Text()
        parser.feed(html)
        return problems(parser, values, english)

    assert check("<p>Beginn 24.12.2026 14:05 – läuft</p><script>let x = null; // 2026-12-24</script>") == []
    for html in ("<p>2026-12-24T13:05:00</p>", "<td>13:05 UTC</td>", "<dd>None</dd>", "<span>undefined</span>",
                 "<td>review</td>", "<dt>given_names</dt>", "<img alt='in_progress'>",
                 "<p>Details: the credential was altered or not signed by this key</p>", "<p>am 2026-12-24</p>"):
        assert check(html), html
