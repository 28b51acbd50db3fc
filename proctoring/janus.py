"""Janus as the media plane (``MEDIA_PLANE = "janus"``): the browser's WebRTC ends in Janus, we record.

Janus (Debian package ``janus``) terminates ICE, DTLS and SRTP, reorders nothing and forwards each published
stream's RTP (its RTP forwarder) to loopback ports of a recorder process of ours: ``gst-launch-1.0`` with
GStreamer's jitter buffer, VP8/Opus depayloaders and WebM muxer, all per-packet work in C. The muxed WebM comes
back on a pipe; Python only counts its blocks, picks a keyframe a second for snapshots and face flags, and writes
the bytes into the same encrypted recording parts as the aiortc engine (``storage.vault``). Janus's own recorder
(plaintext ``.mjr`` files) is never switched on, and no plaintext media touches a disk: RTP travels on loopback,
WebM on a pipe.

Janus's API listens on loopback only, with an API secret; the VideoRoom plugin takes API-created rooms only
(its admin key), and RTP forwarders need that key too. The browser never talks to Janus's API: the web app
brokers the offer and the answer as it does for the aiortc engine (``JanusEngine`` has the engine's facade).

The candidate's screen (the offer's second video) is forwarded to ``ScreenRelay`` and recorded as the part's third
track while it sends. The proctor's live view is a VideoRoom subscriber of the session's publisher: Janus offers, the
proctor's browser answers, both through us (``watch``, ``watch_answer``). The oral call (and a proctor's "Talk"):
the examiner publishes into the same room, each side receives the other through a subscriber of its own
(``JanusEngine.join``, ``receive``).

The identity check's liveness capture has Janus forward the camera once more, for the capture's window only, to a
socket of ours (``proctoring.janus_capture``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3

from kernel.errors import Conflict
from proctoring.sdp import check_offer

if TYPE_CHECKING:
    from proctoring.janus_capture import TimedVp8

log = logging.getLogger(__name__)

JANUS = "/usr/bin/janus"
GST_LAUNCH = "/usr/bin/gst-launch-1.0"
_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
_LIB_ALTERNATIVES = (_LIB, Path("/usr/lib/aarch64-linux-gnu/janus"), Path("/usr/lib/janus"))
_KEEP_PLUGINS = {"libjanus_videoroom.so"}
_KEEP_TRANSPORTS = {"libjanus_http.so"}
# The shell a helper process (Janus, a recorder) runs under: it waits for its stdin, a pipe only the engine holds,
# to close (the engine ends the helper, or the engine died, even by kill -9), then signals the helper and waits.
_WATCH = 'sig=$1; shift; "$@" & pid=$!; cat >/dev/null; kill -"$sig" "$pid" 2>/dev/null; wait "$pid"'


def _watched(signal_name: str, command: list[str]) -> list[str]:
    """``command`` under the watching shell: ``signal_name`` (TERM, INT) once the engine lets go of its stdin."""
    return ["/bin/sh", "-c", _WATCH, "sh", signal_name, *command]


def _child(proc: subprocess.Popen[bytes] | None, name: str) -> int | None:
    """The process id of the watching shell's child called ``name``."""
    if proc is None:
        return None
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        return next(int(c) for c in children if Path(f"/proc/{c}/comm").read_text().strip() == name[:15])
    except (OSError, StopIteration, ValueError):
        return None


