"""How the engine meets a browser's ICE candidates, whatever the browser offers.

Browsers hide their local addresses behind mDNS names (``<uuid>.local``) on every page without camera
permission: Firefox and Chrome on the proctor's live view, a candidate's page before "Allow", privacy-hardened
setups. Without STUN or TURN (``make run``, a LAN) such an offer holds nothing but those names. aioice would
try to resolve them by multicast DNS (a second's wait, and nobody answers across hosts, containers or
routed networks), then, at the offer's end-of-candidates, prune every component without a candidate and
answer with no candidate of its own: the browser had nowhere to send its checks and failed five seconds
later, silently.

The browser is always the offerer (ICE-controlling) and the engine's answer lists the engine's own
addresses, so the browser's checks reach the engine and the engine learns the browser's address from them
(a peer-reflexive candidate, RFC 8445 section 7.3.1.3). So the engine leaves the names out of the offer and,
when it did, the end-of-candidates too: it then waits for the browser's checks instead of giving up at once,
for ``connect_timeout`` seconds, after which the connection is closed and the reason logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

log = logging.getLogger("proctoring.engine")

# aioice's own choice of addresses (every interface's but loopback), kept before any engine replaces it.
_aioice_host_addresses: Callable[..., list[str]] | None = None

_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ (\w+)", re.IGNORECASE)


def _is_mdns(host: str) -> bool:
    return host.lower().endswith(".local")


def hide_mdns_candidates(sdp: str) -> tuple[str, int]:
    """The offer without its mDNS candidates, and how many were left out.

    End-of-candidates goes too where any were left out or none is left (aioice would otherwise prune every
    component and answer without a candidate of its own)."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    hidden = 0
    for line in lines:
        m = _CANDIDATE.match(line)
        if m and _is_mdns(m.group(2)):
            hidden += 1
            continue
        kept.append(line)
    if not hidden and any(_CANDIDATE.match(ln) for ln in kept):
        return sdp, 0
    kept = [ln for ln in kept if ln != "a=end-of-candidates"]
    return "\r\n".join(kept), hidden


def use_host_addresses(addresses: list[str] | None) -> None:
    """Set the addresses aioice gathers host candidates on, for the whole process: ``addresses`` where configured
    (MEDIA_HOST_ADDRESSES), else every interface's but loopback (aioice's own choice) and loopback where there is
    no other (a laptop offline), so that an answer never goes out without a candidate of the engine's own."""
    global _aioice_host_addresses
    import aioice.ice

    if _aioice_host_addresses is None:
        _aioice_host_addresses = aioice.ice.get_host_addresses
    default = _aioice_host_addresses
    fixed = list(addresses) if addresses is not None else None

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if fixed is not None:
            return fixed
        found = default(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return found or (["127.0.0.1"] if use_ipv4 else ["::1"] if use_ipv6 else [])

    aioice.ice.get_host_addresses = host_addresses


def offered_candidates(sdp: str) -> dict[str, int]:
    """How many candidates of each type an SDP holds (host names under mDNS counted as ``mdns``)."""
    counts: dict[str, int] = {}
    for line in sdp.splitlines():
        m = _CANDIDATE.match(line)
        if m:
            kind = "mdns" if _is_mdns(m.group(2)) else m.group(4).lower()
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def describe(counts: dict[str, int]) -> str:
    """A candidate count for the log, e.g. ``4 mDNS names (left out), 1 srflx``; ``no candidate`` when empty."""
    parts = [f"{n} mDNS names (left out)" if kind == "mdns" else f"{n} {kind}" for kind, n in sorted(counts.items())]
    return ", ".join(parts) or "no candidate"


def own_addresses(pc: Any) -> str:
    """The engine's candidates in its answer (address:port type), for the log."""
    desc = pc.localDescription
    found = [f"{m.group(2)}:{m.group(3)} {m.group(4)}" for ln in (desc.sdp.splitlines() if desc else [])
             if (m := _CANDIDATE.match(ln))]
    return ", ".join(dict.fromkeys(found)) or "none"


def path_of(pc: Any) -> str | None:
    """Which way a connected peer connection took: ``relay`` (through TURN) or ``direct`` (None before it connects).

    Read from aioice's nominated pair: either side a relayed candidate means TURN."""
    for transport in getattr(pc, "_RTCPeerConnection__iceTransports", ()):
        nominated = getattr(transport._connection, "_nominated", {})
        for pair in nominated.values():
            if "relay" in (pair.local_candidate.type, pair.remote_candidate.type):
                return "relay"
            return "direct"
    return None


def failure_reason(offered: dict[str, int], timeout: float | None = None) -> str:
    """Why a connection to the browser was not made, in words for the log."""
    if timeout is not None:
        why = f"no connectivity check from the browser arrived within {timeout:g} s"
    else:
        why = "none of the browser's candidates answered and none of its checks arrived"
    hint = ""
    if offered.get("mdns") and not any(k != "mdns" for k in offered):
        hint = ("; the browser offered only mDNS names, so it must reach the engine itself: "
                "is the engine's address reachable from it (MEDIA_HOST_ADDRESSES), or is TURN needed?")
    return f"{why} (the browser offered {describe(offered)}){hint}"


def watch_connection(pc: Any, what: str, offered: dict[str, int], timeout: float) -> asyncio.Task[None]:
    """Log why ``pc`` fails, and close it (with the reason logged) if it is not connected after ``timeout``.

    ``what`` names the connection in the log (``session attempt-3``, ``viewer 5 of attempt-3``). Returns the
    timer's task (the caller may cancel it with the connection)."""

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "failed":
            log.warning("%s: connection failed: %s; the engine offered %s", what, failure_reason(offered),
                        own_addresses(pc))
        elif pc.connectionState == "connected":
            log.info("%s: connected %s", what, path_of(pc) or "")

    async def give_up() -> None:
        await asyncio.sleep(timeout)
        if pc.connectionState in ("new", "connecting"):
            log.warning("%s: connection failed: %s; the engine offered %s; closed", what,
                        failure_reason(offered, timeout), own_addresses(pc))
            await pc.close()

    return asyncio.ensure_future(give_up())
