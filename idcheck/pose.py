"""Head pose in 3D from mediapipe's face mesh, and whether a movement is that of a real head.

mediapipe 0.10.21's face mesh (Apache-2.0, the model ships in the wheel) gives 468 landmarks per face
with a depth coordinate. The pose of a frame is found relative to a neutral frame: the neutral frame's
landmarks, lifted to 3D with their depth, are the face model, and ``cv2.solvePnP`` fits that model's
rotation to the frame's 2D landmarks. Turning a picture in its plane is a roll, not a turn.

Rigidity: a flat picture, or one bent round a cylinder, moves as a sheet: its landmarks follow a smooth
2D warp of the neutral ones (a homography, plus bends along one image axis). A head turning shows
parallax (the nose moves against the cheeks) that no such warp explains. ``parallax`` compares how well
both explanations fit (sheet error over head error): a picture scores 0.1-0.5, a head 0.8-2.7
(measured on the spoof set and the rendered 3D faces in bench/spoofs.py); see liveness.MIN_PARALLAX.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any

import cv2
import numpy as np

_local = threading.local()
MIN_FACE_CONFIDENCE = 0.5


@dataclasses.dataclass(frozen=True)
class Mesh:
    """One face's 468 landmarks: ``xy`` in pixels, ``z`` depth in pixels (negative: nearer the camera)."""

    xy: np.ndarray
    z: np.ndarray
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The landmarks' bounding box (top, right, bottom, left), clipped to the image."""
        x0, y0 = self.xy.min(axis=0)
        x1, y1 = self.xy.max(axis=0)
        return (max(int(y0), 0), min(int(x1), self.width), min(int(y1), self.height), max(int(x0), 0))

    @property
    def size(self) -> float:
        """Face size in pixels (distance of the outer eye corners), the unit of every residual."""
        return float(np.linalg.norm(self.xy[33] - self.xy[263]))


@dataclasses.dataclass(frozen=True)
class Pose:
    """Rotation of a frame's head against the neutral frame, in degrees.

    ``yaw`` > 0: turned to the person's left; ``pitch`` > 0: chin up; ``roll``: tilt in the image plane.
    """

    yaw: float
    pitch: float
    roll: float


def _face_mesh() -> Any:
    mesh = getattr(_local, "mesh", None)
    if mesh is None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        from mediapipe.python.solutions import face_mesh

        mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=2, refine_landmarks=False,
                                  min_detection_confidence=MIN_FACE_CONFIDENCE)
        _local.mesh = mesh
    return mesh


def meshes(image: np.ndarray) -> list[Mesh]:
    """The face meshes in an RGB image (at most two: two means a second person)."""
    h, w = image.shape[:2]
    result = _face_mesh().process(np.ascontiguousarray(image[:, :, :3]))
    out = []
    for face in result.multi_face_landmarks or []:
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float64)
        out.append(Mesh(pts[:, :2], pts[:, 2], w, h))
    return out


def _camera(width: int, height: int) -> np.ndarray:
    # A webcam's field of view is about 55-65 degrees across: focal length about the image width.
    return np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)


def _model(neutral: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """The neutral face lifted to 3D (camera coordinates; its pixels at depth = focal length)."""
    f = float(neutral.width)
    cx, cy = neutral.width / 2, neutral.height / 2
    depth = f + neutral.z
    pts = np.column_stack([(neutral.xy[:, 0] - cx) * depth / f, (neutral.xy[:, 1] - cy) * depth / f, depth])
    centre = pts.mean(axis=0)
    return pts - centre, centre


def _fit(neutral: Mesh, frame: Mesh, depth: float = 1.0) -> tuple[np.ndarray, float]:
    """Rotation matrix and RMS reprojection error (in face sizes) of the neutral model fitted to ``frame``."""
    obj, centre = _model(neutral)
    obj = obj * np.array([1.0, 1.0, depth])
    k = _camera(frame.width, frame.height)
    ok, rvec, tvec = cv2.solvePnP(obj, frame.xy.astype(np.float64), k, None, np.zeros(3), centre.copy(),
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return np.eye(3), float("inf")
    projected, _jac = cv2.projectPoints(obj, rvec, tvec, k, None)
    rms = float(np.sqrt(((projected.reshape(-1, 2) - frame.xy) ** 2).sum(axis=1).mean()))
    return cv2.Rodrigues(rvec)[0], rms / max(neutral.size, 1.0)


def pose(neutral: Mesh, frame: Mesh) -> Pose:
    """The head's rotation in ``frame`` against ``neutral`` (3D fit of the neutral face's landmarks)."""
    r, _err = _fit(neutral, frame)
    # Camera axes: x right, y down, z away from the camera. Turning to the person's left moves the nose
    # (nearer the camera) to the image's right: a negative rotation about y. Chin up: negative about x.
    yaw = -np.degrees(np.arctan2(r[0, 2], r[2, 2]))
    pitch = -np.degrees(np.arctan2(-r[1, 2], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return Pose(float(yaw), float(pitch), float(roll))


def _sheet_basis(xy: np.ndarray) -> np.ndarray:
    """Smooth warps a rigid picture can make: projective terms, and bends along either image axis."""
    u = (xy - xy.mean(axis=0)) / max(float(np.ptp(xy[:, 0])), 1.0)
    x, y = u[:, 0], u[:, 1]
    cols = [np.ones_like(x), x, y, x * x, x * y, y * y, x * x * y, x * y * y]
    cols += [x ** k for k in range(3, 7)] + [y ** k for k in range(3, 7)]
    return np.column_stack(cols)


def sheet_error(neutral: Mesh, frame: Mesh) -> float:
    """RMS error (in face sizes) of the best smooth picture warp from the neutral landmarks to ``frame``'s."""
    basis = _sheet_basis(neutral.xy)
    coef, *_ = np.linalg.lstsq(basis, frame.xy, rcond=None)
    residual = basis @ coef - frame.xy
    return float(np.sqrt((residual ** 2).sum(axis=1).mean())) / max(neutral.size, 1.0)


def head_error(neutral: Mesh, frame: Mesh) -> float:
    """RMS error (in face sizes) of the neutral face turned rigidly in 3D to ``frame``'s landmarks."""
    return _fit(neutral, frame)[1]


def parallax(neutral: Mesh, frame: Mesh) -> float:
    """How much better a turning head explains the frame than a moving picture: sheet error / head error."""
    return sheet_error(neutral, frame) / max(head_error(neutral, frame), 1e-4)
