"""Every value a page shows has words in both languages (app/labels.py); pages show them, not the codes."""

from __future__ import annotations

from babel.messages.pofile import read_po
from flask_babel import refresh

from accounts.validation import SALUTATIONS
from app.labels import LABELS, label
from exams.models import AppealStatus, AttemptStatus
from exams.questions import QuestionKind
from items.statistics import ItemWarning
from proctoring.actions import CANDIDATE_NOTICES
from proctoring.models import FlagKind, FlagStatus
from proctoring.page_events import TIMELINE_EVENTS
from results.export import ACCESS_WHAT, WHY_API, WHY_DOWNLOAD
from results.tokens import Scope
from results.webhooks import DeliveryStatus, Event
from storage.retention import RULES

EVENTS = {"started", "submitted", "submitted_at_deadline", "terminated", "result_released", "reviewed", "graded",
          "flag", "chat_from_candidate", "chat_from_proctor", "certificate_issued", "certificate_sent",
          "certificate_requested",
          "appeal_filed", "appeal_decided", *CANDIDATE_NOTICES, *TIMELINE_EVENTS["browser"], *TIMELINE_EVENTS["engine"]}


def test_every_value_has_a_label():
    tables = {"attempt_status": {s.value for s in AttemptStatus}, "appeal_status": {s.value for s in AppealStatus},
              "flag_kind": {k.value for k in FlagKind}, "flag_status": {s.value for s in FlagStatus},
              "question_kind": {k.value for k in QuestionKind},
              "item_warning": {w.value for w in ItemWarning}, "salutation": set(SALUTATIONS),
              "blob_category": set(RULES), "event": EVENTS, "boolean": {"True", "False"},
              "token_scope": {s.value for s in Scope}, "webhook_event": {e.value for e in Event},
              "delivery_status": {s.value for s in DeliveryStatus}, "passed": {"True", "False"},
              "identity_method": {"automatic", "person", "not_checked"},
              "review": {"clean", "findings", "not_reviewed"}, "access_what": {ACCESS_WHAT},
              "access_why": {WHY_DOWNLOAD, WHY_API}}
    for table, values in tables.items():
        assert values - set(LABELS[table]) == set(), table


def test_every_label_is_translated_to_german():
    with open("app/translations/de/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    for table, words in LABELS.items():
        for value, text in words.items():
            args = text._args  # (msgid,) for gettext, (context, msgid) for pgettext
            msgid, context = (args[1], args[0]) if len(args) == 2 else (args[0], None)
            message = catalog.get(msgid, context=context)
            assert message is not None and message.string, (table, value)


def test_labels_in_german_and_english(app):
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert label(AttemptStatus.IN_PROGRESS, "attempt_status") == "läuft"
        assert label(False, "boolean") == "nein" and label("DE", "country") == "Deutschland"
        assert label("chat_from_candidate", "event") == "Nachricht des Prüflings"
        assert label("no_such_value", "event") == "–"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()  # the locale is cached on the test's app context
        assert label(AttemptStatus.IN_PROGRESS, "attempt_status") == "in progress"
        assert label("match", "auto_decision") == "same person"


def test_candidate_pages_show_words_not_codes(app, client, make_user):
    from tests.conftest import login

    cand = make_user("candidate", country="AT", postal_code="1010", phone="+43123456789")
    register = app.test_client().get(f"/register/{cand.institution.slug}", headers={"Accept-Language": "de"})
    assert register.status_code == 200 and '<option value="DE" selected>Deutschland</option>' in register.get_data(
        as_text=True)
    login(client, cand)
    page = client.get("/account/privacy", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<option value="ms" selected>Frau</option>' in page
    assert '<option value="AT" selected>Österreich</option>' in page
