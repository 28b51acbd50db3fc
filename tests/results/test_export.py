"""The exam office's results file: released results only, points per item from the grading rules, CSV and XLSX
(read back with openpyxl), spreadsheet formulas never run, each download in the candidates' access log."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
from sqlalchemy import select

from exams.certificates import certificate_for_attempt
from kernel.db import db
from privacy.models import AccessLog
from results.export import released_results, safe_text
from tests.conftest import login

HEAD_DE = ["Prüfungsversuch", "Kandidat/in", "E-Mail", "Punkte", "Höchstpunktzahl", "Prozent", "Bestanden",
           "Identität festgestellt", "Durchsicht der Sitzung", "Zertifikat", "Freigegeben", "q1", "q2", "q3", "q4"]


def _csv(client, exam_id: int, lang: str = "de") -> list[list[str]]:
    if lang != "de":
        client.post("/language", data={"lang": lang})
    resp = client.get(f"/staff/exams/{exam_id}/results.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="results-exam-{exam_id}.csv"'
    text = resp.get_data().decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the file as UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";" if lang == "de" else ","))


def test_the_table_holds_released_results_with_points_per_item(app, office, released):
    table = released_results(office.exam)
    assert [r.attempt_id for r in table.rows] == [released.erika.id, released.max.id]
    assert table.unreleased == 1  # Hans's free text waits for points: his result is not in the file
    erika, maxi = table.rows
    assert (erika.candidate, erika.points, erika.max_points, erika.percent, erika.passed) == \
        ("Erika Mustermann", 9, 10, "90.00", True)
    assert erika.item_points == (2, 2, 1, 4)  # the grader's 4 for the free text
    assert maxi.item_points == (0, 0, 0, 0) and maxi.passed is False and maxi.certificate_id is None
    assert erika.identity_method == "person" and maxi.identity_method == "not_checked"
    assert erika.review == "not_reviewed"
    cert = certificate_for_attempt(released.erika)
    assert cert is not None and erika.certificate_id == cert.public_id


def test_the_office_downloads_csv_in_german(client, office, released):
    login(client, office.staff)
    page = client.get(f"/staff/exams/{office.exam.id}").get_data(as_text=True)
    assert 'id="results-csv">Ergebnisse (CSV)<' in page and 'id="results-xlsx">Ergebnisse (Excel)<' in page
    rows = _csv(client, office.exam.id)
    assert rows[0] == HEAD_DE
    cert = certificate_for_attempt(released.erika)
    erika = rows[1]
    assert erika[:11] == [str(released.erika.id), "Erika Mustermann", released.erika.user.email, "9", "10", "90,00",
                          "bestanden", "durch eine Person", "nicht geprüft", cert.public_id, erika[10]]
    assert erika[11:] == ["2", "2", "1", "4"]
    assert rows[2][6:10] == ["nicht bestanden", "keine Identitätsprüfung", "nicht geprüft", ""]
    assert len(rows) == 3  # Hans's held result is not in it


def test_english_csv_uses_commas_and_points(client, office, released):
    login(client, office.staff)
    rows = _csv(client, office.exam.id, lang="en")
    assert rows[0][:3] == ["Attempt", "Candidate", "Email"] and rows[1][5:7] == ["90.00", "passed"]


def test_the_xlsx_opens_with_openpyxl_and_holds_the_same(client, office, released):
    login(client, office.staff)
    resp = client.get(f"/staff/exams/{office.exam.id}/results.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    sheet = book["Ergebnisse"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == HEAD_DE
    assert rows[1][:7] == [released.erika.id, "Erika Mustermann", released.erika.user.email, 9, 10, 90, "bestanden"]
    assert rows[1][11:] == [2, 2, 1, 4] and rows[2][11:] == [0, 0, 0, 0]
    assert sheet.cell(row=2, column=11).is_date  # the release time is a date cell
    items = [[c.value for c in row] for row in book["Aufgaben"].iter_rows()]
    assert items[1:] == [[1, "q1", 2, "Hauptstadt?"], [2, "q2", 2, "Primzahlen?"], [3, "q3", 1, "Pi?"],
                         [4, "q4", 5, "Erklären Sie."]]


def test_formulas_in_names_stay_text(app, client, office, take):
    from exams.grading import release_all
    from kernel.clock import utcnow

    evil = ['=HYPERLINK("https://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]
    for first in evil:
        take({"q1": "a", "q2": ["p2", "p3"], "q3": "3.14"}, first_name=first, last_name="Böse")
    with app.test_request_context():
        release_all(office.staff, office.exam, utcnow())
    login(client, office.staff)
    rows = _csv(client, office.exam.id)
    assert sorted(r[1] for r in rows[1:]) == sorted(f"'{first} Böse" for first in evil)
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/staff/exams/{office.exam.id}/results.xlsx").data))
    cells = [row[1] for row in book.active.iter_rows(min_row=2)]
    assert sorted(c.value for c in cells) == sorted(f"{first} Böse" for first in evil)
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)  # text, never a formula
    assert safe_text("\tx") == "'\tx" and safe_text("\rx") == "'\rx" and safe_text("Erika") == "Erika"
    assert released_results(office.exam).rows[0].percent == "50.00" and Decimal("50.00") == Decimal(rows[1][5]
                                                                                                     .replace(",", "."))


def test_each_download_is_in_the_candidates_access_log(client, office, released):
    login(client, office.staff)
    client.get(f"/staff/exams/{office.exam.id}/results.csv")
    client.get(f"/staff/exams/{office.exam.id}/results.xlsx")
    logged = list(db.session.scalars(select(AccessLog).where(AccessLog.what == "results")))
    assert sorted(e.subject_id for e in logged) == sorted([released.erika.user_id, released.max.user_id] * 2)
    assert all(e.actor_id == office.staff.id and e.why == "results file downloaded by the exam office" for e in logged)
    assert released.hans.user_id not in {e.subject_id for e in logged}
    client.post("/logout")
    login(client, released.erika.user)
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "Prüfungsergebnis (Ergebnisdatei oder API)" in page
    assert "Ergebnisdatei von der Prüfungsstelle heruntergeladen" in page


def test_other_roles_and_tenants_get_no_file(client, office, released, make_user, make_institution):
    login(client, make_user("staff", make_institution("Andere Schule")))
    assert client.get(f"/staff/exams/{office.exam.id}/results.csv").status_code == 404
    client.post("/logout")
    login(client, released.erika.user)
    assert client.get(f"/staff/exams/{office.exam.id}/results.xlsx").status_code == 403
