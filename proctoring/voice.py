"""Sustained voice activity, from the audio levels the sender puts in every RTP packet.

Browsers (and aiortc) send the RFC 6464 audio-level header extension: the loudness of each
20 ms packet in -dBov (0 loud, 127 silence). Reading it costs nothing: the audio is never
decoded. Speech is loud *and* fluctuates with syllables; a fan or a hum is steady. Over a
sliding window, the detector calls it voice when most 100 ms bins are louder than
``ACTIVE_DBOV`` and their loudness varies by at least ``MIN_SPREAD_DB``. Advisory only: the
flag goes to a proctor, who listens to the recording.
"""

from __future__ import annotations

import collections
import statistics

WINDOW_S = 8.0  # how long speech must go on
ACTIVE_DBOV = 50  # a bin louder than -50 dBov counts as sound
MIN_ACTIVE_SHARE = 0.6  # share of bins with sound in the window
MIN_SPREAD_DB = 4.0  # standard deviation of the loud bins: speech varies, a hum does not
BIN_S = 0.1


class VoiceDetector:
    """Feed ``add(time, level)`` per packet; ``sustained(time)`` says whether someone has been talking."""

    def __init__(self) -> None:
        self._bins: collections.deque[tuple[float, int]] = collections.deque()
        self._bin_start = -1.0
        self._bin_loudest = 127

    def add(self, t: float, level: int) -> None:
        """One packet's level (-dBov, 0..127) at monotonic time ``t``."""
        if t - self._bin_start >= BIN_S:
            if self._bin_start >= 0:
                self._bins.append((self._bin_start, self._bin_loudest))
            self._bin_start, self._bin_loudest = t, level
            while self._bins and self._bins[0][0] < t - WINDOW_S:
                self._bins.popleft()
        else:
            self._bin_loudest = min(self._bin_loudest, level)

    def sustained(self, t: float) -> bool:
        """True if the last ``WINDOW_S`` seconds sound like speech."""
        bins = [lvl for start, lvl in self._bins if start >= t - WINDOW_S]
        if len(bins) < 0.8 * WINDOW_S / BIN_S:
            return False  # not enough audio yet (or the stream stalled)
        loud = [lvl for lvl in bins if lvl <= ACTIVE_DBOV]
        return len(loud) >= MIN_ACTIVE_SHARE * len(bins) and len(loud) > 1 and statistics.pstdev(loud) >= MIN_SPREAD_DB
