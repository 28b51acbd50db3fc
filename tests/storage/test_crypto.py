"""The streaming format: round trips, every tamper case, crash truncation, wrong keys, rotation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.backends import LocalBlobStore, new_key
from storage.crypto import HEADER_SIZE, TAG_SIZE, EncryptedReader, EncryptedWriter, MasterKeyring, new_data_key, seal
from storage.errors import StorageIntegrityError

SEG = 4096


def reader(ct: bytes, key: bytes, complete: bool = True) -> EncryptedReader:
    return EncryptedReader(lambda off, n: ct[off:off + n], len(ct), key, complete=complete)


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 5 * SEG + 7])
def test_round_trip_sizes(size):
    key, data = new_data_key(), os.urandom(size)
    ct = seal(data, key, SEG)
    r = reader(ct, key)
    assert r.plaintext_size == size and r.read() == data and not r.truncated
    r.verify()


def test_round_trip_50mb_through_local_backend(tmp_path):
    store, key = LocalBlobStore(tmp_path), new_data_key()
    data = os.urandom(50 * 1024 * 1024)
    k = new_key("recording")
    w = EncryptedWriter(store.open_write(k), key)
    for i in range(0, len(data), 1_000_003):  # odd chunks, as a muxer writes them
        w.write(data[i:i + 1_000_003])
    w.close()
    r = EncryptedReader(lambda o, n: store.read_range(k, o, n), store.size(k), key)
    assert r.plaintext_size == len(data)
    assert r.read(33_000_000, 1000) == data[33_000_000:33_001_000]  # random access
    assert b"".join(r.iter_chunks()) == data


def test_random_access_decrypts_only_needed_segments():
    key, data = new_data_key(), os.urandom(10 * SEG)
    ct = bytearray(seal(data, key, SEG))
    ct[HEADER_SIZE + 1] ^= 1  # damage segment 0 only
    r = reader(bytes(ct), key)
    assert r.read(5 * SEG + 10, 100) == data[5 * SEG + 10:5 * SEG + 110]
    with pytest.raises(StorageIntegrityError):
        r.read(0, 10)


def _segments(ct: bytes) -> tuple[bytes, list[bytes]]:
    body, step = ct[HEADER_SIZE:], SEG + TAG_SIZE
    return ct[:HEADER_SIZE], [body[i:i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize("case", ["flip_body", "flip_tag", "flip_header", "reorder", "drop_middle", "truncate_end",
                                  "cut_mid_segment", "swap_prefix"])
def test_each_tamper_case_is_detected(case):
    key, data = new_data_key(), os.urandom(4 * SEG + 100)
    ct = seal(data, key, SEG)
    header, segs = _segments(ct)
    if case == "flip_body":
        bad = bytearray(ct); bad[HEADER_SIZE + SEG + TAG_SIZE + 5] ^= 0x40; bad = bytes(bad)  # noqa: E702
    elif case == "flip_tag":
        bad = bytearray(ct); bad[HEADER_SIZE + SEG + 3] ^= 1; bad = bytes(bad)  # noqa: E702
    elif case == "flip_header":
        bad = bytearray(ct); bad[10] ^= 1; bad = bytes(bad)  # noqa: E702
    elif case == "reorder":
        bad = header + segs[1] + segs[0] + b"".join(segs[2:])
    elif case == "drop_middle":
        bad = header + segs[0] + b"".join(segs[2:])
    elif case == "truncate_end":
        bad = header + b"".join(segs[:-1])
    elif case == "cut_mid_segment":
        bad = ct[:-50]
    else:  # another blob's header with this blob's segments
        bad = seal(data, key, SEG)[:HEADER_SIZE] + ct[HEADER_SIZE:]
    with pytest.raises(StorageIntegrityError):
        r = reader(bad, key)
        r.verify()
        r.read()


def test_wrong_data_key_is_an_integrity_error():
    ct = seal(b"secret" * 1000, new_data_key(), SEG)
    with pytest.raises(StorageIntegrityError):
        reader(ct, new_data_key()).read()


def test_crash_truncation_keeps_complete_segments_and_reports_truncated(tmp_path):
    """A writer process killed with SIGKILL: every complete segment reads back, the blob is 'truncated'."""
    store = LocalBlobStore(tmp_path)
    key, k = new_data_key(), new_key("recording")
    script = f"""
