"""A real, certified OpenID provider for the tests: npm's ``oidc-provider`` (tests/node/oidc) on loopback.

``start_peer`` runs ``npm ci`` once if node_modules is missing, then the server with a fresh RSA signing key
the test knows too (so it can forge tokens that only differ from the provider's in one claim). Under CI=true
a missing Node.js fails the test instead of skipping it. ``walk_to_callback`` plays the browser at the
provider's own pages (its devInteractions login and consent forms) and returns our callback URL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import REPO, need_service

NODE_DIR = REPO / "tests" / "node" / "oidc"
CLIENT_ID = "aufsicht"
CLIENT_SECRET = "a client secret only the tests know"
_install_lock = threading.Lock()


@dataclasses.dataclass
class Peer:
    """A running provider: its issuer, the signing key it publishes, and the registered client."""

    issuer: str
    key: RSAKey
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """An ID token signed like the provider's (same key id; another ``key`` forges the signature)."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, **claims}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, body, key or self.key)


def ensure_node_modules() -> None:
    """``npm ci`` in tests/node/oidc when its node_modules is missing (the registry only, from the lock file)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        need_service("Node.js", "install Debian packages nodejs and npm (the OpenID provider oidc-provider runs on it)")
    with _install_lock:
        if (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
            return
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            need_service("oidc-provider", f"npm ci in {NODE_DIR} failed: {done.stderr.strip()[-500:]}")


@contextlib.contextmanager
def start_peer(folder: Path, redirect_uris: list[str], post_logout_redirect_uris: list[str],
               accounts: dict[str, dict[str, Any]], issuer_host: str = "127.0.0.1") -> Iterator[Peer]:
    """Run the provider until the block ends; ``accounts`` maps login names (the ``sub``) to their claims."""
    ensure_node_modules()
    key = RSAKey.generate_key(2048, parameters={"kid": "k-" + secrets.token_hex(4), "use": "sig", "alg": "RS256"})
    config = {
        "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris,
                     "post_logout_redirect_uris": post_logout_redirect_uris, "client_name": "aufsicht"}],
        "jwks": {"keys": [key.as_dict(private=True)]},
        "accounts": accounts,
        "issuer_host": issuer_host,
    }
    cfg = folder / f"oidc-{secrets.token_hex(4)}.json"
    cfg.write_text(json.dumps(config))
    log = cfg.with_suffix(".log")
    log_file = log.open("w")  # its warnings and errors (a pipe nobody reads could fill up and stall it)
    proc = subprocess.Popen(["node", "server.js"], cwd=NODE_DIR, env={"PATH": _path(), "OIDC_CONFIG_FILE": str(cfg)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("READY ") or not line:
                break
        if not line.startswith("READY "):
            raise RuntimeError(f"oidc-provider did not start: {line!r} {log.read_text()[-1000:]}")
        yield Peer(issuer=line.split()[1], key=key)
    finally:
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.close()  # the server ends when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        log_file.close()
        cfg.unlink(missing_ok=True)


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


def walk_to_callback(authorization_url: str, login: str, our_base: str, *, consent: bool = True) -> str:
    """Sign in at the provider's pages as ``login`` (any password) and consent; returns our callback URL."""
    http = requests.Session()
    resp = http.get(authorization_url, allow_redirects=False, timeout=10)
    for _step in range(12):
        if resp.is_redirect:
            location = urljoin(resp.url, resp.headers["Location"])
            if location.startswith(our_base):
                http.close()
                return location
            resp = http.get(location, allow_redirects=False, timeout=10)
            continue
        assert resp.status_code == 200, (resp.status_code, resp.text[:500])
        action = unescape(re.search(r'<form[^>]*action="([^"]+)"', resp.text).group(1))  # type: ignore[union-attr]
        if 'name="login"' in resp.text:
            data = {"prompt": "login", "login": login, "password": "any password"}
        elif consent and 'value="consent"' in resp.text:
            data = {"prompt": "consent"}
        else:
            raise AssertionError(f"unexpected page at the provider: {resp.text[:500]}")
        resp = http.post(urljoin(resp.url, action), data=data, allow_redirects=False, timeout=10)
    raise AssertionError("the provider never sent the browser back")
