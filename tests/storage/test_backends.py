"""Both backends behave the same; neither ever sees plaintext; keys can't escape the store."""

from __future__ import annotations

import os

import pytest

from storage.backends import LocalBlobStore, S3BlobStore, check_key, new_key
from storage.crypto import EncryptedReader, EncryptedWriter, new_data_key

pytestmark = pytest.mark.s3


def test_stream_round_trip_and_no_plaintext_at_rest(blob_backend):
    key, k = new_data_key(), new_key("recording")
    marker = b"PLAINTEXT-MARKER-" * 1000
    data = marker + os.urandom(12 * 1024 * 1024)  # more than one S3 part
    w = EncryptedWriter(blob_backend.open_write(k), key)
    for i in range(0, len(data), 700_001):
        w.write(data[i:i + 700_001])
    w.close()
    stored = blob_backend.read_range(k, 0, blob_backend.size(k))
    assert b"PLAINTEXT-MARKER" not in stored
    r = EncryptedReader(lambda o, n: blob_backend.read_range(k, o, n), blob_backend.size(k), key)
    assert r.read(5_000_000, 4096) == data[5_000_000:5_004_096]
    assert r.read() == data
    assert k in set(blob_backend.keys())
    blob_backend.delete(k)
    blob_backend.delete(k)  # idempotent
    assert not blob_backend.exists(k)


def test_abort_leaves_nothing(blob_backend):
    k = new_key("snapshot")
    s = blob_backend.open_write(k)
    s.write(b"x" * 100)
    s.abort()
    assert not blob_backend.exists(k)


@pytest.mark.parametrize("bad", ["../etc/passwd", "recording/../../x", "/abs/path", "recording/00/short",
                                 "Recording/ab/" + "a" * 32, ""])
def test_keys_are_never_paths_from_input(tmp_path, bad):
    with pytest.raises(ValueError):
        check_key(bad)
    with pytest.raises(ValueError):
        LocalBlobStore(tmp_path).open_write(bad)


def test_s3_crashed_multipart_upload_is_recovered_as_truncated(seaweedfs):
    store = S3BlobStore(seaweedfs["endpoint_url"], seaweedfs["bucket"], seaweedfs["access_key"],
                        seaweedfs["secret_key"])
    key, k = new_data_key(), new_key("recording")
    w = EncryptedWriter(store.open_write(k), key)
    w.write(os.urandom(9 * 1024 * 1024))  # one 8 MiB part goes out, then the writer "crashes"
    assert not store.exists(k)
    assert store.recover(k)
    r = EncryptedReader(lambda o, n: store.read_range(k, o, n), store.size(k), key, complete=False)
    assert r.truncated and r.plaintext_size > 7 * 1024 * 1024
    r.verify()
    store.delete(k)
