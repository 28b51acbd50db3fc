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
