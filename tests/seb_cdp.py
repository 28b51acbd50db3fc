"""Make headless Chromium send Safe Exam Browser's key headers, the way SEB does, on every request.

SEB does not run on Linux. SEB for Windows adds ``X-SafeExamBrowser-ConfigKeyHash`` to each request in its
resource handler (SafeExamBrowser.Browser/Handlers/ResourceHandler.cs: SHA-256 of the request's absolute URL
without fragment, followed by the Config Key). Here the Chrome DevTools Protocol does the same: ``Fetch.enable``
pauses every request of the page (navigations, form posts, fetch/XHR, signalling), a thread computes the header
for the paused request's URL and ``Fetch.continueRequest`` sends it on with the header added. The DevTools
websocket is chromedriver's own browser (``goog:chromeOptions.debuggerAddress``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

import websocket  # websocket-client (selenium's dependency)

CONFIG_KEY_HEADER = "X-SafeExamBrowser-ConfigKeyHash"


def seb_header(url: str, config_key: str) -> str:
    """SEB's header value for ``url``: SHA-256(URL without fragment + Config Key), hex."""
    return hashlib.sha256((url.split("#", 1)[0] + config_key).encode("utf-8")).hexdigest()


class SebKeys:
    """Adds SEB's key header to every request of a driver's page while attached.

    ``mode``: "valid" (the exam's Config Key), "none" (no header: another browser), or a callable taking the
    request URL and returning the header value (a wrong key, a header copied from another URL).
    """

    def __init__(self, driver: Any, config_key: str) -> None:
        self.config_key = config_key
        self.mode: str | Callable[[str], str | None] = "valid"
        self.seen: list[tuple[str, str, str | None]] = []  # (method, url, header sent)
        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        with urllib.request.urlopen(f"http://{address}/json", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._send("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]})
        self._stop = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _send(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            self._ws.send(json.dumps({"id": next(self._ids), "method": method, "params": params}))

    def _value(self, url: str) -> str | None:
        if self.mode == "valid":
            return seb_header(url, self.config_key)
        if self.mode == "none":
            return None
        assert callable(self.mode)
        return self.mode(url)

    def _pump(self) -> None:
        while not self._stop:
            try:
                message = json.loads(self._ws.recv())
            except (websocket.WebSocketTimeoutException, TimeoutError):
                continue
            except (websocket.WebSocketConnectionClosedException, OSError, ValueError):
                return
            if message.get("method") != "Fetch.requestPaused":
                continue
            params = message["params"]
            request = params["request"]
            url = request["url"]  # absolute, without the fragment (Chromium gives it apart as urlFragment)
            headers = [{"name": k, "value": v} for k, v in request.get("headers", {}).items()
                       if k.lower() != CONFIG_KEY_HEADER.lower()]
            value = self._value(url)
            if value is not None:
                headers.append({"name": CONFIG_KEY_HEADER, "value": value})
            self.seen.append((request.get("method", "GET"), url, value))
            self._send("Fetch.continueRequest", {"requestId": params["requestId"], "headers": headers})

    def close(self) -> None:
        """Stop intercepting (requests go out unchanged again)."""
        self._stop = True
        with contextlib.suppress(Exception):
            self._send("Fetch.disable", {})
        with contextlib.suppress(Exception):
            self._ws.close()
        self._thread.join(timeout=5)


def seb_js_api(driver: Any, config_key: str) -> None:
    """Give every page of ``driver`` SEB's JavaScript API as SEB 3.0 for macOS/iOS has it in the modern WebView
    (no key headers): ``SafeExamBrowser.security.updateKeys(callback)`` sets ``configKey`` to SHA-256 of the page
    URL without fragment followed by the Config Key, then calls back (SEB developer documentation, "Config Key",
    "Query the Config Key and Browser Exam Key with the SEB JavaScript API")."""
    source = """
    (function (ck) {
      window.SafeExamBrowser = {version: "SafeExamBrowser_macOS_3.0_test", security: {
        updateKeys: function (callback) {
          var page = window.location.href.split("#")[0];
          crypto.subtle.digest("SHA-256", new TextEncoder().encode(page + ck)).then(function (digest) {
            window.SafeExamBrowser.security.configKey = Array.from(new Uint8Array(digest)).map(function (b) {
              return b.toString(16).padStart(2, "0"); }).join("");
            callback();
          });
        }}};
    })(""" + json.dumps(config_key) + ");"
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})