def _let_go(proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    """Close the watched helper's stdin (the shell signals it) and wait; kill it if it does not end."""
    assert proc.stdin is not None  # noqa: S101
    pid = _child(proc, name)
    with contextlib.suppress(OSError):
        proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait(5)



class JanusUnavailable(Conflict):
    """Janus or GStreamer is not installed, or Janus did not start."""

    status = 503
    code = "media_unavailable"


def available() -> bool:
    """Whether Janus and gst-launch are installed here."""
    return os.access(JANUS, os.X_OK) and os.access(GST_LAUNCH, os.X_OK) and _libdir() is not None


def _libdir() -> Path | None:
    return next((p for p in _LIB_ALTERNATIVES if (p / "plugins" / "libjanus_videoroom.so").exists()), None)


def free_udp_port() -> int:
    """A UDP port on loopback that is free now (the recorder binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bound(port: int) -> bool:
    """Whether some process listens on UDP ``port`` of loopback (a bind without SO_REUSEADDR is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# ---------------------------------------------------------------------------------------------- the Janus process


class JanusServer:
    """One Janus process, configured in a temporary folder: HTTP API on loopback with an API secret, VideoRoom only.

    ``host_addresses``: the addresses Janus offers to browsers (ICE ``ice_enforce_list``; None: every interface but
    loopback, which Janus leaves out). ``rtp_ports``: the UDP range for media, "20000-40000" style (None: any)."""

    def __init__(self, *, host_addresses: list[str] | None = None, rtp_ports: str | None = None,
                 nat_1_1: str | None = None) -> None:
        self.host_addresses = host_addresses
        self.rtp_ports = rtp_ports
        self.nat_1_1 = nat_1_1
        self.secret = secrets.token_urlsafe(24)
        self.admin_key = secrets.token_urlsafe(24)
        self.port = 0
        self.folder: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the Janus API."""
        return f"http://127.0.0.1:{self.port}/janus"

    def _configs(self, folder: str) -> dict[str, str]:
        lib = _libdir()
        if lib is None:
            raise JanusUnavailable("Janus is not installed (Debian package janus).")
        others = lambda sub, keep: ",".join(sorted(p.name for p in (lib / sub).glob("*.so")  # noqa: E731
                                                   if p.name not in keep))
        nat = []
        # Janus leaves loopback out of its candidates; on a host whose browsers are local (tests, benches) the
        # other interfaces are offered, which the browser reaches the same way.
        wanted = [a for a in (self.host_addresses or []) if not a.startswith("127.") and a != "::1"]
        if wanted:
            nat.append(f'ice_enforce_list = "{",".join(wanted)}"')
        if self.nat_1_1:
            nat.append(f'nat_1_1_mapping = "{self.nat_1_1}"')
        media = [f'rtp_port_range = "{self.rtp_ports}"'] if self.rtp_ports else []
        return {
            "janus.jcfg": "\n".join([
                "general: {",
                f'  configs_folder = "{folder}"',
                f'  plugins_folder = "{lib / "plugins"}"',
                f'  transports_folder = "{lib / "transports"}"',
                f'  events_folder = "{lib / "events"}"',
                f'  loggers_folder = "{lib / "loggers"}"',
                "  debug_level = 3",
                f'  api_secret = "{self.secret}"',
                "  session_timeout = 60",
                "  hide_dependencies = true",
                "  server_name = \"aufsicht\"",
                "}",
                "certificates: {}",
                "media: {", *media, "}",
                "nat: {", *nat, "  ice_ignore_list = \"vmnet\"", "}",
                f'plugins: {{ disable = "{others("plugins", _KEEP_PLUGINS)}" }}',
                f'transports: {{ disable = "{others("transports", _KEEP_TRANSPORTS)}" }}',
                "loggers: { disable = \"libjanus_jsonlog.so\" }",
                "events: { broadcast = false }",
            ]) + "\n",
            "janus.transport.http.jcfg": "\n".join([
                "general: {", "  json = \"compact\"", "  base_path = \"/janus\"", "  http = true",
                f"  port = {self.port}", "  ip = \"127.0.0.1\"", "  https = false", "}",
                "admin: { admin_http = false admin_https = false }",
                "cors: {}",
            ]) + "\n",
            # No static rooms: each media session's room is created through the API with the admin key; Janus's
            # recorder stays off (lock_record), RTP forwarders need the admin key.
            "janus.plugin.videoroom.jcfg": "\n".join([
                "general: {", f'  admin_key = "{self.admin_key}"', "  lock_rtp_forward = true",
                "  string_ids = true", "}",
            ]) + "\n",
        }

    def start(self, timeout: float = 15.0) -> None:
        """Write the configuration, start Janus and wait until its API answers."""
        if not available():
            raise JanusUnavailable("Janus or GStreamer is not installed (Debian packages janus, gstreamer1.0-*).")
        self.folder = tempfile.mkdtemp(prefix="janus-")
        self.port = _free_tcp_port()
        for name, text in self._configs(self.folder).items():
            path = Path(self.folder) / name
            path.write_text(text)
            path.chmod(0o600)  # the API secret and the admin key
        log_path = Path(self.folder) / "janus.log"
        # Janus goes with its engine: a shell between them waits for its stdin, a pipe only this process holds, to
        # close (stop(), or this process dying even by kill -9), then stops Janus.
        self.proc = subprocess.Popen(  # noqa: S603 - fixed binaries with our own arguments
            _watched("TERM", [JANUS, "-C", str(Path(self.folder) / "janus.jcfg"), "-F", self.folder,
                              "-L", str(log_path), "--disable-colors"]),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1.0, read=2.0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(urllib3.exceptions.HTTPError):
                if http.request("GET", self.url + "/info").status == 200:
                    return
            time.sleep(0.1)
        tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        self.stop()
        raise JanusUnavailable("Janus did not start: " + tail)

    def pid(self) -> int | None:
        """Janus's own process id (the watching shell's child)."""
        return _child(self.proc, "janus")

    def stop(self) -> None:
        """Stop Janus and remove its configuration."""
        if self.proc is not None and self.proc.poll() is None:
            _let_go(self.proc, "janus", 10)
        self.proc = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


# ---------------------------------------------------------------------------------------------- the Janus API


class JanusError(Exception):
    """Janus answered with an error."""


class JanusApi:
    """One Janus session over the HTTP API: requests, and a long-poll thread handing events to ``on_event``."""

    def __init__(self, url: str, secret: str, on_event: Callable[[dict[str, Any]], None]) -> None:
        self.url, self.secret, self.on_event = url, secret, on_event
        self.http = urllib3.PoolManager(maxsize=8, retries=False, timeout=urllib3.Timeout(connect=2.0, read=40.0))
        self.session: int | None = None
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._poller: threading.Thread | None = None

    def _post(self, path: str, body: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        body = {**body, "transaction": body.get("transaction") or uuid.uuid4().hex, "apisecret": self.secret}
        resp = self.http.request("POST", self.url + path, body=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, timeout=timeout)
        out: dict[str, Any] = json.loads(resp.data)
        if out.get("janus") == "error":
            raise JanusError(out.get("error", {}).get("reason", "error"))
        return out

    def open(self) -> None:
        """Create the Janus session and start polling its events."""
        self.session = int(self._post("", {"janus": "create"})["data"]["id"])
        self._poller = threading.Thread(target=self._poll, name="janus-events", daemon=True)
        self._poller.start()

    def close(self) -> None:
        """Destroy the session."""
        self._closed.set()
        if self.session is not None:
            with contextlib.suppress(Exception):
                self._post(f"/{self.session}", {"janus": "destroy"}, timeout=3)

    def attach(self, plugin: str = "janus.plugin.videoroom") -> int:
        """A new handle on ``plugin``."""
        return int(self._post(f"/{self.session}", {"janus": "attach", "plugin": plugin})["data"]["id"])

    def detach(self, handle: int) -> None:
        """Drop a handle (its PeerConnection goes with it)."""
        with contextlib.suppress(Exception):
            self._post(f"/{self.session}/{handle}", {"janus": "detach"}, timeout=5)

    def request(self, handle: int, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request; returns the plugin's data (JanusError on a plugin error)."""
        out = self._post(f"/{self.session}/{handle}", {"janus": "message", "body": body})
        data: dict[str, Any] = out.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(str(data["error"]))
        return data

    def ask(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None,
            timeout: float = 15.0) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """An asynchronous plugin request: waits for its event; returns (plugin data, jsep)."""
        transaction = uuid.uuid4().hex
        done: tuple[threading.Event, list[dict[str, Any]]] = (threading.Event(), [])
        with self._lock:
            self._waiting[transaction] = done
        try:
            msg: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
            if jsep is not None:
                msg["jsep"] = jsep
            self._post(f"/{self.session}/{handle}", msg)
            if not done[0].wait(timeout):
                raise JanusError("no answer from Janus")
        finally:
            with self._lock:
                self._waiting.pop(transaction, None)
        event = done[1][0]
        data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(str(data["error"]))
        return data, event.get("jsep")

    def _poll(self) -> None:
        while not self._closed.is_set():
            try:
                resp = self.http.request("GET", f"{self.url}/{self.session}",
                                         fields={"apisecret": self.secret, "maxev": "20"})
                got = json.loads(resp.data)
            except Exception:  # Janus restarting or gone: try again shortly (stop() ends the loop)
                if self._closed.wait(0.5):
                    return
                continue
            for event in got if isinstance(got, list) else [got]:
                transaction = event.get("transaction")
                with self._lock:
                    waiting = self._waiting.get(transaction) if transaction else None
                if waiting is not None and event.get("janus") == "event":
                    waiting[1].append(event)
                    waiting[0].set()
                elif event.get("janus") not in ("keepalive", "ack"):
                    try:
                        self.on_event(event)
                    except Exception:
                        log.exception("Janus event %s", event.get("janus"))


# ---------------------------------------------------------------------------------------------- the recorder


_SEGMENT, _CLUSTER, _TRACKS, _TRACK_ENTRY = 0x18538067, 0x1F43B675, 0x1654AE6B, 0xAE
_MASTERS = {_SEGMENT, _CLUSTER, _TRACKS, _TRACK_ENTRY}
_TRACK_NUMBER, _TRACK_TYPE, _SIMPLE_BLOCK = 0xD7, 0x83, 0xA3


def _vint(buf: bytearray, pos: int, keep_marker: bool) -> tuple[int, int] | None:
    """(value, length) of the EBML variable-size integer at ``pos``; None if incomplete; value -1: unknown size."""
    if pos >= len(buf):
        return None
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("not EBML")
    if pos + length > len(buf):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[pos + 1:pos + length]:
        value = value << 8 | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = -1
    return value, length


class WebmBlocks:
    """Reads the muxer's WebM stream as it comes: counts each track's frames and hands on video keyframes (the
    first video track's to ``on_keyframe``, the second's, the candidate's screen, to ``on_screen_keyframe``).
    ``screen``: the part has a screen track; any other video after the camera (and the screen) is the examiner's.

    Only the elements on the way to a block are understood (Segment, Cluster, Tracks, TrackEntry, SimpleBlock);
    everything else is skipped by its size. About 80 blocks a second per stream: Python's share stays small."""

    def __init__(self, on_keyframe: Callable[[bytes], None] | None = None,
                 on_screen_keyframe: Callable[[bytes], None] | None = None, *, screen: bool = True) -> None:
        self.screen = screen  # the second video track is the screen (else it is the examiner's, as a third one is)
        self.examiner_frames = 0
        self.buf = bytearray()
        self.types: dict[int, int] = {}  # track number -> 1 video, 2 audio
        self._entry: dict[int, int] = {}
        self.video_frames = 0
        self.audio_frames = 0
        self.keyframes = 0
        self.screen_frames = 0
        self.on_keyframe = on_keyframe
        self.on_screen_keyframe = on_screen_keyframe

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the stream."""
        buf = self.buf
        buf += data
        pos = 0
        while True:
            eid = _vint(buf, pos, keep_marker=True)
            if eid is None:
                break
            size = _vint(buf, pos + eid[1], keep_marker=False)
            if size is None:
                break
            head = eid[1] + size[1]
            if eid[0] in _MASTERS:
                if eid[0] == _TRACK_ENTRY:
                    self._entry = {}
                pos += head
                continue
            if size[0] < 0 or pos + head + size[0] > len(buf):
                break
            if eid[0] == _SIMPLE_BLOCK:
                self._block(bytes(buf[pos + head:pos + head + size[0]]))
            elif eid[0] in (_TRACK_NUMBER, _TRACK_TYPE):
                self._entry[eid[0]] = int.from_bytes(buf[pos + head:pos + head + size[0]], "big")
                if len(self._entry) == 2:
                    self.types[self._entry[_TRACK_NUMBER]] = self._entry[_TRACK_TYPE]
            pos += head + size[0]
        del buf[:pos]

    def _block(self, block: bytes) -> None:
        track = _vint(bytearray(block[:8]), 0, keep_marker=False)
        if track is None or len(block) < track[1] + 3:
            return
        kind = self.types.get(track[0])
        videos = sorted(n for n, t in self.types.items() if t == 1)
        if kind == 1 and track[0] != videos[0] and not (self.screen and track[0] == videos[1]):
            self.examiner_frames += 1  # the oral call's examiner (after the camera and the screen)
        elif kind == 1 and track[0] != videos[0]:  # the second video: the screen
            self.screen_frames += 1
            if block[track[1] + 2] & 0x80 and self.on_screen_keyframe is not None:
                self.on_screen_keyframe(block[track[1] + 3:])
        elif kind == 1:
            self.video_frames += 1
            if block[track[1] + 2] & 0x80:
                self.keyframes += 1
                if self.on_keyframe is not None:
                    self.on_keyframe(block[track[1] + 3:])
        elif kind == 2 and track[0] != min(n for n, t in self.types.items() if t == 2):
            self.examiner_frames += 1  # the examiner's microphone
        elif kind == 2:
            self.audio_frames += 1


_PT = {"video": 96, "audio": 111}  # the payload types Janus's forwarders rewrite each stream to


def recorder_pipeline(video_port: int, audio_port: int, out_fd: int, screen_port: int | None = None,
                      examiner_ports: tuple[int, int] | None = None) -> list[str]:
    """The gst-launch-1.0 command line: RTP VP8 and Opus on two loopback ports -> WebM on ``out_fd``.

    ``screen_port``: the candidate's screen, VP8 on a third port, muxed as a second video track after the camera
    and the microphone (the order of aiortc's parts), with the tag TITLE=screen. ``examiner_ports``: the examiner's
    VP8 and Opus in an oral call (or a proctor's call), muxed last with the tags TITLE=examiner_video and
    TITLE=examiner_audio (aiortc's track names, ``proctoring.engine.ORAL_TRACKS``)."""
    # The payload types are the ones the forwarder writes (``_PT``): one per port, nothing for the jitter buffer to ask.
    rtp = "caps=application/x-rtp,media={},clock-rate={},encoding-name={},payload={}"
    line = [GST_LAUNCH, "-q", "-e",
            "webmmux", "name=mux", "streamable=true", "!", "fdsink", f"fd={out_fd}", "sync=false",
            "udpsrc", "address=127.0.0.1", f"port={video_port}", rtp.format("video", 90000, "VP8", _PT["video"]),
            "buffer-size=1048576", "!", "rtpjitterbuffer", "latency=300", "drop-on-latency=false", "!",
            "rtpvp8depay", "wait-for-keyframe=true", "!", "mux.video_0",
            "udpsrc", "address=127.0.0.1", f"port={audio_port}", rtp.format("audio", 48000, "OPUS", _PT["audio"]),
            "!", "rtpjitterbuffer", "latency=300", "!", "rtpopusdepay", "!", "opusparse", "!",
            "mux.audio_0"]
    if screen_port is not None:
        line += ["udpsrc", "address=127.0.0.1", f"port={screen_port}", rtp.format("video", 90000, "VP8", _PT["video"]),
                 "buffer-size=1048576", "!", "rtpjitterbuffer", "latency=300", "drop-on-latency=false", "!",
                 "rtpvp8depay", "wait-for-keyframe=true", "!", "taginject", "tags=title=screen", "!", "mux.video_1"]
    if examiner_ports is not None:  # the oral call: the examiner's camera and microphone after the candidate's
        video_pad = "mux.video_2" if screen_port is not None else "mux.video_1"
        line += ["udpsrc", "address=127.0.0.1", f"port={examiner_ports[0]}",
                 rtp.format("video", 90000, "VP8", _PT["video"]), "buffer-size=1048576", "!",
                 "rtpjitterbuffer", "latency=300", "drop-on-latency=false", "!", "rtpvp8depay",
                 "wait-for-keyframe=true", "!", "taginject", "tags=title=examiner_video", "!", video_pad,
                 "udpsrc", "address=127.0.0.1", f"port={examiner_ports[1]}",
                 rtp.format("audio", 48000, "OPUS", _PT["audio"]), "!", "rtpjitterbuffer", "latency=300", "!",
                 "rtpopusdepay", "!", "opusparse", "!", "taginject", "tags=title=examiner_audio", "!", "mux.audio_1"]
    return line


class ScreenRelay:
    """Where Janus forwards the candidate's screen: passes its RTP on to the recorder's screen port and tells
    ``on_flow`` when the screen starts sending (True) and when it has been silent ``SILENT`` seconds (False).

    GStreamer's WebM muxer (Debian's 1.22) writes only once every track has data up to a time, and a gap event does
    not wake it: a screen that sends nothing (not shared yet, the candidate stopped sharing) would hold the camera's
    recording back. So the engine records the screen only while it flows: a silent screen ends the part, the next
    part has camera and microphone; the screen coming back starts a part with it again."""

    SILENT = 3.0

    def __init__(self, on_flow: Callable[[bool], None]) -> None:
        self.on_flow = on_flow
        self.target: int | None = None  # the recorder's screen port (None: the part records no screen)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = int(self.sock.getsockname()[1])
        self.packets = 0
        self.flowing = True  # the first part expects the screen; silence from the start ends that part early
        self._last = time.monotonic()
        self._open = True
        self._thread = threading.Thread(target=self._run, name="janus-screen", daemon=True)

    def start(self) -> None:
        """Start relaying."""
        self._thread.start()

    def close(self) -> None:
        """Stop relaying."""
        self._open = False
        self._thread.join(2)
        self.sock.close()

    def _run(self) -> None:
        while self._open:
            try:
                packet = self.sock.recv(65536)
            except TimeoutError:
                packet = b""
            except OSError:
                return
            now = time.monotonic()
            if packet:
                self.packets += 1
                self._last = now
                target = self.target
                if target is not None:
                    with contextlib.suppress(OSError):
                        self.sock.sendto(packet, ("127.0.0.1", target))
                if not self.flowing:
                    self.flowing = True
                    self.on_flow(True)
            elif self.flowing and now - self._last >= self.SILENT:
                self.flowing = False
                self.on_flow(False)


class RtpRecorder:
    """One recording part: a gst-launch process fed by Janus's RTP forwarder, its WebM written into ``open_sink()``.

    ``ports``: the camera's and the microphone's (a part that follows another on the same forwarders takes its
    ports over); ``screen_port``: the screen's, for a part that records it; ``examiner_ports``: the examiner's
    camera and microphone during a call.

    The sink is opened when the first bytes arrive; ``status`` is "recording", "storage_failed" or None."""

    def __init__(self, open_sink: Callable[[], Any], on_keyframe: Callable[[bytes], None] | None = None, *,
                 ports: tuple[int, int] | None = None, screen_port: int | None = None,
                 on_screen_keyframe: Callable[[bytes], None] | None = None,
                 examiner_ports: tuple[int, int] | None = None) -> None:
        self.open_sink = open_sink
        self.video_port, self.audio_port = ports or (free_udp_port(), free_udp_port())
        self.screen_port = screen_port  # the screen's VP8 (a third track), or None
        self.examiner_ports = examiner_ports  # the examiner's VP8 and Opus in a call (the last two tracks), or None
        self.blocks = WebmBlocks(on_keyframe, on_screen_keyframe, screen=screen_port is not None)
        self.size = 0
        self.status: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._sink: Any = None

    def start(self) -> None:
        """Start the muxer; the ports are bound once this returns (give it a moment before RTP flows)."""
        read_fd, write_fd = os.pipe()
        try:
            # SIGINT: with -e, gst-launch sends EOS through the pipeline, so the muxer writes out what it holds.
            self.proc = subprocess.Popen(  # noqa: S603 - fixed binaries with our own arguments
                _watched("INT", recorder_pipeline(self.video_port, self.audio_port, write_fd, self.screen_port,
                                                  self.examiner_ports)),
                pass_fds=(write_fd,), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            os.close(write_fd)
        self._reader = threading.Thread(target=self._read, args=(read_fd,), name="janus-recorder", daemon=True)
        self._reader.start()
        # RTP that comes before the muxer listens is lost, the first keyframe with it: wait until both ports are taken.
        deadline = time.monotonic() + 10
        ports = [p for p in (self.video_port, self.audio_port, self.screen_port, *(self.examiner_ports or ()))
                 if p is not None]
        while time.monotonic() < deadline and not all(_bound(p) for p in ports):
            if self.proc.poll() is not None:
                raise JanusUnavailable("The recorder did not start (GStreamer's plugins missing?).")
            time.sleep(0.02)

    def pids(self) -> list[int]:
        """The muxer's process id (for the benches' CPU count)."""
        pid = _child(self.proc, "gst-launch-1.0")
        return [pid] if pid is not None else []

    def _read(self, fd: int) -> None:
        last_flush = time.monotonic()
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while True:
                data = pipe.read(65536)
                if not data:
                    break
                try:
                    self.blocks.feed(data)
                except ValueError:
                    log.warning("recorder: not WebM")
                if self.status == "storage_failed":
                    continue
                try:
                    if self._sink is None:
                        self._sink = self.open_sink()
                        self.status = "recording"
                    self._sink.write(data)
                    self.size += len(data)
                    if time.monotonic() - last_flush >= 1.0:  # a crash loses at most about the last second
                        last_flush = time.monotonic()
                        self._sink.flush()
                except Exception:
                    log.exception("recording part failed")
                    self.status = "storage_failed"

    def close(self, timeout: float = 10.0) -> None:
        """End the part: EOS into the muxer (SIGINT with -e), read what it flushes, close the sink."""
        if self.proc is not None and self.proc.poll() is None:
            _let_go(self.proc, "gst-launch-1.0", timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        if self._sink is not None:
            try:
                self._sink.close()
            except Exception:
                log.exception("closing a recording part failed")
                with contextlib.suppress(Exception):
                    self._sink.finish_cut()
            self._sink = None


# ---------------------------------------------------------------------------------------------- the engine facade


@dataclasses.dataclass
class _Session:
    part: int = 0
    state: str = "new"
    handle: int | None = None
    publisher: str | None = None
    recorder: RtpRecorder | None = None
    screen: ScreenRelay | None = None  # the candidate's screen, where Janus forwards it
    sink_factory: Callable[[str, int], Any] | None = None
    roll: threading.Lock = dataclasses.field(default_factory=threading.Lock)  # one recorder change at a time
    last_screen_at: float = float("-inf")
    screen_pending: bool = False
    data: socket.socket | None = None
    mids: dict[str, str] = dataclasses.field(default_factory=dict)  # the publisher's: "video", "audio", "screen"
    viewers: dict[str, int] = dataclasses.field(default_factory=dict)  # viewer id -> its subscriber handle
    connected_at: float | None = None
    disconnected_at: float | None = None
    last_frame_at: float = float("-inf")
    frame_pending: bool = False
    frames_decoded: int = 0
    video_mid: str | None = None  # the camera's stream in the offer (a liveness capture forwards it once more)
    kinds: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (kind, mid) of the candidate's offer
    call: _Call | None = None  # the examiner's (or a proctor's) call, while one is open


@dataclasses.dataclass
class _Call:
    """An oral exam's call (or a proctor's "Talk") on Janus: the examiner publishes into the candidate's room; each
    side receives the other through a subscriber of its own (``receivers``: who -> Janus handle); while the
    examiner's connection is up the recording part holds the examiner's camera and microphone too."""

    examiner: str
    handle: int | None = None
    publisher: str | None = None
    kinds: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (kind, mid) of the examiner's offer
    ports: tuple[int, int] = (0, 0)  # where the examiner's video and audio are forwarded (the recorder's)
    live: bool = False  # the examiner's connection is up and sends: the part records the examiner's tracks
    up: bool = False  # the examiner's connection is up (``webrtcup``)
    silent: set[str] = dataclasses.field(default_factory=set)  # what Janus says it does not receive ("media" events)
    receivers: dict[str, int] = dataclasses.field(default_factory=dict)


def _mids(sdp: str) -> Iterator[tuple[str, str]]:
    """(kind, mid) of each m-line of an SDP."""
    kind = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
        elif line.startswith("a=mid:") and kind is not None:
            yield kind, line[6:].strip()
            kind = None


class JanusEngine:
    """The media engine's facade (as ``proctoring.engine.MediaEngine``) over a Janus process and our recorders."""

    def __init__(self, *, host_addresses: list[str] | None = None, decode_video: bool = True,
                 frame_interval: float = 1.0, on_frame: Callable[[str, Any, float], None] | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None, workers: int = 2,
                 max_sessions: int = 0, messages_per_minute: int = 0, rtp_ports: str | None = None,
                 nat_1_1: str | None = None, on_screen_frame: Callable[[str, Any, float], None] | None = None,
                 screen_interval: float = 5.0) -> None:
        self.server = JanusServer(host_addresses=host_addresses, rtp_ports=rtp_ports, nat_1_1=nat_1_1)
        self.decode_video, self.frame_interval = decode_video, frame_interval
        self.on_frame, self.on_event = on_frame, on_event
        self.on_screen_frame = on_screen_frame  # a picture of the candidate's screen every ``screen_interval`` s
        self.screen_interval = screen_interval
        self.on_stop: Callable[[], None] | None = None
        self.max_sessions = max_sessions
        self.messages_per_minute = messages_per_minute
        self.api: JanusApi | None = None
        self._sessions: dict[str, _Session] = {}
        self._gone: dict[str, tuple[int, dict[str, Any]]] = {}
        self._by_handle: dict[int, str] = {}
        self._viewer_handles: dict[int, tuple[str, str]] = {}  # subscriber handle -> (session id, viewer id)
        self._started: set[int] = set()  # subscribers whose viewer answered
        self._call_handles: dict[int, str] = {}  # a call's handles (the examiner's, the receivers') -> session id
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="janus-work")
        self._analysis = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="janus-analysis")

    # -- lifecycle

    def start(self) -> None:
        """Start Janus and open our API session (idempotent)."""
        if self.api is not None:
            return
        self.server.start()
        self.api = JanusApi(self.server.url, self.server.secret, self._on_janus)
        self.api.open()

    def stop(self) -> None:
        """Close every session, stop Janus."""
        for sid in list(self._sessions):
            with contextlib.suppress(Exception):
                self.close_session(sid)
        if self.api is not None:
            self.api.close()
            self.api = None
        self.server.stop()
        self._pool.shutdown(wait=True)
        self._analysis.shutdown(wait=True, cancel_futures=True)
        if self.on_stop is not None:
            self.on_stop()

    def pids(self) -> list[int]:
        """Janus's and every recorder's process id (the benches count their CPU)."""
        janus = self.server.pid()
        out = [janus] if janus is not None else []
        for s in list(self._sessions.values()):
            if s.recorder is not None:
                out += s.recorder.pids()
        return out

    # -- the facade

    def answer(self, session_id: str, offer_sdp: str, sink_factory: Callable[[str, int], Any], timeout: float = 20,
               *, screen: bool = False, oral: bool = False) -> str:
        """Publish the browser's offer into the session's room on Janus; returns Janus's answer SDP.

        A new offer for a live session is a reconnect: the old publisher goes and a new recording part begins.
        ``screen``: the offer's second video is the candidate's screen, recorded as the part's third track while it
        sends (``ScreenRelay``); ``oral`` is accepted and changes nothing here: a call comes to the candidate on a
        connection of its own (:meth:`join`, :meth:`receive`)."""
        from proctoring.engine import EngineFull

        sdp = check_offer(offer_sdp)
        self.start()
        api = self.api
        assert api is not None  # noqa: S101
        with self._lock:
            if (self.max_sessions and session_id not in self._sessions
                    and self.live_sessions() >= self.max_sessions):
                raise EngineFull()
            session = self._sessions.get(session_id)
            if session is None:
                part = self._gone.pop(session_id, (0, {}))[0]
                session = self._sessions[session_id] = _Session(part=part)
        self._hang_up(session_id, session)
        session.part += 1
        part = session.part
        with contextlib.suppress(JanusError):  # a reconnect finds its room still there
            api.request(self._control(), {"request": "create", "room": session_id, "admin_key": self.server.admin_key,
                                          "publishers": 2, "audiocodec": "opus", "videocodec": "vp8",
                                          "fir_freq": max(1, round(self.frame_interval)) if self._pictures() else 0,
                                          "record": False, "lock_record": True, "permanent": False,
                                          "notify_joining": False})
        kinds = list(_mids(sdp))
        session.video_mid = next((mid for kind, mid in kinds if kind == "video"), None)
        screen = screen and sum(1 for kind, _mid in kinds if kind == "video") >= 2
        session.sink_factory = sink_factory
        if screen:
            session.screen = ScreenRelay(lambda flowing: self._later(self._roll, session_id, session, flowing))
        recorder = RtpRecorder(lambda: sink_factory(session_id, part), self._keyframe_handler(session_id, session),
                               screen_port=free_udp_port() if screen else None,
                               on_screen_keyframe=self._screen_handler(session_id, session))
        recorder.start()
        if session.screen is not None:
            session.screen.target = recorder.screen_port
            session.screen.start()
        handle = api.attach()
        session.handle, session.recorder, session.state = handle, recorder, "connecting"
        with self._lock:
            self._by_handle[handle] = session_id
        try:
            data, jsep = api.ask(handle, {"request": "joinandconfigure", "room": session_id, "ptype": "publisher",
                                          "display": "candidate", "audio": True, "video": True, "data": True},
                                 {"type": "offer", "sdp": sdp}, timeout=timeout)
            if jsep is None or jsep.get("type") != "answer":
                raise JanusError("no answer SDP")
            session.publisher = str(data.get("id"))
            session.kinds = kinds
            streams = []
            first = {"audio": recorder.audio_port, "video": recorder.video_port}
            session.mids = {}
            for kind, mid in kinds:
                if kind in first:
                    streams.append({"mid": mid, "port": first.pop(kind), "pt": _PT[kind]})
                    session.mids[kind] = mid
                elif kind == "video" and screen and session.screen is not None:  # the second video: the screen
                    streams.append({"mid": mid, "port": session.screen.port, "pt": _PT["video"]})
                    session.mids["screen"] = mid
                    screen = False
                elif kind == "application" and session.data is None:
                    session.data = self._data_socket(session_id, session)
                    streams.append({"mid": mid, "port": session.data.getsockname()[1]})
            forwarded = api.request(handle, {"request": "rtp_forward", "room": session_id,
                                             "publisher_id": session.publisher, "host": "127.0.0.1",
                                             "host_family": "ipv4", "admin_key": self.server.admin_key,
                                             "streams": streams})
            log.debug("forwarders of %s: %s", session_id, forwarded)
        except JanusError as err:
            log.warning("Janus refused the offer of %s: %s", session_id, err)
            self._hang_up(session_id, session)
            from proctoring.sdp import BadOffer

            raise BadOffer("The media server could not use this offer.") from None
        return str(jsep["sdp"])

    def join(self, session_id: str, examiner_id: str, offer_sdp: str, timeout: float = 20) -> str:
        """An examiner (or a proctor's "Talk") joins a live session with camera and microphone; returns the answer.

        The examiner's offer is published into the candidate's room (a second publisher, as the candidate's own);
        Janus forwards its frames as they are. The examiner receives the candidate through a subscriber of its own
        (:meth:`receive`), the candidate the examiner likewise. Once the examiner's connection is up the recording
        goes on in a new part that holds the examiner's camera and microphone after the candidate's tracks (tagged
        ``examiner_video`` and ``examiner_audio``, aiortc's names); when it goes, a new part without them."""
        from proctoring.engine import NotLive
        from proctoring.sdp import BadOffer

        sdp = check_offer(offer_sdp)
        api = self.api
        session = self._sessions.get(session_id)
        if api is None or session is None or session.publisher is None or session.recorder is None \
                or session.state == "closed":
            raise NotLive("The candidate is not connected right now.")
        self._end_call(session_id, session)  # one examiner at a time: a reconnect (or another one) takes over
        call = session.call = _Call(examiner=examiner_id, kinds=list(_mids(sdp)),
                                    ports=(free_udp_port(), free_udp_port()))
        handle = call.handle = api.attach()
        with self._lock:
            self._call_handles[handle] = session_id
        try:
            data, jsep = api.ask(handle, {"request": "joinandconfigure", "room": session_id, "ptype": "publisher",
                                          "display": "examiner", "audio": True, "video": True},
                                 {"type": "offer", "sdp": sdp}, timeout=timeout)
            if jsep is None or jsep.get("type") != "answer":
                raise JanusError("no answer SDP")
            call.publisher = str(data.get("id"))
            first = {"video": call.ports[0], "audio": call.ports[1]}
            streams = [{"mid": mid, "port": first.pop(kind), "pt": _PT[kind]}
                       for kind, mid in call.kinds if kind in first]
            api.request(handle, {"request": "rtp_forward", "room": session_id, "publisher_id": call.publisher,
                                 "host": "127.0.0.1", "host_family": "ipv4", "admin_key": self.server.admin_key,
                                 "streams": streams})
        except JanusError as err:
            log.warning("Janus refused the examiner's offer for %s: %s", session_id, err)
            self._end_call(session_id, session)
            raise BadOffer("The media server could not use this offer.") from None
        return str(jsep["sdp"])

    def receive(self, session_id: str, viewer_id: str, timeout: float = 20) -> str | None:
        """The other side of a call for ``viewer_id`` (the examiner's id as in :meth:`join`, or "candidate"): Janus's
        offer of a subscriber that sends it (VideoRoom subscribers make the offer); the browser's answer goes to
        :meth:`receive_answer`. NotLive while that side does not publish (the examiner has not joined yet)."""
        from proctoring.engine import NotLive

        api = self.api
        session = self._sessions.get(session_id)
        call = session.call if session is not None else None
        if api is None or session is None or call is None or session.publisher is None:
            raise NotLive("No call is going on right now.")
        if viewer_id == "candidate":
            if call.publisher is None or not call.up:
                raise NotLive("The examiner is not connected yet.")
            feed, kinds = call.publisher, call.kinds
        elif viewer_id == call.examiner:
            feed, kinds = session.publisher, session.kinds
        else:
            raise NotLive("No call is going on right now.")
        wanted: dict[str, str] = {}
        for kind, mid in kinds:  # the camera and the microphone (not the screen, not the data channel)
            if kind in ("video", "audio"):
                wanted.setdefault(kind, mid)
        old = call.receivers.pop(viewer_id, None)
        if old is not None:
            self._drop_handle(old)
        handle = api.attach()
        with self._lock:
            self._call_handles[handle] = session_id
        call.receivers[viewer_id] = handle
        try:
            _data, jsep = api.ask(handle, {"request": "join", "ptype": "subscriber", "room": session_id,
                                           "streams": [{"feed": feed, "mid": mid} for mid in wanted.values()]},
                                  timeout=timeout)
            if jsep is None or jsep.get("type") != "offer":
                raise JanusError("no offer SDP")
        except JanusError as err:
            log.warning("Janus did not subscribe %s to %s: %s", viewer_id, session_id, err)
            call.receivers.pop(viewer_id, None)
            self._drop_handle(handle)
            raise NotLive("The other side of the call is not connected right now.") from None
        return str(jsep["sdp"])

    def receive_answer(self, session_id: str, viewer_id: str, answer_sdp: object, timeout: float = 20) -> None:
        """The browser's answer to :meth:`receive`'s offer: Janus starts sending (BadOffer if it is not SDP)."""
        from proctoring.engine import NotLive
        from proctoring.sdp import BadOffer

        if not isinstance(answer_sdp, str) or not answer_sdp.startswith("v=0") or len(answer_sdp) > 64 * 1024:
            raise BadOffer("The answer is not SDP.")
        session = self._sessions.get(session_id)
        call = session.call if session is not None else None
        handle = call.receivers.get(viewer_id) if call is not None else None
        if self.api is None or handle is None:
            raise NotLive("No call is going on right now.")
        try:
            self.api.ask(handle, {"request": "start"}, {"type": "answer", "sdp": answer_sdp}, timeout=timeout)
        except JanusError as err:
            log.info("Janus refused %s's answer for %s: %s", viewer_id, session_id, err)
            raise BadOffer("The media server could not use this answer.") from None

    def watch(self, session_id: str, viewer_id: str, offer_sdp: str, timeout: float = 20) -> dict[str, str]:
        """Relay a live session's video and audio to a viewer (a proctor's browser) through a VideoRoom subscriber.

        Janus's subscribers take no offer: Janus makes one. So the viewer's offer only says what it wants (a second
        video m-line: the candidate's screen too, where the session sends one), and this returns Janus's offer,
        ``{"type": "offer", "sdp": ...}``, for the browser to answer through :meth:`watch_answer`. The feed is the
        publisher of ``session_id``'s own room, chosen here: nothing from the browser names a room or a feed. A
        viewer watching again replaces its earlier subscriber; one that never answers is dropped after
        ``WATCH_ANSWER_WITHIN`` seconds."""
        from proctoring.engine import NotLive
        from proctoring.sdp import BadOffer

        if not isinstance(offer_sdp, str) or not offer_sdp.startswith("v=0") or len(offer_sdp) > 64 * 1024:
            raise BadOffer("The offer is not SDP.")
        session = self._sessions.get(session_id)
        api = self.api
        if (session is None or api is None or session.publisher is None or session.handle is None
                or "video" not in session.mids):
            raise NotLive("The candidate is not connected right now.")
        wanted = [session.mids["video"]] + [session.mids[k] for k in ("audio",) if k in session.mids]
        if "screen" in session.mids and sum(1 for kind, _mid in _mids(offer_sdp) if kind == "video") >= 2:
            wanted.append(session.mids["screen"])  # the viewer asked for the screen too
        self._drop_viewer(session, viewer_id)
        handle = api.attach()
        with self._lock:
            session.viewers[viewer_id] = handle
            self._viewer_handles[handle] = (session_id, viewer_id)
        try:
            _data, jsep = api.ask(handle, {"request": "join", "ptype": "subscriber", "room": session_id,
                                           "streams": [{"feed": session.publisher, "mid": mid} for mid in wanted]},
                                  timeout=timeout)
            if jsep is None or jsep.get("type") != "offer":
                raise JanusError("no offer SDP")
        except JanusError as err:
            log.warning("Janus refused a viewer of %s: %s", session_id, err)
            self._drop_viewer(session, viewer_id)
            raise NotLive("The candidate is not connected right now.") from None
        timer = threading.Timer(self.WATCH_ANSWER_WITHIN, self._unanswered, (session, viewer_id, handle))
        timer.daemon = True
        timer.start()
        return {"type": "offer", "sdp": str(jsep["sdp"])}

    WATCH_ANSWER_WITHIN = 30.0

    def watch_answer(self, session_id: str, viewer_id: str, answer_sdp: object, timeout: float = 20) -> None:
        """The viewer's answer to the offer :meth:`watch` gave it: Janus starts relaying."""
        from proctoring.engine import NotLive
        from proctoring.sdp import BadOffer

        if not isinstance(answer_sdp, str) or not answer_sdp.startswith("v=0") or len(answer_sdp) > 64 * 1024:
            raise BadOffer("The answer is not SDP.")
        session = self._sessions.get(session_id)
        handle = session.viewers.get(viewer_id) if session is not None else None
        if session is None or handle is None or self.api is None:
            raise NotLive("The candidate is not connected right now.")
        try:
            self.api.ask(handle, {"request": "start"}, {"type": "answer", "sdp": answer_sdp}, timeout=timeout)
        except JanusError as err:
            log.info("Janus refused a viewer's answer for %s: %s", session_id, err)
            self._drop_viewer(session, viewer_id, handle)
            raise BadOffer("The answer could not be accepted.") from None
        with self._lock:
            if session.viewers.get(viewer_id) == handle:
                self._started.add(handle)

    def watchers(self, session_id: str) -> dict[str, bool]:
        """The viewers of a session: whether Janus relays to each (its answer came)."""
        session = self._sessions.get(session_id)
        if session is None:
            return {}
        with self._lock:
            return {v: h in self._started for v, h in session.viewers.items()}

    def _unanswered(self, session: _Session, viewer_id: str, handle: int) -> None:
        with self._lock:
            if handle in self._started:
                return
        self._drop_viewer(session, viewer_id, handle)

    def _drop_viewer(self, session: _Session, viewer_id: str, handle: int | None = None) -> None:
        """Detach ``viewer_id``'s subscriber (only ``handle``, if given: a newer one stays)."""
        with self._lock:
            current = session.viewers.get(viewer_id)
            if current is None or (handle is not None and current != handle):
                return
            del session.viewers[viewer_id]
            self._viewer_handles.pop(current, None)
            self._started.discard(current)
        if self.api is not None:
            self.api.detach(current)

    def capture(self, session_id: str, until: float, fps: float,
                on_done: Callable[[list[tuple[int, bytes]]], None], timeout: float = 10) -> None:
        """Take about ``fps`` frames a second of the session's received video until unix time ``until``, timed at
        arrival, and hand them as (unix ms, JPEG) to ``on_done`` on the worker pool (NotLive without video).

        Janus forwards the camera once more, to a ``LivenessTap`` of ours, while the capture runs
        (``proctoring.janus_capture``); a hang-up ends the forwarding, and the frames taken are handed over all
        the same, as on aiortc."""
        from proctoring.engine import NotLive
        from proctoring.janus_capture import LivenessTap

        session = self._sessions.get(session_id)
        api, handle = self.api, session.handle if session is not None else None
        if (session is None or api is None or handle is None or session.publisher is None
                or session.video_mid is None or session.state == "closed"):
            raise NotLive("The camera is not connected right now.")
        publisher, camera = session.publisher, handle

        def keyframe() -> None:
            with contextlib.suppress(JanusError):
                api.request(camera, {"request": "configure", "keyframe": True})

        def ask_keyframe() -> None:  # from the tap's thread: the request goes on the worker pool
            self._later(keyframe)

        tap = LivenessTap(until, fps, ask_keyframe)
        try:
            forwarded = api.request(handle, {"request": "rtp_forward", "room": session_id,
                                             "publisher_id": publisher, "host": "127.0.0.1", "host_family": "ipv4",
                                             "admin_key": self.server.admin_key,
                                             "streams": [{"mid": session.video_mid, "port": tap.port,
                                                          "pt": _PT["video"]}]})
        except JanusError as err:
            tap.close()
            log.warning("no liveness capture of %s: %s", session_id, err)
            raise NotLive("The camera is not connected right now.") from None
        streams = [int(f["stream_id"]) for f in forwarded.get("forwarders", []) if "stream_id" in f]

        def run() -> None:
            frames: TimedVp8 = []
            try:
                frames = tap.run()
            except Exception:
                log.exception("liveness capture of %s", session_id)
            finally:
                tap.close()
                for stream in streams:  # gone already if the candidate hung up (the room went with the session)
                    with contextlib.suppress(Exception):
                        api.request(self._control(), {"request": "stop_rtp_forward", "room": session_id,
                                                      "publisher_id": publisher, "stream_id": stream,
                                                      "admin_key": self.server.admin_key})
            log.info("liveness capture of %s: %d packets, %d frames (%d kept), %d gaps, %.0f ms CPU", session_id,
                     tap.packets, len(frames), sum(1 for f in frames if f[2]), tap.gaps, tap.cpu * 1000)
            try:
                self._analysis.submit(self._hand_over, frames, on_done)
            except RuntimeError:  # the engine stopped
                log.warning("liveness capture of %s dropped: the engine stopped", session_id)

        # Its own thread, not the worker pool's (a capture waits ~10 s for its window).
        threading.Thread(target=run, name="janus-capture", daemon=True).start()

    def _hand_over(self, frames: TimedVp8, on_done: Callable[[list[tuple[int, bytes]]], None]) -> None:
        """Decode a capture's frames, convert the kept ones to JPEG and hand them to ``on_done`` on the worker pool
        (never nothing: frames that fail to convert leave a shorter list, which the check judges)."""
        from proctoring.janus_capture import decode
        from proctoring.liveness_capture import to_jpegs

        jpegs: list[tuple[int, bytes]] = []
        started = time.thread_time()
        try:
            jpegs = to_jpegs(decode(frames))
        except Exception:
            log.exception("liveness frames did not convert")
        log.info("liveness frames decoded and converted: %d of %d, %.0f ms CPU", len(jpegs), len(frames),
                 (time.thread_time() - started) * 1000)

        def deliver() -> None:
            try:
                on_done(jpegs)
            except Exception:
                log.exception("capture callback failed")

        self._later(deliver)

    def close_session(self, session_id: str, timeout: float = 10) -> None:
        """Hang up and finish the recording part."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is None:
            return
        self._hang_up(session_id, session)
        final = self._stats(session)
        final.update(state="closed")
        with self._lock:
            self._gone[session_id] = (session.part, final)
            while len(self._gone) > 1000:
                del self._gone[next(iter(self._gone))]
        if self.api is not None:
            with contextlib.suppress(JanusError):
                self.api.request(self._control(), {"request": "destroy", "room": session_id,
                                                   "admin_key": self.server.admin_key})

    def stats(self, session_id: str) -> dict[str, Any] | None:
        """Connection state and recording counters of a session (None if unknown)."""
        session = self._sessions.get(session_id)
        if session is None:
            gone = self._gone.get(session_id)
            return dict(gone[1]) if gone is not None else None
        return self._stats(session)

    def sessions(self) -> list[str]:
        """Ids of the sessions held."""
        return list(self._sessions)

    def live_sessions(self) -> int:
        """Sessions with a connection up or on its way."""
        return sum(1 for s in list(self._sessions.values()) if s.handle is not None and s.state != "closed")

    # -- inside

    _control_handle: int | None = None

    def _control(self) -> int:
        """The handle that creates and destroys rooms."""
        assert self.api is not None  # noqa: S101
        if self._control_handle is None:
            self._control_handle = self.api.attach()
        return self._control_handle

    def _pictures(self) -> bool:
        return self.decode_video and self.on_frame is not None

    def _stats(self, session: _Session) -> dict[str, Any]:
        rec = session.recorder
        return {"state": session.state, "part": session.part,
                "video_frames": rec.blocks.video_frames if rec else 0,
                "audio_frames": rec.blocks.audio_frames if rec else 0,
                "size": rec.size if rec else None, "recording": rec.status if rec else None,
                "frames_decoded": session.frames_decoded, "keyframes": rec.blocks.keyframes if rec else 0,
                "keyframes_requested": 0, "screen_frames": rec.blocks.screen_frames if rec else 0,
                "path": "direct" if session.state == "connected" else None, "plane": "janus"}

    def _hang_up(self, session_id: str, session: _Session) -> None:
        with session.roll:
            self._hang_up_now(session_id, session)

    def _hang_up_now(self, session_id: str, session: _Session) -> None:
        self._end_call(session_id, session, roll=False)  # a candidate who reconnects gets a new call (as on aiortc)
        handle, recorder, data, screen = session.handle, session.recorder, session.data, session.screen
        session.handle, session.data, session.screen = None, None, None
        for viewer in list(session.viewers):  # their feed goes: the proctor watches again (as on aiortc)
            self._drop_viewer(session, viewer)
        if screen is not None:
            screen.close()
        if handle is not None:
            with self._lock:
                self._by_handle.pop(handle, None)
            if self.api is not None:
                self.api.detach(handle)
        if data is not None:
            data.close()
        if recorder is not None:
            recorder.close()

    def _on_janus(self, event: dict[str, Any]) -> None:
        """Janus's events: the PeerConnection is up (``webrtcup``) or gone (``hangup``)."""
        kind = event.get("janus")
        with self._lock:
            call_of = self._call_handles.get(event.get("sender", -1))
        if call_of is not None:
            self._on_call_event(call_of, event)
            return
        with self._lock:
            session_id = self._by_handle.get(event.get("sender", -1))
            session = self._sessions.get(session_id) if session_id else None
            viewer = self._viewer_handles.get(event.get("sender", -1))
        if viewer is not None and kind == "hangup":  # a viewer's connection went: its subscriber goes too
            watched = self._sessions.get(viewer[0])
            if watched is not None:
                self._later(self._drop_viewer, watched, viewer[1], event.get("sender"))
            return
        if session is None or session_id is None:
            return
        if kind == "webrtcup":
            gap = None if session.disconnected_at is None else time.monotonic() - session.disconnected_at
            session.state, session.connected_at, session.disconnected_at = "connected", time.monotonic(), None
            self._emit(session_id, {"type": "media_connected", "part": session.part, "gap_seconds": gap})
            handle = session.handle
            if handle is not None and self.api is not None:  # the recording starts with a keyframe: ask for one now
                api = self.api
                self._pool.submit(lambda: api.request(handle, {"request": "configure", "keyframe": True}))
        elif kind == "hangup":
            session.state, session.disconnected_at = "closed", time.monotonic()
            part = session.part

            def finish() -> None:
                with self._lock:
                    if self._sessions.get(session_id) is not session or session.part != part:
                        return  # a reconnect took over
                self.close_session(session_id)
                self._emit(session_id, {"type": "media_disconnected", "part": part})

            self._pool.submit(finish)

    def _later(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the worker pool (nothing once the engine stopped)."""
        with contextlib.suppress(RuntimeError):
            self._pool.submit(fn, *args)

    def _roll(self, session_id: str, session: _Session, screen: bool) -> None:
        """The screen started or stopped sending: end the part, go on in a new one with (or without) the screen on
        the same ports, and ask the browser for a keyframe for it (see ``ScreenRelay``)."""
        with session.roll:
            old, relay, handle, sinks = session.recorder, session.screen, session.handle, session.sink_factory
            if old is None or relay is None or handle is None or sinks is None or session.state == "closed":
                return
            relay.target = None
            old.close()
            session.part += 1
            part = session.part
            recorder = RtpRecorder(lambda: sinks(session_id, part), self._keyframe_handler(session_id, session),
                                   ports=(old.video_port, old.audio_port),
                                   screen_port=free_udp_port() if screen else None,
                                   on_screen_keyframe=self._screen_handler(session_id, session),
                                   examiner_ports=session.call.ports if session.call and session.call.live else None)
            try:
                recorder.start()
            except JanusUnavailable:
                log.exception("recorder of %s", session_id)
                return
            session.recorder = recorder
            relay.target = recorder.screen_port
            log.info("%s: the screen %s, part %s", session_id, "sends" if screen else "is silent", part)
        if self.api is not None:
            with contextlib.suppress(JanusError):
                self.api.request(handle, {"request": "configure", "keyframe": True})

    # -- the call (oral exam, "Talk")

    def _drop_handle(self, handle: int) -> None:
        """Detach one of a call's handles (its PeerConnection goes)."""
        with self._lock:
            self._call_handles.pop(handle, None)
        if self.api is not None:
            self.api.detach(handle)

    def _end_call(self, session_id: str, session: _Session, *, roll: bool = True) -> None:
        """The call goes: the examiner's publisher and both receivers are detached; ``roll``: the recording goes on
        in a new part without the examiner's tracks (GStreamer's muxer would wait for them)."""
        call, session.call = session.call, None
        if call is None:
            return
        for handle in [*call.receivers.values(), *([call.handle] if call.handle is not None else [])]:
            self._drop_handle(handle)
        if roll and call.live:
            self._roll_call(session_id, session)
        elif not roll and call.live:  # the candidate's connection went (or reconnects): the call ends, as on aiortc
            with contextlib.suppress(RuntimeError):  # the engine stopping
                self._emit(session_id, {"type": "call_lost"})

    def _on_call_event(self, session_id: str, event: dict[str, Any]) -> None:
        """A call's handle: the examiner's connection came up (the part takes the examiner's tracks) or went
        (a part without them, and ``call_lost`` for the candidate's page and the timeline, as on aiortc)."""
        with self._lock:
            session = self._sessions.get(session_id)
        call = session.call if session is not None else None
        if session is None or call is None or event.get("sender") != call.handle:
            return
        kind = event.get("janus")
        if kind == "webrtcup":
            call.up = True
        elif kind == "media" and event.get("type") in ("audio", "video"):
            # Janus says so after a second without packets (and again when they come back): GStreamer's muxer would
            # wait for a silent track, holding the candidate's recording (and its snapshots) back, so the part goes
            # on without the examiner's tracks until both send again.
            if event.get("receiving"):
                call.silent.discard(str(event["type"]))
            else:
                call.silent.add(str(event["type"]))
        if kind in ("webrtcup", "media") and call.live != (call.up and not call.silent):
            call.live = call.up and not call.silent
            self._later(self._roll_call, session_id, session)
        elif kind == "hangup":
            def gone() -> None:
                if session.call is call:
                    self._end_call(session_id, session)
                    self._emit(session_id, {"type": "call_lost"})

            self._later(gone)

    def _roll_call(self, session_id: str, session: _Session) -> None:
        """A new part with the examiner's tracks (the call's connection is up) or without them (it went), the
        screen as it is; both browsers are asked for a keyframe for it."""
        with session.roll:
            old, relay, handle, sinks, call = (session.recorder, session.screen, session.handle,
                                               session.sink_factory, session.call)
            examiner = call.ports if call is not None and call.live else None
            if old is None or handle is None or sinks is None or session.state == "closed" \
                    or old.examiner_ports == examiner:  # the part is as it should be (a change came and went)
                return
            screen = old.screen_port is not None and relay is not None
            if relay is not None:
                relay.target = None
            old.close()
            session.part += 1
            part = session.part
            recorder = RtpRecorder(lambda: sinks(session_id, part), self._keyframe_handler(session_id, session),
                                   ports=(old.video_port, old.audio_port),
                                   screen_port=free_udp_port() if screen else None,
                                   on_screen_keyframe=self._screen_handler(session_id, session),
                                   examiner_ports=examiner)
            try:
                recorder.start()
            except JanusUnavailable:
                log.exception("recorder of %s", session_id)
                return
            session.recorder = recorder
            if relay is not None and screen:
                relay.target = recorder.screen_port
            log.info("%s: part %s %s the examiner", session_id, part, "with" if recorder.examiner_ports else "without")
        if self.api is not None:
            for h in (handle, call.handle if call is not None else None):
                if h is not None:
                    with contextlib.suppress(JanusError):
                        self.api.request(h, {"request": "configure", "keyframe": True})

    def _screen_handler(self, session_id: str, session: _Session) -> Callable[[bytes], None] | None:
        """Once a ``screen_interval``: decode a keyframe of the screen for the grid's thumbnail, ``on_screen_frame``."""
        callback = self.on_screen_frame
        if callback is None:
            return None

        def on_keyframe(frame: bytes) -> None:
            now = time.monotonic()
            if session.screen_pending or now - session.last_screen_at < self.screen_interval:
                return
            session.screen_pending, session.last_screen_at = True, now
            self._analysis.submit(self._deliver_screen, session_id, session, frame, callback)

        return on_keyframe

    def _deliver_screen(self, session_id: str, session: _Session, frame: bytes,
                        callback: Callable[[str, Any, float], None]) -> None:
        import av

        try:
            pictures = av.CodecContext.create("vp8", "r").decode(av.Packet(frame))
            if pictures:
                callback(session_id, pictures[0].to_ndarray(format="bgr24"), time.time())
        except Exception:
            log.exception("screen picture of %s", session_id)
        finally:
            session.screen_pending = False

    def _emit(self, session_id: str, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self._pool.submit(self.on_event, session_id, {**event, "origin": "engine"})

    def _data_socket(self, session_id: str, session: _Session) -> socket.socket:
        """Where Janus forwards the data channel's messages (the page's events): one UDP socket on loopback."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        minute: list[float] = [0.0, 0.0]  # [minute, messages in it]

        def read() -> None:
            while session.data is sock:
                try:
                    message = sock.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                now = int(time.time() // 60)
                if minute[0] != now:
                    minute[:] = [now, 0]
                minute[1] += 1
                if self.messages_per_minute and minute[1] > self.messages_per_minute:
                    continue
                try:
                    event = json.loads(message)
                except ValueError:
                    continue
                if isinstance(event, dict) and self.on_event is not None:  # the browser cannot claim to be us
                    self._pool.submit(self.on_event, session_id, {**event, "origin": "browser"})

        threading.Thread(target=read, name="janus-data", daemon=True).start()
        return sock

    def _keyframe_handler(self, session_id: str, session: _Session) -> Callable[[bytes], None] | None:
        """Once a ``frame_interval``: decode the keyframe that came (Janus asks the browser for one as often) and
        hand the picture to ``on_frame`` on the analysis pool; one at a time per session."""
        if not self._pictures():
            return None

        def on_keyframe(frame: bytes) -> None:
            now = time.monotonic()
            if session.frame_pending or now - session.last_frame_at < self.frame_interval * 0.8:
                return
            session.frame_pending, session.last_frame_at = True, now
            self._analysis.submit(self._deliver, session_id, session, frame)

        return on_keyframe

    def _deliver(self, session_id: str, session: _Session, frame: bytes) -> None:
        import av

        try:
            codec = av.CodecContext.create("vp8", "r")
            pictures = codec.decode(av.Packet(frame))
            if pictures and self.on_frame is not None:
                session.frames_decoded += 1
                self.on_frame(session_id, pictures[0].to_ndarray(format="bgr24"), time.time())
        except Exception:
            log.exception("snapshot of %s", session_id)
        finally:
            session.frame_pending = False
