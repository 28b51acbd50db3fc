"""Whether a movement is only a 2D warp of the neutral frame: did the light on the face change?

A still photo warped smoothly in 2D (a thin-plate spline or a piecewise-affine warp driven by the face
landmarks, as free face-animation tools make, fed to the browser as a virtual camera) can move its
landmarks exactly as a turning head does, so the landmark tests (``pose.parallax``) pass it. Its pixels
give it away: a warp moves the neutral frame's pixels about but never changes their light, while a head
that turns under a fixed light turns each part of the face towards or away from it, so the far cheek
darkens and the near one brightens (turning up or down does the same from forehead to chin).

``light_change`` warps the neutral frame onto the frame by the best piecewise-affine map of the face
landmarks (the neutral landmarks' Delaunay triangles onto the frame's), so that whatever a smooth warp
explains is explained, and fits a plane to the log ratio of the two (blurred, inside the face): its slope
across the face is how much the light changed from one side to the other. A global change (the camera's
exposure) is the plane's offset and does not count; misplaced edges (landmark jitter) are small-scale and
the blur and the fit leave them out. Measured (bench/spoofs.py, 640x480, faces about 230 px tall, camera
noise, JPEG): warps of a photo (thin-plate spline, piecewise affine, flat or bent pictures, turns of
20-35 degrees) 0.01-0.13; the 3D stand-ins of five photos under a fixed lamp 0.50-0.90 turning sideways,
0.09-0.44 up or down; see liveness.MIN_LIGHT_CHANGE. The same stand-ins rendered without any light change
(a head in perfectly even light) give 0.01-0.24: such a head is not told from a warp and goes to a person.

Not measured here: what the neutral frame hid (far cheek and ear behind nose and jaw), which a real head
shows and our stand-ins, rendered from one frontal photo, hardly do. Calibrate on real recordings.
"""

from __future__ import annotations

import cv2
import numpy as np

from idcheck.pose import Mesh

SCALE = 0.5  # the work is done at half size (a 230 px face is plenty for a light gradient)
BLUR = 2.0  # Gaussian sigma at that size, in pixels
ERODE = 3  # pixels off the landmarks' outline (the outline itself slides along the face's edge)


def triangles(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Delaunay triangles (index triples) of points in an image of ``width`` x ``height``."""
    pts = np.asarray(xy, dtype=np.float32)
    subdiv = cv2.Subdiv2D((-width, -height, 3 * width, 3 * height))
    subdiv.insert(pts.tolist())
    corners = np.asarray(subdiv.getTriangleList(), dtype=np.float32).reshape(-1, 3, 2)
    # each corner is one of the points given, or one of the outer box's (those triangles are dropped)
    keys = pts[:, 0].astype(np.float64) * 1e5 + pts[:, 1]
    order = np.argsort(keys)
    found = np.searchsorted(keys[order], corners[..., 0].astype(np.float64) * 1e5 + corners[..., 1])
    found = np.minimum(found, len(keys) - 1)
    idx = order[found]
    exact = (np.abs(pts[idx] - corners) < 1e-3).all(axis=(1, 2))
    return idx[exact].astype(np.int64)


def _signed_area(p: np.ndarray) -> np.ndarray:
    return (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])


def _gray(image: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    if box is not None:
        x0, y0, x1, y1 = box
        image = image[y0:y1, x0:x1]
    gray = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA).astype(np.float32)


def warped_neutral(neutral_image: np.ndarray, neutral: Mesh, frame: Mesh, tris: np.ndarray | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The neutral frame (gray, half size) warped piecewise-affinely onto ``frame``'s landmarks, inside the
    frame's face: (warped, mask of the face's pixels, the face's box x0, y0, x1, y1 at full size).
    ``tris``: the neutral landmarks' ``triangles`` when the caller has them already."""
    if tris is None:
        tris = triangles(neutral.xy, neutral.width, neutral.height)
    src, dst = neutral.xy[tris] * SCALE, frame.xy[tris]
    x0, y0 = np.maximum(np.floor(dst.reshape(-1, 2).min(axis=0)).astype(int), 0)
    x1 = min(int(np.ceil(dst[..., 0].max())) + 1, frame.width)
    y1 = min(int(np.ceil(dst[..., 1].max())) + 1, frame.height)
    dst = (dst - [x0, y0]) * SCALE
    h, w = max(int((y1 - y0) * SCALE), 1), max(int((x1 - x0) * SCALE), 1)
    # triangles folded over (hidden behind the nose) or squashed flat are no part of the map
    ok = (_signed_area(src) * _signed_area(dst) > 0) & (np.abs(_signed_area(dst)) > 0.25)
    label = np.full((h, w), -1, np.int32)
    for k in np.nonzero(ok)[0]:
        cv2.fillConvexPoly(label, np.round(dst[k] * 16).astype(np.int32), int(k), cv2.LINE_8, 4)
    # each triangle's affine map from the frame back to the neutral frame: [x, y, 1] @ a = neutral x, y
    a = np.zeros((len(tris), 3, 2))
    corners = np.concatenate([dst[ok], np.ones((int(ok.sum()), 3, 1))], axis=2)
    a[ok] = np.linalg.solve(corners, src[ok])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lab = np.maximum(label, 0)
    mapx = (xx * a[lab, 0, 0] + yy * a[lab, 1, 0] + a[lab, 2, 0]).astype(np.float32)
    mapy = (xx * a[lab, 0, 1] + yy * a[lab, 1, 1] + a[lab, 2, 1]).astype(np.float32)
    warped = cv2.remap(_gray(neutral_image), mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.erode((label >= 0).astype(np.uint8), np.ones((2 * ERODE + 1, 2 * ERODE + 1), np.uint8)) > 0
    return warped, mask, (int(x0), int(y0), int(x1), int(y1))


def light_change(neutral_image: np.ndarray, neutral: Mesh, frame_image: np.ndarray, frame: Mesh,
                 tris: np.ndarray | None = None) -> float:
    """How much the light on the face changed from one side to the other between the neutral frame and
    ``frame``, beyond what the best piecewise-affine warp of the neutral frame explains (log ratio across the
    face: 0 for a warped picture; about 0.6 for a head turned 25 degrees sideways under a lamp)."""
    warped, mask, box = warped_neutral(neutral_image, neutral, frame, tris)
    actual = _gray(frame_image, box)
    h, w = min(actual.shape[0], warped.shape[0]), min(actual.shape[1], warped.shape[1])
    warped, actual, mask = warped[:h, :w], actual[:h, :w], mask[:h, :w]
    if mask.sum() < 100:
        return 0.0
    m = mask.astype(np.float32)
    weight = cv2.GaussianBlur(m, (0, 0), BLUR)
    inside = mask & (weight > 0.5)  # blurred values there come mostly from the face
    ratio = np.log((cv2.GaussianBlur(actual * m, (0, 0), BLUR) + 4.0)
                   / (cv2.GaussianBlur(warped * m, (0, 0), BLUR) + 4.0))[inside]
    yy, xx = np.nonzero(inside)
    design = np.column_stack([np.ones(len(xx)), (xx - xx.mean()) / w, (yy - yy.mean()) / h])
    coef, *_ = np.linalg.lstsq(design, ratio, rcond=None)
    return float(np.hypot(coef[1], coef[2]))
