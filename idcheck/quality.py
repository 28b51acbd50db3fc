"""Face detection and photo quality: exactly one face, large enough, sharp enough, well lit.

Detection runs on a copy scaled to at most ``DETECT_SIDE`` pixels (HOG, no upsampling; one
upsampling pass only if nothing was found on a small image), which is 5-10x faster than on the
full photo. A second box counts as a second person only if it is at least ``SECOND_FACE_RATIO``
of the main face's area: HOG also fires on badges, patches and the small ghost portrait that
many ID cards print.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from idcheck.images import UnusableImage

DETECT_SIDE = 640
SECOND_FACE_RATIO = 0.35
MIN_FACE_PX = 60
MIN_SHARPNESS = 30.0
MIN_BRIGHTNESS = 45.0
MAX_BRIGHTNESS = 225.0

MESSAGES = {
    "no_face": "No face found. Make sure your whole face is in the picture and well lit.",
    "two_faces": "Two faces found. Only you may be in the picture.",
    "face_too_small": "Face too small: hold the ID closer to the camera (or come closer).",
    "too_blurred": "Too blurred. Hold still and make sure the camera is focused.",
    "too_dark": "Too dark. Please turn on a light or move to a brighter place.",
    "too_bright": "Too bright. Please avoid direct light or reflections on the ID.",
}


@dataclasses.dataclass(frozen=True)
class Face:
    """The one usable face: its box in the original image (top, right, bottom, left) and measures."""

    box: tuple[int, int, int, int]
    sharpness: float
    brightness: float


def detect(image: np.ndarray, *, small_faces: bool = True) -> list[tuple[int, int, int, int]]:
    """Face boxes (top, right, bottom, left) in original coordinates, largest first.

    Tries a copy of at most ``DETECT_SIDE`` pixels first (fast); if no face is found there, a copy twice
    that size (when the image is larger), and finally, with ``small_faces``, one upsampling pass on small
    images (an ID card held to a webcam shows a small face). A webcam frame of a candidate at the screen
    needs neither: ``small_faces=False`` keeps an empty frame to the one fast pass.
    """
    from idcheck import faces

    h, w = image.shape[:2]
    passes = [(DETECT_SIDE, 0), (2 * DETECT_SIDE, 0)] + ([(DETECT_SIDE, 1)] if small_faces else [])
    tried: set[tuple[float, int]] = set()
    for side, upsample in passes:
        scale = min(1.0, side / max(h, w))
        if (scale, upsample) in tried:
            continue  # the image is no larger than the last pass's copy: the same pass again finds nothing
        if upsample and max(h, w) > 2 * DETECT_SIDE:
            break
        tried.add((scale, upsample))
        small = image if scale >= 1 else cv2.resize(image, (round(w * scale), round(h * scale)),
                                                    interpolation=cv2.INTER_AREA)
        boxes = faces.locations(small, upsample)
        if boxes:
            out = [(round(t / scale), round(r / scale), round(b / scale), round(lft / scale))
                   for t, r, b, lft in boxes]
            return sorted(out, key=lambda bx: (bx[2] - bx[0]) * (bx[1] - bx[3]), reverse=True)
    return []


def assess(image: np.ndarray) -> Face:
    """The single usable face of a photo, or UnusableImage with a specific reason."""
    boxes = detect(image)
    if not boxes:
        raise UnusableImage("no_face", MESSAGES["no_face"])
    main = boxes[0]
    area = (main[2] - main[0]) * (main[1] - main[3])
    if any((b[2] - b[0]) * (b[1] - b[3]) >= SECOND_FACE_RATIO * area for b in boxes[1:]):
        raise UnusableImage("two_faces", MESSAGES["two_faces"])
    top, right, bottom, left = main
    if bottom - top < MIN_FACE_PX:
        raise UnusableImage("face_too_small", MESSAGES["face_too_small"])
    crop = image[max(0, top):bottom, max(0, left):right]
    gray = cv2.cvtColor(cv2.resize(crop, (160, 160), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    brightness = float(gray.mean())
    if brightness < MIN_BRIGHTNESS:
        raise UnusableImage("too_dark", MESSAGES["too_dark"])
    if brightness > MAX_BRIGHTNESS:
        raise UnusableImage("too_bright", MESSAGES["too_bright"])
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    if sharpness < MIN_SHARPNESS:
        raise UnusableImage("too_blurred", MESSAGES["too_blurred"])
    return Face(main, sharpness, brightness)
