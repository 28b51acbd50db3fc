"""Envelope encryption and the streaming authenticated format (see storage/FORMAT.md).

- Every blob has its own random 256-bit data key, stored only wrapped by a master key.
- A blob is a 16-byte header followed by segments sealed with AES-256-GCM under a key derived
  from the data key and the header (HKDF), so a changed header breaks every tag. Segment ``i``
  uses nonce ``prefix(7) || i (4, big endian) || last (1)``: reordering, dropping, cutting off
  the end or flipping a bit each make a tag fail. Any segment decrypts alone (seeking).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.errors import StorageIntegrityError

MAGIC = b"AUF1"
HEADER_SIZE = 16
TAG_SIZE = 16
PREFIX_SIZE = 7
DEFAULT_SEGMENT_SIZE = 256 * 1024
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
_INFO = b"aufsicht stream v1 segment key"


#: First byte of a version-2 wrap (``0x02 || nonce || ciphertext``), whose associated data binds what the key
#: belongs to. A version-1 wrap (before 2026-12) is ``nonce || ciphertext`` with only the master key's id as
#: associated data; it still opens, and ``vault.rewrap_all`` turns it into version 2.
WRAP_V2 = 2


def _wrap_aad(key_id: str, context: bytes) -> bytes:
    return b"aufsicht wrap v2\x00" + key_id.encode() + b"\x00" + context


def blob_context(blob_id: int, category: str) -> bytes:
    """What a blob's data key is bound to: the row's id and category (a wrapped key moved to another row, or
    its row given another category, does not open)."""
    return f"blob\x00{blob_id}\x00{category}".encode()


class MasterKeyring:
    """Master keys by id; the active one wraps new data keys, all of them unwrap."""

    def __init__(self, keys: dict[str, bytes], active_id: str) -> None:
        if active_id not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError("keyring needs 32-byte keys and an active key among them")
        self._keys = dict(keys)
        self.active_id = active_id

    @property
    def key_ids(self) -> list[str]:
        """The ids of every master key in the ring."""
        return list(self._keys)

    def wrap(self, data_key: bytes, context: bytes = b"") -> tuple[str, bytes]:
        """Wrap a data key (or a small secret) under the active master key, bound to ``context`` (e.g.
        :func:`blob_context`); returns (key id, ``0x02 || nonce || ciphertext``)."""
        nonce = os.urandom(12)
        return self.active_id, bytes([WRAP_V2]) + nonce + AESGCM(self._keys[self.active_id]).encrypt(
            nonce, data_key, _wrap_aad(self.active_id, context))

    @staticmethod
    def is_current(wrapped: bytes) -> bool:
        """Whether a wrap has the current format (a version-1 wrap might, by its random nonce, begin with 0x02
        too: then it is taken for current and stays as it is, which only costs its binding)."""
        return len(wrapped) > 13 and wrapped[0] == WRAP_V2

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes = b"") -> bytes:
        """Recover a data key wrapped for ``context``; an unknown id, a wrong key, another context or altered
        bytes raise StorageIntegrityError. Version-1 wraps (no context) still open."""
        master = self._keys.get(key_id)
        if master is None:
            raise StorageIntegrityError(f"Master key {key_id!r} is not in the keyring.")
        aead = AESGCM(master)
        if self.is_current(wrapped):
            try:
                return aead.decrypt(wrapped[1:13], wrapped[13:], _wrap_aad(key_id, context))
            except (InvalidTag, ValueError):
                pass  # perhaps a version-1 wrap whose nonce begins with 0x02
        try:
            return aead.decrypt(wrapped[:12], wrapped[12:], key_id.encode())
        except (InvalidTag, ValueError):
            raise StorageIntegrityError("The wrapped data key does not open with this master key.") from None


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def _segment_cipher(data_key: bytes, header: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=header, info=_INFO).derive(data_key)
    return AESGCM(key)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


class Sink(Protocol):
    """Where ciphertext goes: a backend write stream."""

    def write(self, data: bytes) -> int:
        """Append bytes."""

    def flush(self) -> None:
        """Make what was written durable."""

    def close(self) -> None:
        """Commit the object."""


class EncryptedWriter:
    """Encrypts data as it arrives into sealed segments; ``close`` seals the last one.

    File-like enough for muxers: ``write``, ``flush``, ``close``, ``tell`` (plaintext position).
    """

    def __init__(self, sink: Sink, data_key: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE) -> None:
        if not 1024 <= segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError("segment size out of range")
        self._sink = sink
        self._size = segment_size
        prefix = os.urandom(PREFIX_SIZE)
        self._header = MAGIC + struct.pack(">I", segment_size) + prefix + b"\x00"
        self._aead = _segment_cipher(data_key, self._header)
        self._prefix = prefix
        self._buf = bytearray()
        self._index = 0
        self._written = 0
        self.closed = False
        sink.write(self._header)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer plaintext and emit every segment that is known not to be the last."""
        if self.closed:
            raise ValueError("write to a closed EncryptedWriter")
        self._buf += data
        self._written += len(data)
        size = self._size
        if len(self._buf) > size:
            view = memoryview(self._buf)
            start = 0
            out = []
            while len(self._buf) - start > size:
                out.append(self._aead.encrypt(_nonce(self._prefix, self._index, False), view[start:start + size], None))
                self._index += 1
                start += size
            view.release()
            del self._buf[:start]
            self._sink.write(b"".join(out))
        return len(data)

    def tell(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._written

    def flush(self) -> None:
        """Make every emitted segment durable (buffered plaintext waits for a full segment)."""
        self._sink.flush()

    def close(self) -> None:
        """Seal the final segment and commit the blob."""
        if self.closed:
            return
        self._sink.write(self._aead.encrypt(_nonce(self._prefix, self._index, True), bytes(self._buf), None))
        self._buf.clear()
        self.closed = True
        self._sink.close()

    @property
    def plaintext_size(self) -> int:
        """Bytes written (after close: the blob's size)."""
        return self._written


def seal(data: bytes, data_key: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE) -> bytes:
    """Encrypt a whole byte string into the streaming format."""
    out = bytearray()

    class _Buf:
        def write(self, b: bytes) -> int:
            out.extend(b)
            return len(b)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    w = EncryptedWriter(_Buf(), data_key, segment_size)
    w.write(data)
    w.close()
    return bytes(out)


class EncryptedReader:
    """Random access to a sealed blob, verifying each segment's tag before releasing its plaintext.

    ``read_ciphertext(offset, length)`` and ``ciphertext_size`` describe the stored bytes.
    ``complete`` says whether the writer closed the blob cleanly: for a closed blob every flaw
    is an integrity error; for one whose writer died, a missing or partial tail is reported as
    ``truncated`` and every complete segment stays readable.
    """

    def __init__(self, read_ciphertext: Callable[[int, int], bytes], ciphertext_size: int, data_key: bytes,
                 *, complete: bool = True) -> None:
        self._read = read_ciphertext
        if ciphertext_size < HEADER_SIZE:
            if complete:
                raise StorageIntegrityError("The blob is shorter than its header.")
            header = b""
        else:
            header = read_ciphertext(0, HEADER_SIZE)
        self.truncated = False
        if len(header) < HEADER_SIZE:
            self.truncated = True
            self._segments = 0
            self.plaintext_size = 0
            self._last_len = 0
            return
        if header[:4] != MAGIC or header[15] != 0:
            raise StorageIntegrityError("Not a blob of this format (bad header).")
        (size,) = struct.unpack(">I", header[4:8])
        if not 1024 <= size <= MAX_SEGMENT_SIZE:
            raise StorageIntegrityError("Bad segment size in header.")
        self._size = size
        self._prefix = header[8:15]
        self._aead = _segment_cipher(data_key, header)
        self._seg_ct = size + TAG_SIZE
        body = ciphertext_size - HEADER_SIZE
        full, rem = divmod(body, self._seg_ct)
        self._complete_hint = complete
        # Work out where the stream ends and whether it ends properly.
        if rem >= TAG_SIZE:
            n_segments, last_len = full + 1, rem - TAG_SIZE
            if self._try(full, True, last_len) is None:
                if complete:
                    raise StorageIntegrityError("The last segment failed its integrity check.")
                n_segments, last_len, self.truncated = full, size, True
        elif full > 0 and rem == 0 and self._try(full - 1, True, size) is not None:
            n_segments, last_len = full, size
        else:
            if complete:
                raise StorageIntegrityError("The blob is cut off: its final segment is missing.")
            n_segments, last_len, self.truncated = full, size, True
        self._segments = n_segments
        self._last_len = last_len
        self._final_is_last = not self.truncated
        self.plaintext_size = 0 if n_segments == 0 else (n_segments - 1) * size + last_len

    @property
    def segment_size(self) -> int:
        """Plaintext bytes per segment (the last one may be shorter)."""
        return getattr(self, "_size", DEFAULT_SEGMENT_SIZE)

    def _try(self, index: int, last: bool, length: int) -> bytes | None:
        ct = self._read(HEADER_SIZE + index * self._seg_ct, length + TAG_SIZE)
        if len(ct) != length + TAG_SIZE:
            return None
        try:
            return self._aead.decrypt(_nonce(self._prefix, index, last), ct, None)
        except InvalidTag:
            return None

    def segment(self, index: int) -> bytes:
        """Decrypt and verify one segment."""
        if not 0 <= index < self._segments:
            raise IndexError(index)
        last = index == self._segments - 1 and self._final_is_last
        length = self._last_len if index == self._segments - 1 else self._size
        plain = self._try(index, last, length)
        if plain is None:
            raise StorageIntegrityError(f"Segment {index} failed its integrity check.")
        return plain

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """Plaintext bytes ``[offset, offset+length)``, decrypting only the segments needed."""
        if self._segments == 0:
            return b""
        end = self.plaintext_size if length is None else min(self.plaintext_size, offset + length)
        if offset >= end:
            return b""
        first, last = offset // self._size, (end - 1) // self._size
        parts = [self.segment(i) for i in range(first, last + 1)]
        data = b"".join(parts)
        start = offset - first * self._size
        return data[start:start + (end - offset)]

    def iter_chunks(self, batch: int = 16) -> Iterator[bytes]:
        """Plaintext segment by segment, fetching ``batch`` segments per backend read."""
        for first in range(0, self._segments, batch):
            count = min(batch, self._segments - first)
            length = (count - 1) * self._seg_ct + (self._last_len if first + count == self._segments
                                                   else self._size) + TAG_SIZE
            raw = memoryview(self._read(HEADER_SIZE + first * self._seg_ct, length))
            for j in range(count):
                index = first + j
                is_final = index == self._segments - 1
                ct = raw[j * self._seg_ct:j * self._seg_ct + (self._last_len if is_final else self._size) + TAG_SIZE]
                try:
                    yield self._aead.decrypt(_nonce(self._prefix, index, is_final and self._final_is_last), ct, None)
                except InvalidTag:
                    raise StorageIntegrityError(f"Segment {index} failed its integrity check.") from None

    def iter_range(self, offset: int, length: int, batch: int = 16) -> Iterator[bytes]:
        """Plaintext bytes ``[offset, offset+length)`` segment by segment, each verified before it is released;
        ``batch`` segments per backend read, so memory stays at about ``batch`` segments whatever the length."""
        end = min(self.plaintext_size, offset + max(0, length))
        if self._segments == 0 or offset >= end:
            return
        first, last = offset // self._size, (end - 1) // self._size
        for lo in range(first, last + 1, batch):
            hi = min(last, lo + batch - 1)
            tail = self._last_len if hi == self._segments - 1 else self._size
            raw = memoryview(self._read(HEADER_SIZE + lo * self._seg_ct, (hi - lo) * self._seg_ct + tail + TAG_SIZE))
            for index in range(lo, hi + 1):
                is_final = index == self._segments - 1
                n = (self._last_len if is_final else self._size) + TAG_SIZE
                ct = raw[(index - lo) * self._seg_ct:(index - lo) * self._seg_ct + n]
                if len(ct) != n:
                    raise StorageIntegrityError(f"Segment {index} is cut off.")
                try:
                    plain = self._aead.decrypt(_nonce(self._prefix, index, is_final and self._final_is_last), ct, None)
                except InvalidTag:
                    raise StorageIntegrityError(f"Segment {index} failed its integrity check.") from None
                base = index * self._size
                yield plain[max(0, offset - base):end - base]

    def verify(self) -> None:
        """Check every segment's tag, order and the end of the stream."""
        for i in range(self._segments):
            self.segment(i)