import sys, time, os
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from storage.backends import LocalBlobStore
from storage.crypto import EncryptedWriter
w = EncryptedWriter(LocalBlobStore({str(tmp_path)!r}).open_write({k!r}), bytes.fromhex({key.hex()!r}), {SEG})
i = 0
while True:
    w.write(bytes([i % 251]) * 1000)
    if i % 10 == 9:
        w.flush()
    if i == 50:
        print("ready", flush=True)
    i += 1
    time.sleep(0.001)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with pytest.raises(StorageIntegrityError):  # as a closed blob it would be damaged...
        EncryptedReader(lambda o, n: store.read_range(k, o, n), store.size(k), key, complete=True)
    r = EncryptedReader(lambda o, n: store.read_range(k, o, n), store.size(k), key, complete=False)
    assert r.truncated and r.plaintext_size >= 50_000
    data = r.read()
    assert len(data) == r.plaintext_size and len(data) % SEG == 0
    assert data[:1000] == bytes([0]) * 1000 and data[1000:2000] == bytes([1]) * 1000
    r.verify()


def test_master_key_wrap_rotation_and_wrong_master_key():
    ring1 = MasterKeyring({"k1": os.urandom(32)}, "k1")
    dk = new_data_key()
    kid, wrapped = ring1.wrap(dk)
    ring2 = MasterKeyring({"k1": ring1._keys["k1"], "k2": os.urandom(32)}, "k2")
    kid2, rewrapped = ring2.wrap(ring2.unwrap(kid, wrapped))
    assert kid2 == "k2" and ring2.unwrap(kid2, rewrapped) == dk
    with pytest.raises(StorageIntegrityError):
        ring1.unwrap(kid2, rewrapped)  # old ring does not know k2
    with pytest.raises(StorageIntegrityError):
        MasterKeyring({"k1": os.urandom(32)}, "k1").unwrap("k1", wrapped)  # wrong master key
    with pytest.raises(StorageIntegrityError):
        ring1.unwrap("k1", wrapped[:-1] + bytes([wrapped[-1] ^ 1]))


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3 * SEG + 10), offset=st.integers(0, 4 * SEG), length=st.integers(0, 4 * SEG))
def test_property_ranges_round_trip(data, offset, length):
    key = new_data_key()
    assert reader(seal(data, key, SEG), key).read(offset, length) == data[offset:offset + length]


@settings(max_examples=80, deadline=None)
@given(data=st.binary(min_size=1, max_size=2 * SEG + 10), pos=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_property_any_flipped_bit_is_refused_never_wrong_plaintext(data, pos, bit):
    key = new_data_key()
    ct = bytearray(seal(data, key, SEG))
    ct[pos % len(ct)] ^= 1 << bit
    with pytest.raises(StorageIntegrityError):
        r = reader(bytes(ct), key)
        r.verify()
        assert r.read() != data  # unreachable: verify must raise first


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 6 * SEG + 5), offset=st.integers(0, 7 * SEG), length=st.integers(0, 7 * SEG),
       batch=st.integers(1, 4))
def test_iter_range_yields_exactly_the_range_segment_by_segment(size, offset, length, batch):
    key = new_data_key()
    data = bytes(i % 251 for i in range(size))
    r = reader(seal(data, key, SEG), key)
    pieces = list(r.iter_range(offset, length, batch=batch))
    assert b"".join(pieces) == data[offset:offset + length]
    assert all(len(p) <= SEG for p in pieces)  # never more than one segment at a time


def test_iter_range_refuses_a_tampered_segment_and_a_truncated_tail():
    key = new_data_key()
    ct = bytearray(seal(os.urandom(3 * SEG), key, SEG))
    ct[HEADER_SIZE + SEG + TAG_SIZE + 10] ^= 1  # the second segment
    with pytest.raises(StorageIntegrityError):
        list(reader(bytes(ct), key).iter_range(0, 3 * SEG))
    cut = seal(os.urandom(3 * SEG), key, SEG)[:-5]
    partial = reader(cut, key, complete=False)
    assert partial.truncated and len(b"".join(partial.iter_range(0, 3 * SEG))) == partial.plaintext_size
