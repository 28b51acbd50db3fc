"""Synthetic ID documents, photographed: TD1 (ID card), TD2 and TD3 (passport photo page).

Deterministic for a seed. A document is rendered flat (OCR-B MRZ at the ICAO pitch of 2.54 mm, a
guilloche background, printed fields, a face from tests/data/faces in the photo area), then
"photographed": placed on a table, perspective, rotation, uneven light, glare, blur, sensor noise,
low light and JPEG. ``specimen_set`` gives the bench's and the tests' documents: the ICAO 9303 and
German specimens plus seeded random people with valid check digits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from idcheck.document import OCRB_FONT
from idcheck.mrz import check_digit as cd

FACES = Path(__file__).resolve().parent / "data" / "faces"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PX_PER_MM = 12.0
PITCH_MM = 2.54
SIZES_MM = {"TD1": (85.6, 53.98), "TD2": (105.0, 74.0), "TD3": (125.0, 88.0)}
CHARS = {"TD1": 30, "TD2": 36, "TD3": 44}
LINE_MM = 4.2  # distance of the MRZ lines' baselines

SURNAMES = ["MUSTERMANN", "MUELLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "WEBER", "MEYER", "WAGNER", "BECKER",
            "SCHULZ", "HOFFMANN", "KOCH", "RICHTER", "KLEIN", "WOLF", "SCHROEDER", "NEUMANN", "SCHWARZ",
            "ZIMMERMANN", "BRAUN", "KRUEGER", "HOFMANN", "HARTMANN", "LANGE", "YILMAZ", "KOWALSKI", "NGUYEN",
            "VON<DER<HEIDE", "OEZDEMIR", "PETERSEN"]
GIVEN = ["ERIKA", "MAX", "ANNA<MARIA", "JUERGEN", "LEA", "LUKAS", "SOPHIE", "FELIX", "EMMA", "JONAS", "MIA",
         "PAUL", "HANNAH", "ELIAS", "LINA", "NOAH", "MARIE<LUISE", "BEN", "KLARA", "KARL<HEINZ", "AYSE", "PIOTR"]
NUMBER_ALPHABET = "CFGHJKLMNPRTVWXYZ0123456789"


@dataclasses.dataclass(frozen=True)
class Person:
    """What the MRZ holds."""

    surname: str
    given_names: str
    number: str
    birth: str  # YYMMDD
    expiry: str
    nationality: str = "D"
    sex: str = "<"


def _field(value: str, length: int) -> str:
    return value.replace(" ", "<")[:length].ljust(length, "<")


def mrz_lines(fmt: str, p: Person, doc_type: str | None = None, state: str | None = None) -> list[str]:
    """The MRZ of a person in one format, every check digit valid."""
    state = state or p.nationality
    nat = _field(p.nationality, 3)
    names = f"{p.surname}<<{p.given_names}"
    num = _field(p.number, 9)
    if fmt == "TD1":
        l1 = _field(doc_type or "ID", 2) + _field(state, 3) + num + cd(num) + "<" * 15
        l2 = p.birth + cd(p.birth) + p.sex + p.expiry + cd(p.expiry) + nat + "<" * 11
        l2 += cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
        return [l1, l2, _field(names, 30)]
    if fmt == "TD2":
        l1 = _field(doc_type or "I", 2) + _field(state, 3) + _field(names, 31)
        l2 = num + cd(num) + nat + p.birth + cd(p.birth) + p.sex + p.expiry + cd(p.expiry) + "<" * 7
        return [l1, l2 + cd(l2[0:10] + l2[13:20] + l2[21:35])]
    l1 = _field(doc_type or "P", 2) + _field(state, 3) + _field(names, 39)
    opt = "<" * 14
    l2 = num + cd(num) + nat + p.birth + cd(p.birth) + p.sex + p.expiry + cd(p.expiry) + opt + cd(opt)
    return [l1, l2 + cd(l2[0:10] + l2[13:20] + l2[21:43])]


SPECIMENS: list[tuple[str, list[str]]] = [
    ("TD1", ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]),
    ("TD2", ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]),
    ("TD3", ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]),
    ("TD1", ["IDD<<T220001293<<<<<<<<<<<<<<<", "6408125<2010315D<<<<<<<<<<<<<4", "MUSTERMANN<<ERIKA<<<<<<<<<<<<<"]),
    ("TD3", ["P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<", "C01X00T478D<<6408125F2702283<<<<<<<<<<<<<<<4"]),
]


def random_person(rng: random.Random) -> Person:
    """A seeded random person with a German-style document number."""
    birth = dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(0, 18000))
    expiry = dt.date(2027, 6, 1) + dt.timedelta(days=rng.randrange(0, 3600))
    number = rng.choice("LMNPRTVWXYZ") + "".join(rng.choice(NUMBER_ALPHABET) for _ in range(8))
    return Person(rng.choice(SURNAMES), rng.choice(GIVEN), number, birth.strftime("%y%m%d"),
                  expiry.strftime("%y%m%d"), rng.choice(["D", "D", "D", "AUT", "FRA", "POL", "TUR"]),
                  rng.choice("MF<"))


# ------------------------------------------------------------------ rendering the flat document


def _font(size: float, path: str = str(OCRB_FONT)) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(6, round(size)))


def _background(rng: random.Random, w: int, h: int) -> np.ndarray:
    """Pastel paper with guilloche lines."""
    base = np.array([rng.randint(215, 245), rng.randint(215, 240), rng.randint(200, 240)], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.ones((h, w, 3), np.float32) * base
    img *= (1 - 0.06 * (xx / w))[..., None]
    f1, f2 = rng.uniform(0.01, 0.03), rng.uniform(0.02, 0.05)
    wave = np.sin(xx * f1 + 4 * np.sin(yy * f2)) * np.sin(yy * f1 * 1.3 + 3 * np.sin(xx * f2))
    tint = np.array([rng.uniform(-25, 0), rng.uniform(-20, 0), rng.uniform(-30, 0)], np.float32)
    img += (np.abs(wave) > 0.92)[..., None] * tint
    return np.clip(img, 0, 255).astype(np.uint8)


def _face(rng: random.Random, w: int, h: int, grey: bool, name: str | None = None) -> Image.Image:
    names = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "biden2.jpg"]
    img = Image.open(FACES / (name or rng.choice(names))).convert("L" if grey else "RGB").convert("RGB")
    scale = max(w / img.width, h / img.height)
    img = img.resize((round(img.width * scale) + 1, round(img.height * scale) + 1))
    left, top = (img.width - w) // 2, max(0, (img.height - h) // 4)
    return img.crop((left, top, left + w, top + h))


def render(fmt: str, lines: list[str], rng: random.Random, *, side: str = "mrz", face: str | None = None
           ) -> np.ndarray:
    """The flat document as RGB: for TD1 ``side`` "mrz" is the back, "photo" the front; TD2/TD3 have both."""
    wmm, hmm = SIZES_MM[fmt]
    s = PX_PER_MM
    w, h = round(wmm * s), round(hmm * s)
    img = Image.fromarray(_background(rng, w, h))
    draw = ImageDraw.Draw(img)
    ink = (rng.randint(10, 45),) * 3
    label, value = _font(1.6 * s, SANS), _font(2.6 * s, SANS)
    names = lines[-1] if fmt == "TD1" else lines[0][5:]
    surname, _, given = names.partition("<<")
    fields = [("Name / Surname", surname.replace("<", " ")),
              ("Vornamen / Given names", given.replace("<", " ").strip()),
              ("Geburtstag / Date of birth", "12.08.1990"), ("Staatsangehörigkeit / Nationality", "DEUTSCH")]
    if fmt != "TD1" or side == "photo":
        pw, ph = round(0.3 * wmm * s), round(0.3 * wmm * s * 1.28)
        img.paste(_face(rng, pw, ph, grey=fmt == "TD1", name=face), (round(4 * s), round(9 * s)))
        draw.text((round(4 * s), round(3 * s)), "BUNDESREPUBLIK DEUTSCHLAND" if fmt != "TD2" else "UTOPIA",
                  font=_font(3.2 * s, SANS), fill=ink)
        x0, y = round(4 * s) + pw + round(4 * s), round(9 * s)
        for lab, val in fields:
            draw.text((x0, y), lab, font=label, fill=(90, 90, 120))
            draw.text((x0, y + round(1.9 * s)), val, font=value, fill=ink)
            y += round(6.2 * s)
    if fmt == "TD1" and side == "photo":
        return np.asarray(img)
    if fmt == "TD1":
        draw.text((round(5 * s), round(4 * s)), "Anschrift / Address: HEIDESTRASSE 17, 51147 KÖLN",
                  font=_font(2.2 * s, SANS), fill=ink)
        draw.text((round(5 * s), round(9 * s)), "Augenfarbe / Eye colour: GRÜN   Größe / Height: 160 cm",
                  font=_font(2.2 * s, SANS), fill=ink)
    n = CHARS[fmt]
    pitch = PITCH_MM * s
    size = pitch / 0.723
    font = _font(size)
    left = (wmm * s - n * pitch) / 2
    bottom = hmm * s - 3.2 * s
    for i, line in enumerate(lines):
        baseline = bottom - (len(lines) - 1 - i) * LINE_MM * s
        top = baseline - 0.94 * size  # the font's baseline is at 0.94 em below the drawing origin
        for j, ch in enumerate(line):
            draw.text((left + j * pitch, top), ch, font=font, fill=ink)
    return np.asarray(img)


# ------------------------------------------------------------------ photographing it


@dataclasses.dataclass(frozen=True)
class Shot:
    """How the document is photographed (the defaults are a fair phone photo)."""

    width: int = 1600
    height: int = 1200
    fill: float = 0.72  # document width / frame width
    tilt: float = 0.05  # perspective: corner displacement, fraction of the document size
    rotation: float = 4.0  # degrees
    blur: float = 0.8  # gaussian sigma in frame pixels
    light: float = 1.0  # 1 = well lit, 0.3 = dim room
    glare: float = 0.0  # 0..1, brightness of the reflection
    glare_on_mrz: bool = False
    noise: float = 4.0
    jpeg: int = 85
    shift_down: float = 0.0  # fraction of the document height pushed below the frame (cut-off)


def photograph(doc: np.ndarray, shot: Shot, rng: random.Random) -> bytes:
    """The flat document photographed on a table, as JPEG bytes."""
    h, w = doc.shape[:2]
    fw, fh = shot.width, shot.height
    table = np.zeros((fh, fw, 3), np.float32)
    tone = np.array([rng.randint(60, 140), rng.randint(50, 110), rng.randint(30, 90)], np.float32)
    grain = cv2.GaussianBlur(np.random.default_rng(rng.randrange(1 << 30)).normal(0, 18, (fh, fw)).astype(np.float32),
                             (0, 0), 3)
    table[:] = tone
    table += grain[..., None]
    scale = shot.fill * fw / w
    dw, dh = w * scale, h * scale
    cx = fw / 2 + rng.uniform(-0.05, 0.05) * fw
    cy = fh / 2 + rng.uniform(-0.05, 0.05) * fh + shot.shift_down * dh
    a = np.deg2rad(rng.uniform(-shot.rotation, shot.rotation))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.array([[-dw / 2, -dh / 2], [dw / 2, -dh / 2], [dw / 2, dh / 2], [-dw / 2, dh / 2]])
    corners = corners @ rot.T + [cx, cy]
    corners += np.array([[rng.uniform(-1, 1) * shot.tilt * dw, rng.uniform(-1, 1) * shot.tilt * dh] for _ in range(4)])
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(src, np.float32(corners))
    warped = cv2.warpPerspective(doc.astype(np.float32), m, (fw, fh), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), m, (fw, fh), flags=cv2.INTER_LINEAR)[..., None]
    img = warped * mask + table * (1 - mask)
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    lx, ly = rng.uniform(0, fw), rng.uniform(0, fh)
    illum = 1.0 - 0.25 * np.hypot(xx - lx, yy - ly) / np.hypot(fw, fh)
    img *= (illum * shot.light)[..., None]
    if shot.glare > 0:
        if shot.glare_on_mrz:
            p = m @ np.array([w * rng.uniform(0.4, 0.6), h * 0.86, 1.0])
            gx, gy = p[0] / p[2], p[1] / p[2]
        else:
            gx, gy = rng.uniform(0.2, 0.8) * fw, rng.uniform(0.2, 0.8) * fh
        r = rng.uniform(0.08, 0.14) * fw
        spot = np.exp(-(((xx - gx) / (1.6 * r)) ** 2 + ((yy - gy) / r) ** 2))
        img += (spot * 320 * shot.glare)[..., None] * mask
    if shot.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), shot.blur)
    img += np.random.default_rng(rng.randrange(1 << 30)).normal(0, shot.noise, img.shape).astype(np.float32)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=shot.jpeg)
    return buf.getvalue()


def random_shot(rng: random.Random) -> Shot:
    """A realistic, sometimes poor, phone photo."""
    return Shot(fill=rng.uniform(0.55, 0.9), tilt=rng.uniform(0.0, 0.07), rotation=rng.uniform(0, 8),
                blur=rng.choice([0.5, 0.8, 1.2, 1.6, 2.0]), light=rng.choice([1.0, 0.9, 0.7, 0.5, 0.35]),
                glare=rng.choice([0.0, 0.0, 0.3, 0.6]), noise=rng.uniform(2, 8), jpeg=rng.randint(45, 90),
                width=rng.choice([1600, 1280, 2000]), height=0)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One photographed document and the MRZ it carries."""

    name: str
    fmt: str
    lines: list[str]
    image: bytes


def make(fmt: str, lines: list[str], seed: int, shot: Shot | None = None, side: str = "mrz",
         face: str | None = None) -> bytes:
    """Render and photograph one document (deterministic for the seed); ``face`` a file in tests/data/faces."""
    rng = random.Random(seed)
    doc = render(fmt, lines, rng, side=side, face=face)
    shot = shot or random_shot(rng)
    if shot.height == 0:
        shot = dataclasses.replace(shot, height=shot.width * 3 // 4)
    return photograph(doc, shot, rng)


def specimen_set(count: int = 60, seed: int = 9303) -> list[Sample]:
    """The specimens, then seeded random people in all three formats, each photographed differently."""
    rng = random.Random(seed)
    items: list[tuple[str, list[str]]] = list(SPECIMENS)
    formats = ["TD1", "TD3", "TD2"]
    while len(items) < count:
        fmt = formats[len(items) % 3]
        items.append((fmt, mrz_lines(fmt, random_person(rng))))
    return [Sample(f"{i:03d}-{fmt}", fmt, lines, make(fmt, lines, seed * 1000 + i)) for i, (fmt, lines) in
            enumerate(items[:count])]
