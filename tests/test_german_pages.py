"""German pages in German words and formats (issue 30, "found by clicking"): numbers, counts, times."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import login

DE = {"Accept-Language": "de"}


def test_pass_mark_is_a_german_number_on_the_staff_and_candidate_pages(app, make_institution, make_user, make_exam):
    """Issue 30: the pass mark read "60.00 %" on a German page; it is "60,0 %"."""
    inst = make_institution()
    exam = make_exam(institution=inst, pass_mark_percent=Decimal("60.00"))
    staff, cand = app.test_client(), app.test_client()
    login(staff, make_user("staff", inst))
    login(cand, make_user("candidate", inst))
    for client, path in ((staff, f"/staff/exams/{exam.id}"), (cand, f"/candidate/exams/{exam.id}")):
        page = client.get(path, headers=DE).get_data(as_text=True)
        assert "60,0 %" in page, path
        assert "60.00" not in page, path


def test_who_opened_my_files_in_german_words(app, client, make_institution, make_user):
    """Issue 30: "who opened my recordings" showed the raw key ("snapshot") and English ("review of the exam
    attempt") on the German privacy page."""
    import datetime as dt

    from kernel.clock import clock
    from privacy.rights import Access, record_access

    inst = make_institution()
    cand, proctor = make_user("candidate", inst), make_user("proctor", inst)
    for what, why in (("snapshot", "review of the exam attempt"), ("chat", "supervision and review of the exam "
                                                                             "attempt"), ("selfie", "identity review")):
        record_access(proctor, cand.id, Access(what, why), clock.now() - dt.timedelta(minutes=1))
    login(client, cand)
    page = client.get("/account/privacy", headers=DE).get_data(as_text=True)
    table = page.split('<table id="access">', 1)[1].split("</table>", 1)[0]
    for english in ("review of the exam attempt", "identity review", ">snapshot<", ">selfie<", ">chat<"):
        assert english not in table, english
    assert "Standbilder der Webcam" in table and "Durchsicht des Prüfungsversuchs" in table
    assert "Aufsicht und Durchsicht des Prüfungsversuchs" in table and "Prüfung der Identitätsfeststellung" in table


def test_verify_page_explains_in_german_without_english_details(app):
    """Issue 30: /verify showed "Detail: the credential was altered or not signed by this key" and the mistyped
    id's English reason on the German page."""
    import base64
    import json

    from exams.credentials import new_certificate_id

    anon = app.test_client()
    good = new_certificate_id()
    wrong = ("1" if good[0] != "1" else "2") + good[1:]
    for typed, german in ((wrong, "Prüfzeichen"), ("ABC", "Zeichen, nicht"), ("UUUU" * 7, "nie vorkommen")):
        page = anon.get("/verify", query_string={"id": typed}, headers=DE).get_data(as_text=True)
        error = page.split('id="verify-error">', 1)[1].split("</p>", 1)[0]
        assert german in error and "certificate id" not in error and "mistyped" not in error, typed
        assert "must have" not in error and "never used" not in error
    header = base64.urlsafe_b64encode(json.dumps({"alg": "ES256", "kid": "k"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"vc": {}}').rstrip(b"=").decode()
    page = anon.post("/verify/upload", data={"credential_text": f"{header}.{body}.c2ln"}, headers=DE,
                     ).get_data(as_text=True)
    assert 'id="credential-status"' in page
    assert 'id="credential-reason"' not in page and "Einzelheiten" not in page
    assert "signed with" not in page and "not one of ours" not in page


def test_live_view_state_is_words_not_the_raw_connection_state(app, make_institution, make_user, make_exam):
    """Issue 30: the raw WebRTC state "connected" stood beside "Live ansehen"; the page carries the words and
    proctor.js writes them, never ``pc.connectionState`` itself."""
    import html
    import json
    import re
    from pathlib import Path

    from tests.conftest import start_exam

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    from kernel.db import db

    db.session.commit()
    cand = app.test_client()
    login(cand, make_user("candidate", inst))
    attempt_id = start_exam(cand, exam.id)
    client = app.test_client()
    login(client, proctor)
    page = client.get(f"/proctor/attempts/{attempt_id}", headers=DE).get_data(as_text=True)
    assert "Live ansehen" in page
    words = json.loads(html.unescape(re.search(r'id="watch-state"[^>]*data-words="([^"]*)"', page).group(1)))
    assert words["connected"] == "verbunden" and words["failed"] == "keine Verbindung"
    script = Path(app.root_path, "static/js/proctor.js").read_text()
    assert not re.search(r"textContent\s*=\s*pc\.connectionState", script)


def test_flag_decisions_on_the_live_timeline_have_their_words(app, make_institution, make_user, make_exam):
    """Issue 30: a dismissed or confirmed flag showed on the attempt's live timeline without its label (a dash)."""
    import re

    from exams.models import Attempt
    from kernel.clock import clock
    from kernel.db import db
    from proctoring.flags import raise_flag, resolve_flag
    from proctoring.models import FlagKind
    from tests.conftest import start_exam

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    cand = app.test_client()
    login(cand, make_user("candidate", inst))
    attempt = db.session.get(Attempt, start_exam(cand, exam.id))
    tab = raise_flag(attempt, FlagKind.TAB_HIDDEN, clock.now())
    copy = raise_flag(attempt, FlagKind.COPY_PASTE, clock.now())
    resolve_flag(tab.id, attempt, proctor, False, "", clock.now())
    resolve_flag(copy.id, attempt, proctor, True, "Text eingefügt", clock.now())
    client = app.test_client()
    login(client, proctor)
    page = client.get(f"/proctor/attempts/{attempt.id}", headers=DE).get_data(as_text=True)
    timeline = page.split('<ol id="timeline">', 1)[1].split("</ol>", 1)[0]
    dismissed = re.search(r'<li data-kind="flag_dismissed">(.*?)</li>', timeline).group(1)
    confirmed = re.search(r'<li data-kind="flag_confirmed">(.*?)</li>', timeline).group(1)
    assert "Hinweis verworfen" in dismissed and "Hinweis bestätigt" in confirmed
    assert "Tab der Prüfung verlassen" in dismissed or "Prüfungsseite verlassen" in dismissed
    for entry in (dismissed, confirmed):
        assert not re.search(r"</time>\s*–", entry), entry


def test_declining_biometric_consent_is_not_called_a_withdrawal(app, client, make_user):
    """Issue 30: after declining biometric consent (never given) the home page said it was withdrawn."""
    import re

    cand = make_user("candidate")
    login(client, cand)

    def state() -> str:
        page = client.get("/candidate/", headers=DE).get_data(as_text=True)
        return re.search(r'<p id="biometrics-state"[^>]*>([^<]*)</p>', page).group(1)

    declined = client.post("/candidate/consent/biometrics", data={"granted": "no"}, headers=DE,
                           follow_redirects=True).get_data(as_text=True)
    assert "widerrufen" not in declined
    assert state() == "Sie haben die Einwilligung abgelehnt."
    client.post("/candidate/consent/biometrics", data={"granted": "yes"})
    client.post("/candidate/consent/biometrics", data={"granted": "no"})
    assert "widerrufen" in state()


def test_exam_page_shows_which_steps_are_done_and_why_start_is_refused(app, client, make_institution, make_user,
                                                                     make_exam):
    """Issue 30: the exam page did not say which steps (identity, system check) were done nor why Start was refused."""
    import re

    from kernel.clock import clock
    from kernel.db import db
    from proctoring.models import SystemCheck

    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=True)
    cand = make_user("candidate", inst)
    login(client, cand)

    def page() -> str:
        return client.get(f"/candidate/exams/{exam.id}", headers=DE).get_data(as_text=True)

    first = page()
    assert re.search(r'id="identity-step">noch offen<', first) and re.search(r'id="system-check-step">noch offen<',
                                                                              first)
    blocked = re.search(r'<p id="start-blocked">([^<]*)</p>', first).group(1)
    # the first gate not passed (the gates' order is the order their packages were imported in)
    assert "Die Prüfung kann noch nicht beginnen:" in blocked and ("Systemcheck" in blocked
                                                                 or "Identitätsprüfung" in blocked)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id, passed_at=clock.now(), detail={}))
    db.session.commit()
    second = page()
    assert re.search(r'id="system-check-step">abgeschlossen<', second)
    assert re.search(r'id="identity-step">noch offen<', second)
    assert "Identitätsprüfung" in re.search(r'<p id="start-blocked">([^<]*)</p>', second).group(1)
    refused = client.post(f"/candidate/exams/{exam.id}/start", headers=DE)
    assert refused.status_code == 409 and 'id="start-error"' in refused.get_data(as_text=True)
    assert 'id="start-blocked"' not in refused.get_data(as_text=True)  # said once, as the refusal


def test_an_exam_not_enrolled_in_says_so_in_words(app, client, make_institution, make_user, make_exam):
    """Issue 30: a candidate following a link to an exam of their institution that they are not enrolled in got a
    bare 404 ("Not found."); the page says why and whom to ask. Another institution's exam stays plain not found."""
    inst = make_institution("Sprachschule Nord")
    mine = make_exam(institution=inst, enrol_all=False)
    theirs = make_exam(institution=make_institution())
    login(client, make_user("candidate", inst))
    resp = client.get(f"/candidate/exams/{mine.id}", headers=DE)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "nicht angemeldet" in page and "Sprachschule Nord" in page
    other = client.get(f"/candidate/exams/{theirs.id}", headers=DE)
    body = other.get_data(as_text=True)
    assert other.status_code == 404 and "nicht angemeldet" not in body and "Not found" not in body
    assert "Diese Seite existiert nicht, oder sie ist nicht für Sie bestimmt." in body
