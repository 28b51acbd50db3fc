"""Media in items over HTTP: audio and video stored encrypted and typed by content, served with ranges to the
candidate of the running attempt only (and to staff), and a play limit the server keeps: tickets per play, a
byte budget per ticket, a newer play ending the older one, two racing requests for the last play getting one."""

from __future__ import annotations

import datetime as dt
import io
import math
import threading
import wave

import pytest
from sqlalchemy import func, select

from exams import stimuli
from exams.models import Attempt, Exam, ItemImage, ItemMedia, MediaPlay
from kernel.clock import utcnow
from kernel.db import db
from storage.models import Blob
from tests.conftest import login, start_exam
from tests.exams.test_itemtypes_http import png


def wav(seconds: float = 0.6, rate: int = 8000) -> bytes:
    """A short 440 Hz tone as a WAV file, made here (8 kHz, 8 bit, mono)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(bytes(128 + int(60 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(rate * seconds))))
    return out.getvalue()


def listening_items(media_id: str, image_id: str | None = None) -> list[dict]:
    """A listening item heard at most twice, an item with the same audio unlimited, and one with an image."""
    items = [
        {"id": "listen", "type": "single_choice", "prompt": "Wohin fährt der Zug?",
         "media": {"id": media_id, "alt": "Durchsage am Bahnhof (Ton)", "transcript": "Der Zug fährt nach Köln.",
                   "plays": 2},
         "options": [{"id": "k", "text": "Köln", "correct": True}, {"id": "b", "text": "Bonn"}]},
        {"id": "free", "type": "free_text", "prompt": "Was hören Sie?",
         "media": {"id": media_id, "alt": "Ein Ton"}},
    ]
    if image_id:
        items.append({"id": "pic", "type": "short_text", "prompt": "Was sehen Sie?", "accepted": ["Karte"],
                      "media": {"id": image_id, "alt": "Eine Karte mit einem blauen Bahnhof"}})
    return items


@pytest.fixture
def office(client, make_institution, make_user, make_exam):
    inst = make_institution()
    staff = make_user("staff", inst)
    login(client, staff)
    resp = client.post("/staff/item-media", data={"media": (io.BytesIO(wav()), "durchsage.mp3"),
                                                   "back": "/staff/exams/new"})
    assert resp.status_code == 302
    media = db.session.scalars(select(ItemMedia)).one()
    assert media.content_type == "audio/wav" and media.size == len(wav())  # by content, not by the name
    blob = db.session.get(Blob, media.blob_id)
    assert blob.category == "item_media" and blob.wrapped_key  # stored encrypted like every file
    client.post("/staff/item-images", data={"image": (io.BytesIO(png()), "karte.png")})
    image = db.session.scalars(select(ItemImage)).one()
    page = client.get("/staff/exams/new").get_data(as_text=True)  # shows (and so clears) the stored ids
    assert f"media: {{id: {media.public_id}" in page and 'id="item-media-file"' in page
    client.post("/logout")
    exam = make_exam(institution=inst, questions=listening_items(media.public_id, image.public_id),
                     identity_check_required=False, proctoring_required=False)
    return type("Office", (), {"inst": inst, "staff": staff, "media": media, "image": image, "exam": exam,
                               "candidate": make_user("candidate", inst)})


def test_sniffing_decides_the_type():
    assert stimuli.sniff_media(wav()) == "audio/wav"
    assert stimuli.sniff_media(b"OggS\0\2" + b"\0" * 20 + b"OpusHead\1\1") == "audio/ogg"
    assert stimuli.sniff_media(b"OggS\0\2" + b"\0" * 20 + b"\x80theora") is None  # Ogg video: not taken
    assert stimuli.sniff_media(b"ID3\4\0\0\0\0\0\0") == "audio/mpeg"
    assert stimuli.sniff_media(b"\xff\xfb\x90\x64" + b"\0" * 10) == "audio/mpeg"
    assert stimuli.sniff_media(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm") == "video/webm"
    assert stimuli.sniff_media(b"\0\0\0\x20ftypisom\0\0\2\0") == "video/mp4"
    assert stimuli.sniff_media(b"\0\0\0\x20ftypM4A \0\0\2\0") == "audio/mp4"
    assert stimuli.sniff_media(png()) is None
    assert stimuli.sniff_media(b"<html><script>alert(1)</script>") is None


def test_upload_refuses_what_is_not_audio_or_video(client, make_user):
    login(client, make_user("staff"))
    resp = client.post("/staff/item-media", data={"media": (io.BytesIO(b"<svg onload=alert(1)>"), "a.mp3")},
                       headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "validation_failed"
    assert db.session.scalars(select(ItemMedia)).all() == []


def test_staff_hear_it_with_ranges_and_no_file_name(client, office, make_institution, make_user):
    login(client, office.staff)
    whole = client.get(f"/staff/item-media/{office.media.public_id}")
    assert whole.status_code == 200 and whole.data == wav()
    assert whole.headers["Content-Disposition"] == "inline"  # no file name: nothing offered to save
    assert "no-store" in whole.headers["Cache-Control"] and whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/staff/item-media/{office.media.public_id}", headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.data == wav()[10:110]
    assert part.headers["Content-Range"] == f"bytes 10-109/{len(wav())}"
    assert client.get(f"/staff/item-media/{office.media.public_id}",
                      headers={"Range": f"bytes={len(wav()) + 5}-"}).status_code == 416
    # The exam editor's preview shows the recording with its counter; the file page lists it.
    page = client.get(f"/staff/exams/{office.exam.id}/compose").get_data(as_text=True)
    assert office.media.public_id in page
    client.post("/logout")
    # Staff of another institution: as if it did not exist.
    login(client, make_user("staff", make_institution("Andere")))
    assert client.get(f"/staff/item-media/{office.media.public_id}").status_code == 404


def test_play_limit_kept_by_the_server(client, office):
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    base = f"/candidate/attempts/{attempt_id}/media/listen"
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    assert "Noch 2 von 2 Wiedergaben" in page and 'controlslist="nodownload"' in page
    assert "Der Zug fährt nach Köln" not in page  # the transcript is the office's
    assert office.media.public_id not in page  # the page names the attempt's item, never the file
    # Without a ticket a limited recording does not stream.
    refused = client.get(base, headers={"Accept": "application/json"})
    assert refused.status_code == 410 and refused.json["error"]["code"] == "play_ended"
    first = client.post(f"/api/attempts/{attempt_id}/media/listen/plays")
    assert first.status_code == 200 and (first.json["play"], first.json["plays"], first.json["left"]) == (1, 2, 1)
    url = first.json["url"]
    # Within one play the player may seek: ranges, then the whole file once more.
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == wav()[:100] and part.headers["Content-Disposition"] == "inline"
    assert client.get(url).data == wav()
    assert client.get(url).data == wav()  # a second whole copy still fits the play's budget
    # A third whole copy would be past the play's budget: replaying the ticket is refused.
    assert client.get(url, headers={"Accept": "application/json"}).status_code == 410
    assert "Noch 1 von 2 Wiedergaben" in client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    second = client.post(f"/api/attempts/{attempt_id}/media/listen/plays")
    assert second.json["left"] == 0 and second.json["url"] != url
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 410  # the older play is over
    assert client.get(second.json["url"], headers={"Range": "bytes=0-9"}).status_code == 206
    third = client.post(f"/api/attempts/{attempt_id}/media/listen/plays")
    assert third.status_code == 409 and third.json["error"]["code"] == "plays_used_up"
    assert "2" in third.json["error"]["message"]
    assert db.session.scalar(select(func.count(MediaPlay.id))) == 2
    # An unlimited recording and an image stream without a ticket, with ranges; they need no play.
    assert client.get(f"/candidate/attempts/{attempt_id}/media/free", headers={"Range": "bytes=0-3"}).data == b"RIFF"
    assert client.get(f"/candidate/attempts/{attempt_id}/media/pic").data == png()
    assert client.post(f"/api/attempts/{attempt_id}/media/free/plays").status_code == 404
    assert client.get(f"/candidate/attempts/{attempt_id}/media/nothing").status_code == 404


def test_a_ticket_ends_with_its_time_and_with_the_attempt(app, client, office):
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    url = client.post(f"/api/attempts/{attempt_id}/media/listen/plays").json["url"]
    ticket = url.split("play=")[1]
    attempt = db.session.get(Attempt, attempt_id)
    attempt.paused_at = utcnow()  # the supervision pauses the exam: no play is spent meanwhile
    db.session.commit()
    paused = client.post(f"/api/attempts/{attempt_id}/media/listen/plays")
    assert paused.status_code == 409 and paused.json["error"]["code"] == "attempt_paused"
    attempt.paused_at = None
    db.session.commit()
    later = utcnow() + dt.timedelta(seconds=stimuli.PLAY_SECONDS + 1)
    with app.test_request_context(), pytest.raises(stimuli.PlayEnded):
        stimuli.open_for_candidate(attempt, "listen", ticket, later)
    assert client.post(f"/api/attempts/{attempt_id}/submit").status_code == 200
    # After the submission nothing of the exam's media reaches the candidate: no play, no stream, no image.
    assert client.get(url).status_code == 404
    assert client.post(f"/api/attempts/{attempt_id}/media/listen/plays").status_code == 404
    assert client.get(f"/candidate/attempts/{attempt_id}/media/free").status_code == 404
    assert client.get(f"/candidate/attempts/{attempt_id}/media/pic").status_code == 404
    client.post("/logout")
    login(client, office.staff)  # the office still hears it after the exam
    assert client.get(f"/staff/item-media/{office.media.public_id}").data == wav()
    review = client.get(f"/staff/attempts/{attempt_id}").get_data(as_text=True)
    assert "Transkript: Der Zug fährt nach Köln." in review and "Abgespielt: 1 von 2 Wiedergaben." in review
    assert f'src="/staff/item-media/{office.media.public_id}"' in review


def test_another_candidate_gets_nothing(client, office, make_user):
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    url = client.post(f"/api/attempts/{attempt_id}/media/listen/plays").json["url"]
    client.post("/logout")
    other = make_user("candidate", office.inst)
    login(client, other)
    start_exam(client, office.exam.id)  # enrolled in the same exam: still not this attempt
    assert client.get(url).status_code == 404
    assert client.post(f"/api/attempts/{attempt_id}/media/listen/plays").status_code == 404
    assert client.get(f"/candidate/attempts/{attempt_id}/media/free").status_code == 404
    assert client.get(f"/staff/item-media/{office.media.public_id}").status_code == 403  # staff only


def test_two_requests_racing_for_the_last_play_get_one(app, client, office):
    login(client, office.candidate)
    attempt_id = start_exam(client, office.exam.id)
    assert client.post(f"/api/attempts/{attempt_id}/media/listen/plays").json["left"] == 1
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ask() -> None:
        with app.test_request_context():
            attempt = db.session.get(Attempt, attempt_id)
            barrier.wait()
            try:
                stimuli.grant_play(attempt, "listen", utcnow())
                outcomes.append("granted")
            except stimuli.PlaysUsedUp:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["granted", "refused"]
    numbers = db.session.scalars(select(MediaPlay.number).where(MediaPlay.attempt_id == attempt_id)).all()
    assert sorted(numbers) == [1, 2]


def test_exam_file_names_stored_media_only(client, office):
    login(client, office.staff)
    source = f"""title: Hören
