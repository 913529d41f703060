"""Servers the HTTP-stack tests talk to, on asyncio streams in a background thread: an origin that
answers each request with whatever raw bytes a test scripts (1xx answers, bombs, lies about
lengths, stalls) and a forward proxy (absolute-form and ``CONNECT``) that records what it saw.

They are deliberately hand-written: a well-behaved library server could not misbehave like this.
Each parses just enough HTTP/1.1 to find where one request ends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Background:
    """An event loop in a daemon thread, so the servers run while a test blocks in sync calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        async def wrapped() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@dataclass
class Seen:
    """One request as a server read it."""

    connection: int
    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Reply:
    """What to write back: raw bytes (or pieces of them), then maybe close or stall."""

    data: bytes | Iterable[bytes] = b""
    close: bool = False
    #: seconds to wait before writing anything (longer than the client's timeout: a read timeout)
    stall: float = 0.0


Script = Callable[[Seen], Reply]


def http_answer(
    body: bytes,
    status: str = "200 OK",
    headers: Iterable[tuple[str, str]] = (),
    *,
    length: int | None = None,
) -> bytes:
    """A complete HTTP/1.1 response; ``length`` overrides the Content-Length header (a lie)."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    """The request (or response) line and headers, or None at a clean end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    first, *rest = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers: dict[str, str] = {}
    for line in rest:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return first, headers


class Origin:
    """An HTTP/1.1 server that answers every request with ``script(seen)`` and keeps the
    connection open between requests (keep-alive) unless the script closes it.

    It counts connections so tests can tell a retry from one attempt, and answers a TLS hello on a
    plain port with ``400`` as plain servers do."""

    def __init__(self, bg: Background, script: Script) -> None:
        self.bg = bg
        self.script = script
        self.requests: list[Seen] = []
        self.connections = 0
        self._server: asyncio.Server = bg.run(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 20)
        )
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        # asyncio servers are not thread-safe: close on their own loop
        self.bg.run(_close(self._server))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            first = await reader.read(1)
            if first and not first.isalpha():  # a TLS ClientHello (0x16) on a plain port
                writer.write(http_answer(b"plain HTTP here", "400 Bad Request", [("Connection", "close")]))
                await writer.drain()
                return
            while True:
                head = await read_head(reader)
                if head is None:
                    return
                line, headers = head
                method, target, _ = (first.decode() + line).split(" ", 2)
                first = b""
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                seen = Seen(number, method, target, headers, body)
                self.requests.append(seen)
                reply = self.script(seen)
                if reply.stall:
                    await asyncio.sleep(reply.stall)
                for piece in [reply.data] if isinstance(reply.data, bytes) else reply.data:
                    writer.write(piece)
                    await writer.drain()
                if reply.close or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            return  # the client gave up (it refused what we sent): that is what tests look for
        finally:
            with contextlib.suppress(Exception):
                writer.close()


class TlsFront:
    """TLS in front of an :class:`Origin`, on blocking ``ssl`` sockets in threads. Unlike asyncio's
    TLS (which drops the connection), a refused handshake sends its alert and closes gracefully,
    as servers built on OpenSSL do: clients see *why* (unknown CA, certificate required).

    It counts connections before their handshake: a refused handshake is an attempt too."""

    def __init__(self, backend: Origin, context: ssl.SSLContext) -> None:
        self.backend = backend
        self.context = context
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def requests(self) -> list[Seen]:
        return self.backend.requests

    def close(self) -> None:
        self._listener.close()
        self.backend.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError):
            _linger(tls)  # the alert is on its way: let it arrive before the close
            return
        try:
            with socket.create_connection(("127.0.0.1", self.backend.port)) as up:
                _pump(tls, up)
        except OSError:
            pass
        finally:
            tls.close()


def _linger(sock: socket.socket) -> None:
    """Close without a reset: a close with unread data (the client's request) would send RST, and
    the client would then lose the alert that says what was wrong."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_WR)
        sock.settimeout(1)
        while socket.socket.recv(sock, 65536):
            pass
    sock.close()


def _pump(tls: ssl.SSLSocket, up: socket.socket) -> None:
    """Copy both ways between the TLS client and the backend, in one thread (an SSL object must
    not be read and written from two threads at once)."""
    while True:
        ready = [tls] if tls.pending() else select.select([tls, up], [], [], 30)[0]
        if not ready:
            return
        for src in ready:
            data = src.recv(65536)
            if not data:
                return
            (up if src is tls else tls).sendall(data)


@dataclass
class ProxySeen:
    """One request a proxy was asked to forward."""

    method: str
    target: str
    proxy_authorization: str | None


@dataclass
class ForwardProxy:
    """A forward proxy: absolute-form requests (``GET http://host/...``) forwarded one per
    connection, ``CONNECT host:port`` tunnelled. With ``user``/``password`` it asks for them (407)."""

    bg: Background
    user: str | None = None
    password: str | None = None
    seen: list[ProxySeen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: asyncio.Server = self.bg.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port: int = self._server.sockets[0].getsockname()[1]

    def url(self, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        return [s.target for s in self.seen]

    def close(self) -> None:
        # asyncio servers are not thread-safe: close on their own loop
        self.bg.run(_close(self._server))

    def _allowed(self, header: str | None) -> bool:
        if self.user is None:
            return True
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await read_head(reader)
            if head is None:
                return
            line, headers = head
            method, target, version = line.split(" ", 2)
            auth = headers.get("proxy-authorization")
            self.seen.append(ProxySeen(method, target, auth))
            if not self._allowed(auth):
                writer.write(
                    http_answer(
                        b"", "407 Proxy Authentication Required", [("Proxy-Authenticate", 'Basic realm="t"')]
                    )
                )
                await writer.drain()
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await _pipe_both(reader, writer, up_reader, up_writer)
                return
            await self._forward(reader, writer, method, target, version, headers)
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        version: str,
        headers: dict[str, str],
    ) -> None:
        """One absolute-form request: sent on in origin-form, the answer relayed with
        ``Connection: close`` (so clients never reuse this connection for another host)."""
        rest = target.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        body = await reader.readexactly(int(headers.get("content-length") or 0))
        up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
        sent = {k: v for k, v in headers.items() if k not in ("proxy-authorization", "proxy-connection")}
        sent["connection"] = "close"
        head = f"{method} /{path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        up_writer.write(head.encode("latin-1") + b"\r\n" + body)
        await up_writer.drain()
        answer = await read_head(up_reader)
        if answer is None:
            return
        status, answer_headers = answer
        answer_headers["connection"] = "close"
        writer.write(
            (status + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in answer_headers.items()) + "\r\n").encode(
                "latin-1"
            )
        )
        await _pipe(up_reader, writer)
        up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def one_way(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        await _pipe(src, dst)
        with contextlib.suppress(Exception):
            dst.close()

    await asyncio.gather(one_way(reader, up_writer), one_way(up_reader, writer))


async def _close(server: asyncio.Server) -> None:
    server.close()


@contextlib.contextmanager
def running(*servers: Any) -> Iterator[None]:
    """Close the given servers when the block ends."""
    try:
        yield
    finally:
        for server in servers:
            server.close()
