"""Content codings undone a bounded step at a time: no piece is ever larger than the step, whatever
the compressed bytes inflate to or how the network cut them."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jobstatus.hooks._decoding import CodingError, CutShort, decoded


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` in network reads of the given sizes (the last read takes the rest)."""
    pieces, at = [], 0
    for size in sizes:
        pieces.append(data[at : at + size])
        at += size
    return [*pieces, data[at:]]


ENCODE = {
    None: lambda data: data,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "gzip, gzip": lambda data: gzip.compress(gzip.compress(data)),
    "deflate, x-gzip": lambda data: gzip.compress(zlib.compress(data)),
}


@settings(max_examples=60, deadline=None)
@given(
    coding=st.sampled_from(sorted(ENCODE, key=str)),
    body=st.one_of(st.binary(max_size=3000), st.integers(0, 300_000).map(bytes)),
    step=st.integers(1, 70_000),
    reads=st.lists(st.integers(1, 5000), max_size=8),
)
def test_every_piece_is_at_most_a_step_and_all_of_it_arrives(
    coding: str | None, body: bytes, step: int, reads: list[int]
) -> None:
    pieces = list(decoded(coding, cut(ENCODE[coding](body), reads), step))
    assert all(len(piece) <= step for piece in pieces)
    assert b"".join(pieces) == body


def test_a_bomb_yields_one_step_at_a_time() -> None:
    bomb = gzip.compress(gzip.compress(bytes(64 * 1024 * 1024)))
    pieces = decoded("gzip, gzip", [bomb], 4096)
    tracemalloc.start()
    try:
        first = next(pieces)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(first) == 4096
    assert peak < 1024 * 1024, f"{peak} bytes held to give the first 4 KiB of a 64 MiB bomb"


def test_several_gzip_members_make_one_body() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second")
    assert b"".join(decoded("gzip", [body[:7], body[7:]], 3)) == b"first second"


def test_a_cut_stream_and_bad_data_are_told_apart() -> None:
    whole = gzip.compress(bytes(range(256)) * 100)
    with pytest.raises(CutShort):
        list(decoded("gzip", [whole[: len(whole) // 2]], 1024))
    with pytest.raises(CodingError) as bad:
        list(decoded("gzip", [b"not gzip at all"], 1024))
    assert not isinstance(bad.value, CutShort)


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br"])
def test_codings_we_cannot_bound_are_refused_by_name(coding: str) -> None:
    with pytest.raises(CodingError, match=repr(coding.split(", ")[-1])):
        decoded(coding, [b"x"], 10)


def test_an_empty_compressed_body_is_empty() -> None:
    assert list(decoded("gzip", [b""], 10)) == []