duration_minutes: 30
window: {{opens_at: "2026-01-01T08:00:00+01:00", closes_at: "2036-01-01T08:00:00+01:00"}}
pass_mark_percent: 50
questions:
  - id: a
    type: free_text
    prompt: Hören Sie zu.
    media: {{id: Nichtgespeichert0123456789, alt: Ton}}
  - id: b
    type: free_text
    prompt: Sehen Sie hin.
    media: {{id: {office.image.public_id}, alt: Karte, plays: 2}}
"""
    resp = client.post("/staff/exams/new", data={"source": source, "format": "yaml"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "no image, audio or video Nichtgespeichert0123456789" in page
    assert "an image has no play limit" in page


def test_the_form_editor_sets_and_keeps_an_items_media(client, office):
    from tests.exams.test_editor import _full_form

    login(client, office.staff)
    form = _full_form()
    form.update({"q0-media_id": office.media.public_id, "q0-media_alt": "Durchsage", "q0-media_plays": "zwei",
                 "action": "preview"})
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    assert "Geben Sie an, wie oft es abgespielt werden darf (1 bis 20)" in page
    form["q0-media_plays"] = "2"
    page = client.post("/staff/exams/compose", data=form).get_data(as_text=True)
    preview = page[page.index('id="preview"'):]
    assert "Noch 2 von 2 Wiedergaben" in preview and f"/staff/item-media/{office.media.public_id}" not in preview
    form["action"] = "save"
    assert client.post("/staff/exams/compose", data=form).status_code == 302
    exam = db.session.scalars(select(Exam).order_by(Exam.id.desc())).first()
    assert exam.questions[0]["media"] == {"id": office.media.public_id, "alt": "Durchsage", "plays": 2}
    edit = client.get(f"/staff/exams/{exam.id}/compose").get_data(as_text=True)
    assert f'<option value="{office.media.public_id}" selected>' in edit and 'value="Durchsage"' in edit
    # A media id of no stored file is refused at saving, nothing saved.
    form.update({"q0-media_id": "Nichtgespeichert0123456789", "title": "Zweite"})
    assert client.post("/staff/exams/compose", data=form).status_code == 400
    assert db.session.scalar(select(func.count(Exam.id)).where(Exam.title == "Zweite")) == 0


def test_a_pool_items_media_is_the_drawn_candidates_only(client, office, make_exam):
    """A listening item in a pool: the candidate who drew it sees and plays it; the other one, not drawn, is
    neither shown nor streamed nor granted a play (it would tell the pool's content)."""
    pool = [dict(item, id=f"listen{k}", topic="hoeren") for k, item in enumerate(listening_items(
        office.media.public_id)[:1] * 2)]
    exam = make_exam(institution=office.inst, questions=[], pool=pool, draws=[{"count": 1, "topic": "hoeren"}],
                     identity_check_required=False, proctoring_required=False)
    login(client, office.candidate)
    attempt_id = start_exam(client, exam.id)
    drawn = db.session.get(Attempt, attempt_id).layout["drawn"]
    (other,) = {"listen0", "listen1"} - set(drawn)
    page = client.get(f"/candidate/attempts/{attempt_id}").get_data(as_text=True)
    assert "Noch 2 von 2 Wiedergaben" in page  # the drawn item comes with its recording
    granted = client.post(f"/api/attempts/{attempt_id}/media/{drawn[0]}/plays")
    assert granted.status_code == 200 and client.get(granted.json["url"]).data == wav()
    assert client.post(f"/api/attempts/{attempt_id}/media/{other}/plays").status_code == 404
    assert client.get(f"/candidate/attempts/{attempt_id}/media/{other}").status_code == 404
