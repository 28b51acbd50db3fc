"""Liveness attacks and a genuine stand-in, made from the test photos (tests and bench/liveness.py).

The genuine stand-in is a textured 3D face that really turns: mediapipe's face mesh of a photo (its
landmarks carry depth), triangulated, and rendered at the asked poses by perspective projection with
hidden triangles drawn over, under a fixed lamp (each part of the face is as much brighter or darker as
it turns towards or away from the light: Lambert's law with some ambient light). A flat photo warped in
any way is a spoof by definition; these are: a still photo with sensor noise, the photo tilted in its
plane, the photo turned about its vertical axis (a homography), the photo bent round a cylinder and
turned, and the photo warped smoothly in 2D so that its landmarks follow a turning head (a thin-plate
spline, or a piecewise-affine warp of the landmark triangles: what free face-animation tools make and a
virtual camera feeds to the browser).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from idcheck.liveness import Challenge, Frame, Step

FPS_MS = 300  # one analysed frame every 300 ms (about 3 per second)
PROMPT_MS = 2500  # each step's deadline after its prompt
LEAD_MS = 500  # neutral frames before the first prompt
MOVE_AT_MS = 600  # a genuine person starts turning this long after the prompt
SIZE = (640, 480)
# The stand-ins' lamp: in front of the face, a little above and to its right (the screen and a room light),
# with this share of ambient light.
LIGHT = np.array([-0.35, -0.45, -1.0]) / np.linalg.norm([-0.35, -0.45, -1.0])
AMBIENT = 0.35


def _fit_photo(photo: np.ndarray, face_height: int = 230) -> np.ndarray:
    """The photo scaled so that the face is about ``face_height`` px tall, centred in a 640x480 frame."""
    from idcheck.pose import meshes

    mesh = meshes(photo)[0]
    top, right, bottom, left = mesh.box
    s = face_height / max(bottom - top, 1)
    cx, cy = (left + right) / 2 * s, (top + bottom) / 2 * s
    m = np.array([[s, 0, SIZE[0] / 2 - cx], [0, s, SIZE[1] / 2 - cy]], dtype=np.float64)
    return cv2.warpAffine(photo, m, SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


@dataclasses.dataclass
class Head:
    """A textured 3D face: vertices (pixels, camera frame at depth = focal length), triangles, texture."""

    texture: np.ndarray
    uv: np.ndarray
    xyz: np.ndarray
    triangles: np.ndarray

    @classmethod
    def from_photo(cls, photo: np.ndarray) -> Head:
        """Lift the photo's face mesh to 3D, with a ring round it (hair, ears) set back behind the face."""
        from idcheck.pose import meshes

        frame = _fit_photo(photo)
        mesh = meshes(frame)[0]
        w, h = SIZE
        xy, z = mesh.xy, mesh.z
        centre = xy.mean(axis=0)
        hull = cv2.convexHull(xy.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        rings = [(centre + (hull - centre) * k, np.full(len(hull), z.max() + d * (mesh.size)))
                 for k, d in ((1.25, 0.3), (1.55, 0.6))]
        uv = np.vstack([xy] + [r[0] for r in rings])
        depth = np.concatenate([z] + [r[1] for r in rings])
        xyz = np.column_stack([uv[:, 0] - w / 2, uv[:, 1] - h / 2, w + depth])
        subdiv = cv2.Subdiv2D((-w, -h, 3 * w, 3 * h))
        for p in uv:
            subdiv.insert((float(p[0]), float(p[1])))
        tris = []
        lookup = {(round(p[0], 2), round(p[1], 2)): i for i, p in enumerate(uv)}
        for t in subdiv.getTriangleList():
            idx = [lookup.get((round(float(t[2 * j]), 2), round(float(t[2 * j + 1]), 2))) for j in range(3)]
            if None not in idx:
                tris.append(idx)
        return cls(frame, uv, xyz, np.array(tris, dtype=np.int64))

    def normals(self) -> np.ndarray:
        """Unit normals at the vertices (towards the camera), from the triangles round each."""
        n = np.zeros_like(self.xyz)
        p = self.xyz[self.triangles]
        face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        for k in range(3):
            np.add.at(n, self.triangles[:, k], face)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        return n * np.where(n[:, 2:3] > 0, -1.0, 1.0)

    def render(self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, lit: bool = True) -> np.ndarray:
        """The face turned by ``yaw`` (to the person's left), ``pitch`` (chin up), ``roll`` degrees, under the
        fixed lamp (``lit``: the photo's own light where the face looks straight, more or less as each part
        turns towards or away from the lamp; without it the light never changes, as in perfectly even light)."""
        a, b, c = np.radians([-yaw, -pitch, roll])
        ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
        rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
        turn = rz @ rx @ ry
        centre = self.xyz[:468].mean(axis=0)
        pts = (self.xyz - centre) @ turn.T + centre
        w, h = SIZE
        proj = np.column_stack([pts[:, 0] * w / pts[:, 2] + w / 2, pts[:, 1] * w / pts[:, 2] + h / 2])
        out = np.full((h, w, 3), 118, np.uint8)
        order = np.argsort(-pts[self.triangles].mean(axis=1)[:, 2])  # far first, near drawn over
        for i in order:
            tri = self.triangles[i]
            _warp_triangle(self.texture, out, self.uv[tri], proj[tri])
        if not lit or (yaw == pitch == roll == 0.0):
            return out
        n = self.normals()
        before = AMBIENT + (1 - AMBIENT) * np.clip(n @ LIGHT, 0, 1)
        after = AMBIENT + (1 - AMBIENT) * np.clip(n @ turn.T @ LIGHT, 0, 1)
        gain = np.clip(after / np.maximum(before, 1e-3), 0.4, 1.8)
        light = np.ones((h, w), np.float32)
        for i in order:  # the gain of each visible triangle, smoothed over the triangles' edges
            tri = self.triangles[i]
            cv2.fillConvexPoly(light, np.round(proj[tri] * 16).astype(np.int32), float(gain[tri].mean()),
                               cv2.LINE_8, 4)
        light = cv2.GaussianBlur(light, (0, 0), 3)
        return np.clip(out * light[..., None], 0, 255).astype(np.uint8)


def _warp_triangle(src: np.ndarray, dst: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    area_a = (a[1, 0] - a[0, 0]) * (a[2, 1] - a[0, 1]) - (a[2, 0] - a[0, 0]) * (a[1, 1] - a[0, 1])
    area_b = (b[1, 0] - b[0, 0]) * (b[2, 1] - b[0, 1]) - (b[2, 0] - b[0, 0]) * (b[1, 1] - b[0, 1])
    if area_a * area_b <= 0 or abs(area_b) < 0.5:
        return  # turned away from the camera (or edge-on)
    x0, y0 = np.floor(b.min(axis=0)).astype(int)
    x1, y1 = np.ceil(b.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, dst.shape[1]), min(y1, dst.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    m = cv2.getAffineTransform(a.astype(np.float32), (b - [x0, y0]).astype(np.float32))
    patch = cv2.warpAffine(src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round((b - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, 4)
    cv2.fillConvexPoly(mask, np.round((b - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    region = dst[y0:y1, x0:x1]
    region[mask > 0] = patch[mask > 0]


# --- flat pictures moved in front of a camera (each a spoof by definition) ---

_NOISE: list[np.ndarray] = []


def noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 4.0) -> np.ndarray:
    """Sensor noise on a frame (one of a few noise fields, shifted at random: cheap, never twice alike)."""
    if not _NOISE:
        _NOISE.extend(rng.normal(0, sigma, (SIZE[1] + 64, SIZE[0] + 64, 3)).astype(np.float32) for _i in range(3))
    h, w = image.shape[:2]
    dy, dx = rng.integers(0, 64, 2)
    field = _NOISE[int(rng.integers(0, len(_NOISE)))][dy:dy + h, dx:dx + w]
    return np.clip(image.astype(np.float32) + field, 0, 255).astype(np.uint8)


def tilt(image: np.ndarray, degrees: float) -> np.ndarray:
    """The picture rotated in its own plane about the face."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _project_sheet(image: np.ndarray, surface: Callable[[np.ndarray], np.ndarray],
                   yaw: float, pitch: float) -> np.ndarray:
    """The picture lying on a surface (depth as a function of its x), turned and seen by the camera.

    Ray casting: for each output pixel, the point where its ray meets the turned surface (bisection).
    """
    h, w = image.shape[:2]
    a, b = np.radians(-yaw), np.radians(-pitch)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    inv = (rx @ ry).T
    py, px = np.mgrid[0:h:2, 0:w:2].astype(np.float64)  # every second pixel, the map resized after
    rays = np.stack([(px - w / 2) / w, (py - h / 2) / w, np.ones_like(px)], axis=-1) @ inv.T
    eye = inv @ np.array([0.0, 0.0, -w])

    def gap(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = eye + rays * lam[..., None]
        return q, q[..., 2] - surface(q[..., 0])

    lo, hi = np.full(px.shape, 0.3 * w), np.full(px.shape, 2.5 * w)
    for _ in range(20):
        mid = (lo + hi) / 2
        _q, g = gap(mid)
        lo, hi = np.where(g < 0, mid, lo), np.where(g < 0, hi, mid)
    q, _g = gap((lo + hi) / 2)
    mapx = cv2.resize((q[..., 0] + w / 2).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    mapy = cv2.resize((q[..., 1] + h / 2).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.remap(image, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(118, 118, 118))


def turned_flat(image: np.ndarray, yaw: float, pitch: float = 0.0) -> np.ndarray:
    """A flat photo turned about its vertical (yaw) or horizontal (pitch) axis: one homography."""
    h, w = image.shape[:2]
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]])
    a, b = np.radians(-yaw), np.radians(-pitch)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    pts = corners @ (rx @ ry).T
    pts[:, 2] += w
    proj = np.column_stack([pts[:, 0] * w / pts[:, 2] + w / 2, pts[:, 1] * w / pts[:, 2] + h / 2])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, proj.astype(np.float32))
    return cv2.warpPerspective(image, m, (w, h), borderValue=(118, 118, 118))


def bent(image: np.ndarray, yaw: float, pitch: float = 0.0, radius: float = 0.45) -> np.ndarray:
    """The photo bent round a vertical cylinder (``radius`` in image widths) and turned."""
    w = image.shape[1]
    r = radius * w

    def cylinder(u: np.ndarray) -> np.ndarray:
        # the picture's middle nearest the camera, its sides bent away (beyond the radius: far away)
        return np.where(np.abs(u) < r, r - np.sqrt(np.maximum(r * r - u * u, 0.0)), 10.0 * w)

    return _project_sheet(image, cylinder, yaw, pitch)


def turned_landmarks(mesh: Any, yaw: float, pitch: float) -> np.ndarray:
    """Where ``mesh``'s landmarks would be if the head turned (its depth from the face mesh): the targets a
    face-animation tool moves a photo's landmarks to."""
    w, h = mesh.width, mesh.height
    xyz = np.column_stack([mesh.xy[:, 0] - w / 2, mesh.xy[:, 1] - h / 2, w + mesh.z])
    a, b = np.radians([-yaw, -pitch])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    centre = xyz.mean(axis=0)
    p = (xyz - centre) @ (rx @ ry).T + centre
    return np.column_stack([p[:, 0] * w / p[:, 2] + w / 2, p[:, 1] * w / p[:, 2] + h / 2])


def _border(w: int, h: int, n: int = 5) -> np.ndarray:
    """Points along the picture's edge that a warp keeps in place (the room behind stays still)."""
    xs, ys = np.linspace(0, w - 1, n), np.linspace(0, h - 1, n)
    return np.array([(x, 0) for x in xs] + [(x, h - 1) for x in xs]
                    + [(0, y) for y in ys[1:-1]] + [(w - 1, y) for y in ys[1:-1]], dtype=np.float64)


def tps_warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray, smoothing: float = 1e-3) -> np.ndarray:
    """``image`` warped by a thin-plate spline that takes the points ``src`` to ``dst`` (slightly smoothed)."""
    h, w = image.shape[:2]
    p, q = dst / w, src / w  # the map is found backwards, from the output to the image
    n = len(p)

    def kernel(d2: np.ndarray) -> np.ndarray:
        return np.where(d2 > 0, d2 * np.log(np.maximum(d2, 1e-20)), 0.0)

    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = kernel(((p[:, None] - p[None]) ** 2).sum(-1)) + smoothing * np.eye(n)
    system[:n, n], system[:n, n + 1:], system[n, :n], system[n + 1:, :n] = 1, p, 1, p.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = q
    coef = np.linalg.solve(system, rhs)
    step = 4  # the map on a coarse grid, resized (smooth anyway)
    gy, gx = np.mgrid[0:h + step:step, 0:w + step:step].astype(np.float64)
    grid = np.column_stack([gx.ravel(), gy.ravel()]) / w
    m = kernel(((grid[:, None] - p[None]) ** 2).sum(-1)) @ coef[:n] + coef[n] + grid @ coef[n + 1:]
    size = (gx.shape[1] * step, gx.shape[0] * step)
    mapx = cv2.resize((m[:, 0] * w).reshape(gx.shape).astype(np.float32), size)[:h, :w]
    mapy = cv2.resize((m[:, 1] * w).reshape(gx.shape).astype(np.float32), size)[:h, :w]
    return cv2.remap(image, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def piecewise_affine_warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``image`` warped triangle by triangle (the Delaunay triangles of ``src``) so that ``src`` goes to ``dst``."""
    from idcheck.warp import triangles

    h, w = image.shape[:2]
    out = image.copy()
    for tri in triangles(src, w, h):
        _warp_triangle(image, out, src[tri], dst[tri])
    return out


def warped(image: np.ndarray, yaw: float, pitch: float, kind: str) -> np.ndarray:
    """The still photo warped in 2D (``kind``: ``tps`` or ``affine``) so that its face landmarks sit where a
    head turned by ``yaw`` and ``pitch`` would show them; the picture's edge stays in place."""
    from idcheck.pose import meshes

    mesh = meshes(image)[0]
    h, w = image.shape[:2]
    border = _border(w, h)
    src = np.vstack([mesh.xy, border])
    dst = np.vstack([turned_landmarks(mesh, yaw, pitch), border])
    return (tps_warp if kind == "tps" else piecewise_affine_warp)(image, src, dst)


# --- sequences over a challenge ---

MOVES = {"left": (1.0, 0.0), "right": (-1.0, 0.0), "up": (0.0, 1.0), "down": (0.0, -1.0)}


def challenge_of(moves: Sequence[str], start_ms: int = LEAD_MS, deadline_ms: int = PROMPT_MS) -> Challenge:
    """Steps prompted one after another, each ``deadline_ms`` long."""
    return Challenge(tuple(Step(m, start_ms + i * deadline_ms, start_ms + (i + 1) * deadline_ms)
                           for i, m in enumerate(moves)))


def poses_for(challenge: Challenge, answer: Sequence[str] | None = None, angle: float = 25.0,
              delay_ms: int = MOVE_AT_MS, hold_ms: int = 1200) -> list[tuple[int, float, float]]:
    """(time, yaw, pitch) of a person who answers each prompt ``delay_ms`` after it, holds, and comes back."""
    answer = list(answer or [s.move for s in challenge.steps])
    end = challenge.steps[-1].deadline_ms
    out = []
    for t in range(0, end + 1, FPS_MS):
        yaw = pitch = 0.0
        for step, move in zip(challenge.steps, answer, strict=True):
            since = t - step.prompted_ms - delay_ms
            if 0 <= since <= hold_ms + 400:
                ramp = min(1.0, since / 400, (hold_ms + 400 - since) / 400 + 0.0)
                dy, dp = MOVES[move]
                yaw, pitch = dy * angle * max(ramp, 0.0), dp * angle * 0.8 * max(ramp, 0.0)
        out.append((t, yaw, pitch))
    return out


def sequence(poses: Sequence[tuple[int, float, float]], draw: Callable[[float, float], np.ndarray],
             rng: np.random.Generator | None = None) -> list[Frame]:
    """Frames drawn at the poses (cached per pose), with sensor noise if ``rng`` is given."""
    cache: dict[tuple[float, float], np.ndarray] = {}
    frames = []
    for t, yaw, pitch in poses:
        key = (float(round(yaw)), float(round(pitch)))
        if key not in cache:
            cache[key] = draw(*key)
        img = cache[key]
        frames.append(Frame(t, noisy(img, rng) if rng is not None else img))
    return frames


def load_photo(path: Any) -> np.ndarray:
    """An RGB photo from a file."""
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


# --- the spoof set: every attack must be refused, the genuine stand-in must pass ---

ASKED = ("left", "up", "right")
ATTACKS = ("still photo with sensor noise", "photo tilted 5-15 degrees each way",
           "flat photo turned (perspective)", "photo bent round a cylinder and turned",
           "moves answering every order in turn", "diagonal moves answering two steps at once",
           "another person's face mid-sequence", "correct moves outside their deadlines",
           "photo warped by a thin-plate spline on its landmarks",
           "photo warped piecewise-affinely on its landmark triangles")
# How far the warps turn the landmarks: enough that the pose reader sees each asked move clearly.
WARP_ANGLE = 30.0
GENUINE = "textured 3D face turning as asked"


class SpoofSet:
    """Sequences of frames for the challenge ``ASKED``, built from the photos in ``faces`` (cached)."""

    def __init__(self, faces: Any, seed: int = 7) -> None:
        self.faces = faces
        self.rng = np.random.default_rng(seed)
        self._heads: dict[str, Head] = {}
        self._flat: np.ndarray | None = None
        self._cases: dict[str, tuple[Challenge, list[Frame]]] = {}

    def head(self, name: str = "obama.jpg") -> Head:
        """The 3D stand-in made from one photo."""
        if name not in self._heads:
            self._heads[name] = Head.from_photo(load_photo(self.faces / name))
        return self._heads[name]

    @property
    def flat(self) -> np.ndarray:
        """The photo as a camera would see it held flat and straight."""
        if self._flat is None:
            self._flat = _fit_photo(load_photo(self.faces / "obama.jpg"))
        return self._flat

    def case(self, name: str) -> tuple[Challenge, list[Frame]]:
        """The challenge and frames of one case (an attack or ``GENUINE``), made once."""
        if name not in self._cases:
            self._cases[name] = self._make(name)
        return self._cases[name]

    def _make(self, name: str) -> tuple[Challenge, list[Frame]]:
        ch = challenge_of(ASKED)
        rng = self.rng
        genuine = self.head().render
        if name == GENUINE:
            return ch, sequence(poses_for(ch), genuine, rng)
        if name == "still photo with sensor noise":
            return ch, sequence(poses_for(ch, angle=0.0), lambda y, p: self.flat, rng)
        if name == "photo tilted 5-15 degrees each way":
            # the picture rocked in its plane, one way and the other, as each prompt comes
            angles = {"left": 12.0, "up": -15.0, "right": 5.0}
            poses = [(t, angles[m] * (1 if abs(y) + abs(p) > 0 else 0), 0.0)
                     for (t, y, p), m in zip(poses_for(ch), _current_moves(ch), strict=True)]
            return ch, sequence(poses, lambda y, p: tilt(self.flat, y), rng)
        if name == "flat photo turned (perspective)":
            return ch, sequence(poses_for(ch, angle=45.0), lambda y, p: turned_flat(self.flat, y, p), rng)
        if name == "photo bent round a cylinder and turned":
            return ch, sequence(poses_for(ch, angle=45.0), lambda y, p: bent(self.flat, y, p), rng)
        if name.startswith("photo warped"):
            kind = "tps" if "thin-plate" in name else "affine"
            return ch, sequence(poses_for(ch, angle=WARP_ANGLE), lambda y, p: warped(self.flat, y, p, kind), rng)
        if name == "moves answering every order in turn":
            # within each step: left, up, right, down in quick turns (whatever order is asked comes by)
            poses = []
            for t, _y, _p in poses_for(ch):
                phase = ((t - LEAD_MS) // FPS_MS) % 8 if t >= LEAD_MS + MOVE_AT_MS // 2 else -1
                dy, dp = MOVES[("right", "up", "left", "down")[phase // 2]] if phase >= 0 else (0.0, 0.0)
                poses.append((t, dy * 25.0 * (phase % 2), dp * 20.0 * (phase % 2)))
            return ch, sequence(poses, genuine, rng)
        if name == "diagonal moves answering two steps at once":
            # turned left and up at once, as far as a clear turn each way: one movement for two moves
            poses = [(t, abs(y) + abs(p), abs(y) + abs(p)) for t, y, p in poses_for(ch)]
            return ch, sequence(poses, genuine, rng)
        if name == "another person's face mid-sequence":
            other = self.head("biden.jpg").render
            frames = sequence(poses_for(ch), genuine, rng)
            swap = ch.steps[1].prompted_ms + MOVE_AT_MS // 2
            swapped = sequence([(f.t_ms, *_pose_at(poses_for(ch), f.t_ms)) for f in frames if f.t_ms >= swap],
                               other, rng)
            return ch, [f for f in frames if f.t_ms < swap] + swapped
        if name == "correct moves outside their deadlines":
            late = Challenge(tuple(Step(s.move, s.prompted_ms, s.prompted_ms + MOVE_AT_MS) for s in ch.steps))
            return late, sequence(poses_for(ch, delay_ms=MOVE_AT_MS + 300), genuine, rng)
        raise KeyError(name)


def _current_moves(ch: Challenge) -> list[str]:
    """For each time of ``poses_for(ch)``, the move of the step prompted last."""
    out = []
    for t, _y, _p in poses_for(ch):
        current = [s.move for s in ch.steps if s.prompted_ms <= t]
        out.append(current[-1] if current else ch.steps[0].move)
    return out


def _pose_at(poses: Sequence[tuple[int, float, float]], t_ms: int) -> tuple[float, float]:
    return next((y, p) for t, y, p in poses if t == t_ms)
