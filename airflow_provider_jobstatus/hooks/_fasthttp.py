"""A small HTTP/1.1 keep-alive client transport for httpx, built on asyncio protocols and httptools.

Why: a triggerer holding thousands of waits spends nearly all its CPU inside the HTTP client. A
poll is one small request on a warm keep-alive connection; general-purpose clients (httpx's own
pool, aiohttp) spend 0.5-4 ms of CPU on it, this one a fraction of that. It keeps the httpx API
(``httpx.Request`` in, ``httpx.Response`` out), so hooks, tests and MockTransport are unchanged.

What it does: one pool of connections per origin (capped), TLS with certifi's roots, response
bodies streamed with back-pressure (downloads never buffer a whole file), connect/read timeouts
from the request's httpx timeout, a stale pooled connection retried once on a fresh one, and
every failure raised as the matching ``httpx`` exception. What it does not: proxies (the hook
uses the aiohttp transport when proxy variables are set), HTTP/2, request body streaming.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HIGH_WATER = 1024 * 1024  # pause reading once this much body waits for the consumer
_LOW_WATER = 256 * 1024


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; carries one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.head: asyncio.Future[None] | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.received = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        self.delimited = False  # Content-Length or chunked: else the body ends when the server closes

    # -- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.status and not self.delimited and self.error is None:
            self.complete = True  # an HTTP/1.0-style body that ends with the connection
            self._wake()
        if not self.complete:
            if self.head is not None and not self.head.done() and not self.received:
                self._fail(httpx.RemoteProtocolError("server closed the connection without answering"))
            else:
                self._fail(httpx.RemoteProtocolError("connection closed before the response was complete"))

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.delimited = True

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.status in (204, 304) or 100 <= self.status < 200:
            self.delimited = True
        if self.head is not None and not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        if not self.parser.should_keep_alive():
            self.closed = True  # the pool will not reuse it
        self._wake()

    # -- helpers ---------------------------------------------------------------------------------
    def _fail(self, exc: Exception) -> None:
        self.error = exc
        if self.head is not None and not self.head.done():
            self.head.set_exception(exc)
            self.head.exception()  # retrieved: the caller may already be gone
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def send(self, data: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        self._reset()
        self.head = loop.create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.head

    def take(self) -> bytes | None:
        if not self.chunks:
            return None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered < _LOW_WATER and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _time_out(head: asyncio.Future[None]) -> None:
    if not head.done():
        head.set_exception(httpx.ReadTimeout("read timed out"))


class _Body(httpx.AsyncByteStream):
    def __init__(self, pool: _Pool, conn: _Connection, read_timeout: float | None) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = read_timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            chunk = conn.take()
            if chunk is not None:
                yield chunk
                continue
            if conn.complete:
                return
            if conn.error is not None:
                raise conn.error
            conn.waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(conn.waiter, self._timeout)
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("timed out reading the response body") from None

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._pool.release(self._conn)


class _Pool:
    """Connections to one origin: idle ones reused newest first, at most ``limit`` open."""

    def __init__(
        self, host: str, port: int, tls: ssl.SSLContext | None, limit: int, keepalive: float
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(limit)
        self.keepalive = keepalive

    async def acquire(self, connect_timeout: float | None) -> tuple[_Connection, bool]:
        await self.slots.acquire()
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive:
                return conn, True
            conn.close()
        try:
            loop = asyncio.get_running_loop()
            connect = loop.create_connection(
                _Connection,
                self.host,
                self.port,
                ssl=self.tls,
                server_hostname=self.host if self.tls else None,
            )
            _, conn = await asyncio.wait_for(connect, connect_timeout)
        except TimeoutError:
            self.slots.release()
            raise httpx.ConnectTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            self.slots.release()
            raise httpx.ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        except BaseException:  # cancelled while connecting: the slot is free again
            self.slots.release()
            raise
        return conn, False

    def release(self, conn: _Connection) -> None:
        """Back to the pool if the exchange finished cleanly, else closed."""
        if conn.complete and not conn.closed and not conn.chunks:
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
        else:
            conn.close()
        self.slots.release()

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


class BodyTooLarge(Exception):
    """An answer longer than the caller allowed."""


#: a request target that needs no encoding: unreserved and sub-delimiter characters, ``:@/?`` and
#: well-formed percent escapes (what the vendor modules produce: ids are quoted path segments);
#: dot segments are left to httpx, which removes them
_PLAIN_TARGET = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")


@functools.lru_cache(maxsize=16384)
def _target(url: str) -> tuple[str, str, int | None, bytes, bytes]:
    """(scheme, host, port, request target, Host header) of a URL; a wait asks the same URL each poll.

    Every job has its own URL, so each wait pays this once: the origin is parsed (and validated)
    once per origin, the rest taken as it is when it needs no encoding. Anything else goes to httpx."""
    start = url.find("://")
    slash = url.find("/", start + 3) if start > 0 else -1
    if slash > 0 and _PLAIN_TARGET.fullmatch(url, slash) and "/." not in url.partition("?")[0]:
        scheme, host, port, netloc = _origin(url[:slash])
        return scheme, host, port, url[slash:].encode("ascii"), netloc
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port, parsed.raw_path, parsed.netloc


@functools.lru_cache(maxsize=256)
def _origin(prefix: str) -> tuple[str, str, int | None, bytes]:
    parsed = httpx.URL(prefix)
    return parsed.scheme, parsed.host, parsed.port, parsed.netloc


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: reading the CA roots takes tens of milliseconds."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class FastHTTPTransport(httpx.AsyncBaseTransport):
    """httpx transport over :class:`_Connection` pools (one per origin, per event loop)."""

    def __init__(self, max_connections_per_host: int = 256, keepalive_expiry: float = 30.0) -> None:
        self._limit = max_connections_per_host
        self._keepalive = keepalive_expiry
        self._pools: dict[tuple[str, str, int], _Pool] = {}

    def _pool(self, scheme: str, host: str, port: int | None) -> _Pool:
        port = port or _DEFAULT_PORTS.get(scheme, 80)
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            if scheme not in _DEFAULT_PORTS:
                raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
            tls = self._tls_context() if scheme == "https" else None
            pool = self._pools[key] = _Pool(host, port, tls, self._limit, self._keepalive)
        return pool

    def _tls_context(self) -> ssl.SSLContext:
        return tls_context()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        body = request.content if isinstance(request.stream, httpx.ByteStream) else await request.aread()
        url = request.url
        lines = [request.method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            lines += [name, b": ", value, b"\r\n"]
        if body and "content-length" not in request.headers:
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines += [b"\r\n", body]
        pool = self._pool(url.scheme, url.host, url.port)
        conn = await self._roundtrip(pool, b"".join(lines), timeout)
        return httpx.Response(
            status_code=conn.status,
            headers=conn.headers,
            stream=_Body(pool, conn, timeout.get("read")),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: dict[str, Any],
        limit: int,
    ) -> tuple[int, dict[str, str], bytes]:
        """One small request and its whole answer, without building httpx objects: a status poll
        is mostly this, and for thousands of waits the objects cost more than the exchange.

        Raises :class:`BodyTooLarge` past ``limit`` bytes (the connection is dropped, not drained).
        """
        scheme, host, port, target, host_header = _target(url)
        lines = [method.encode(), b" ", target, b" HTTP/1.1\r\nHost: ", host_header, b"\r\n"]
        for name, value in headers.items():
            lines += [name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n"]
        if body:
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines += [b"\r\n", body or b""]
        pool = self._pool(scheme, host, port)
        conn = await self._roundtrip(pool, b"".join(lines), timeout)
        try:
            if conn.complete and not conn.paused and conn.buffered <= limit:
                data = b"".join(conn.chunks)  # a small answer comes whole with its head
                conn.chunks.clear()
            else:
                data = await self._read_all(pool, conn, timeout.get("read"), limit)
        finally:
            pool.release(conn)
        answer = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in conn.headers}
        if answer.get("content-encoding", "identity") not in ("identity", ""):  # rare: httpx decodes it
            data = httpx.Response(200, headers=conn.headers, stream=httpx.ByteStream(data)).read()
        return conn.status, answer, data

    @staticmethod
    async def _read_all(pool: _Pool, conn: _Connection, read_timeout: float | None, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in _Body(pool, conn, read_timeout):
            size += len(chunk)
            if size > limit:
                conn.close()
                raise BodyTooLarge(size)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _roundtrip(self, pool: _Pool, data: bytes, timeout: dict[str, Any]) -> _Connection:
        """Send a request on a pooled connection and wait for the answer's head.

        The read timeout is a plain timer on the connection rather than ``asyncio.wait_for``: one
        handle instead of a waiter future, a callback and an extra hop through the loop per poll."""
        loop = asyncio.get_running_loop()
        read_timeout = timeout.get("read")
        for attempt in range(2):
            conn, reused = await pool.acquire(timeout.get("connect"))
            head = conn.send(data, loop)
            timer = None if read_timeout is None else loop.call_later(read_timeout, _time_out, head)
            try:
                await head
            except httpx.ReadTimeout:
                conn.close()
                pool.release(conn)
                raise httpx.ReadTimeout(f"no answer from {pool.host} within {read_timeout} s") from None
            except httpx.TransportError:
                stale = reused and not conn.received
                conn.close()
                pool.release(conn)
                if stale and attempt == 0:
                    continue  # a kept-alive connection the server had closed: try a fresh one
                raise
            except BaseException:  # cancelled mid-exchange: the connection is in an unknown state
                conn.close()
                pool.release(conn)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            return conn
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
