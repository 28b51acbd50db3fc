"""The camera label the page sends is the sender's choice: hostile labels are cleaned, bounded, or ignored."""

from __future__ import annotations

from idcheck.cameras import clean_label, virtual_camera, words


def test_labels_are_cleaned_and_bounded():
    assert clean_label("OBS\x00 Virtual\n\tCamera\u202e") == "OBS Virtual Camera"
    assert len(clean_label("ManyCam " + "x" * 5000) or "") == 200
    assert clean_label({"label": "OBS Virtual Camera"}) is None and virtual_camera(["ManyCam"]) is None
    assert clean_label("\x00\x01 ") is None


def test_markup_in_a_label_is_text_on_the_review_page(app):
    label = 'OBS Virtual Camera"><script>alert(1)</script>'
    with app.test_request_context(headers={"Accept-Language": "en"}):
        from flask import render_template_string

        page = render_template_string("<dd>{{ w }}</dd>", w=words(clean_label(label)))
    assert "<script>" not in page and "&lt;script&gt;" in page
