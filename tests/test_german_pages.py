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
