"""QTI exchange for the exam office: upload a package (all or nothing, every refused item named), download one,
the CLI; each institution sees only its own exams."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import func, select

from exams.attempts import exam_spec
from exams.models import Exam, ItemImage
from kernel.db import db
from qti.reader import read_package
from qti.writer import export_package
from tests.conftest import login
from tests.qti.samples import exam, media


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _broken(package: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "items/order.xml":
                data = data.replace(b"qti-order-interaction", b"qti-slider-interaction")
            target.writestr(name, data)
    return out.getvalue()


def test_import_then_export_over_http(client, make_user) -> None:
    staff = make_user("staff")
    login(client, staff)
    assert b'id="import-qti"' in client.get("/staff/exams/new").data
    package = export_package(exam(), media()).package
    resp = client.post("/staff/exams/import-qti", data={"package": (io.BytesIO(package), "exam.zip")})
    assert resp.status_code == 302
    imported = db.session.scalars(select(Exam)).one()
    assert imported.title == "Deutsch A2 – QTI" and imported.institution_id == staff.institution_id
    spec = exam_spec(imported)
    assert [q.id for q in spec.questions] == [q.id for q in exam().questions]
    image = db.session.scalars(select(ItemImage)).one()
    assert spec.question("spot").image == image.public_id
    assert client.get(f"/staff/item-images/{image.public_id}").data == media()["img_0123456789abcdef"].data
    page = client.get(f"/staff/exams/{imported.id}")
    assert b'id="export-qti"' in page.data
    out = client.get(f"/staff/exams/{imported.id}/export.qti.zip")
    assert out.status_code == 200 and out.mimetype == "application/zip"
    again = read_package(out.data)
    assert again.problems == [] and len(again.questions) == len(spec.questions)


def test_a_package_with_one_bad_item_imports_nothing_and_names_it(client, make_user) -> None:
    login(client, make_user("staff"))
    package = _broken(export_package(exam(), media()).package)
    resp = client.post("/staff/exams/import-qti", data={"package": (io.BytesIO(package), "exam.zip")})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "items/order.xml" in page and "slider interaction" in page
    assert _count(Exam) == 0 and _count(ItemImage) == 0  # the good items and the image did not come in either


def test_another_institution_cannot_export_and_candidates_cannot_import(client, make_user, make_exam) -> None:
    other = make_exam()
    login(client, make_user("staff"))
    assert client.get(f"/staff/exams/{other.id}/export.qti.zip").status_code == 404
    client.post("/logout")
    login(client, make_user("candidate"))
    assert client.get("/staff/exams/import-qti").status_code in (302, 403, 404)


def test_cli_import_and_export(app, runner, make_institution, tmp_path) -> None:
    inst = make_institution()
    path = tmp_path / "exam.zip"
    path.write_bytes(_broken(export_package(exam(), media()).package))
    result = runner.invoke(args=["qti", "import", str(path), "--institution", inst.slug])
    assert result.exit_code == 1 and "items/order.xml" in result.output and "nothing imported" in result.output
    assert _count(Exam) == 0
    path.write_bytes(export_package(exam(), media()).package)
    result = runner.invoke(args=["qti", "import", str(path), "--institution", inst.slug])
    assert result.exit_code == 0, result.output
    exam_id = db.session.scalars(select(Exam.id)).one()
    target = tmp_path / "out.zip"
    result = runner.invoke(args=["qti", "export", str(exam_id), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert read_package(target.read_bytes()).problems == []
