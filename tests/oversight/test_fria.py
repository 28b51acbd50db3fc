"""The fundamental-rights impact assessment (Art. 27): prefilled from the exam's settings, exported per language."""

from __future__ import annotations

from oversight.fria import detectors_in_use
from tests.conftest import login


def test_the_template_names_the_detectors_the_exams_settings_run(app, make_exam):
    proctored = make_exam(identity_check_required=True, proctoring_required=True)
    assert {d.key for d in detectors_in_use(proctored)} == {
        "face_presence", "face_count", "face_match_live", "voice", "browser_signals", "face_match_idcheck", "liveness"}
    scanned = make_exam(identity_check_required=False, proctoring_required=True, room_scan_required=True)
    assert "room_scan" in {d.key for d in detectors_in_use(scanned)}
    unproctored = make_exam(identity_check_required=True, proctoring_required=False)
    assert {d.key for d in detectors_in_use(unproctored)} == {"face_match_idcheck", "liveness"}


def test_the_office_exports_it_prefilled_in_german_and_english(app, client, make_exam, make_user):
    exam = make_exam(title="Baurecht", identity_check_required=False, proctoring_required=True, screen_capture=True)
    login(client, make_user("staff", exam.institution))
    de = client.get(f"/staff/oversight/exams/{exam.id}/impact-assessment.de.md")
    assert de.status_code == 200 and "attachment" in de.headers["Content-Disposition"]
    text = de.get_data(as_text=True)
    assert "Grundrechte-Folgenabschätzung" in text and "Baurecht" in text
    assert "Sprache: kann nicht erkennen" in text and "Andere Person" not in text  # no identity template to match
    assert "Bildschirmaufnahme: ja" in text and "183 Tage" in text
    assert "von der Einrichtung auszufüllen" in text
    en = client.get(f"/staff/oversight/exams/{exam.id}/impact-assessment.en.md").get_data(as_text=True)
    assert "Fundamental-rights impact assessment" in en and "Screen recording: yes" in en


def test_another_institution_gets_nothing(app, client, make_exam, make_user, make_institution):
    exam = make_exam()
    login(client, make_user("staff", make_institution("Anderswo")))
    assert client.get(f"/staff/oversight/exams/{exam.id}/impact-assessment.de.md").status_code == 404

