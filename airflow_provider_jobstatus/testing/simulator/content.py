"""Deterministic result bytes, generated as a stream: never held in memory as a whole.

A file is a sequence of 256 KiB chunks; chunk ``k`` is SHAKE-128 of (file key, k) mapped onto
printable characters, so any range can be produced without the bytes before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

CHUNK_SIZE = 256 * 1024
_TABLE = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,\n" * 4
assert len(_TABLE) == 256


def content_key(seed: int, job_id: str, index: int) -> bytes:
    """The key that fixes the bytes of one result file."""
    return hashlib.sha256(f"jobstatus-sim:{seed}:{job_id}:{index}".encode()).digest()


def _chunk(key: bytes, k: int, length: int) -> bytes:
    return hashlib.shake_128(key + k.to_bytes(8, "big")).digest(length).translate(_TABLE)


def iter_bytes(key: bytes, size: int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of the file of ``size`` bytes, in chunks of at most CHUNK_SIZE."""
    stop = size if end is None else min(end, size)
    pos = max(0, start)
    while pos < stop:
        k = pos // CHUNK_SIZE
        chunk_start = k * CHUNK_SIZE
        chunk = _chunk(key, k, min(CHUNK_SIZE, size - chunk_start))
        piece = chunk[pos - chunk_start : stop - chunk_start]
        yield piece
        pos += len(piece)


def sha256_of(key: bytes, size: int) -> str:
    """SHA-256 (hex) of the whole file, computed by streaming it once."""
    digest = hashlib.sha256()
    for piece in iter_bytes(key, size):
        digest.update(piece)
    return digest.hexdigest()
