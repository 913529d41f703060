"""Content codings undone a bounded step at a time (zlib does the decoding; the bound is ours).

httpx inflates each network read whole: 250 KB of gzip can become 256 MiB in one step, and stacked
codings (``gzip, gzip``) multiply that. Here every step yields at most ``step`` bytes, whatever the
wire carries, so a caller that stops reading at its cap never holds more than the cap plus a step.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

#: the codings we decode (all through zlib, which reads gzip and zlib-wrapped deflate alike)
DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})


class CodingError(ValueError):
    """The body is not what its ``Content-Encoding`` says, or uses a coding we do not decode."""


class CutShort(CodingError):
    """The compressed stream ended before its own end marker: the body was cut."""


def codings(header: str | None) -> list[str]:
    """The codings of a ``Content-Encoding`` header in the order they were applied."""
    names = [name.strip().lower() for name in (header or "").split(",")]
    names = [name for name in names if name and name != "identity"]
    for name in names:
        if name not in DECODABLE:
            raise CodingError(f"content encoding {name!r} is not supported (only gzip and deflate)")
    return names


def decoded(header: str | None, chunks: Iterable[bytes], step: int) -> Iterator[bytes]:
    """The body with its codings undone, in pieces of at most ``step`` bytes."""
    names = codings(header)
    if not names:
        return _sliced(chunks, step)
    stream: Iterator[bytes] = iter(chunks)
    for name in reversed(names):  # the coding applied last is undone first
        stream = _inflated(stream, step, name)
    return stream


def _sliced(chunks: Iterable[bytes], step: int) -> Iterator[bytes]:
    for chunk in chunks:
        for start in range(0, len(chunk), step):
            yield chunk[start : start + step] if len(chunk) > step else chunk


def _inflated(chunks: Iterator[bytes], step: int, name: str) -> Iterator[bytes]:
    inflater = _inflater()
    started = False
    try:
        for data in chunks:
            started = started or bool(data)
            more = bool(data)
            while more:
                if inflater.eof:  # another member follows (gzip allows several)
                    inflater = _inflater()
                piece = inflater.decompress(data, step)
                if piece:
                    yield piece
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                # a full step may leave output inside zlib even when no input is left
                more = bool(data) or (len(piece) == step and not inflater.eof)
    except zlib.error as exc:
        raise CodingError(f"the body is not valid {name} data ({exc})") from None
    if started and not inflater.eof:
        raise CutShort(f"the {name} data stops before its end: the body was cut short")


def _inflater() -> zlib._Decompress:
    return zlib.decompressobj(zlib.MAX_WBITS | 32)  # a gzip or zlib header, told apart by zlib
