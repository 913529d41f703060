"""The fast HTTP/1.1 transport against a scripted loopback server: keep-alive, stale connections,
body framings, truncation, timeouts, connection caps and back-pressure."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jobstatus.hooks._fasthttp import BodyTooLarge, FastHTTPTransport, _target

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.open_now = 0
        self.max_open = 0

    async def start(self, handler: Handler) -> str:
        async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self.open_now += 1
            self.max_open = max(self.max_open, self.open_now)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                self.open_now -= 1
                writer.close()

        self.server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if length:
        await reader.readexactly(length)
    return head


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    yield s
    await s.stop()


async def get(transport: FastHTTPTransport, url: str, timeout: float = 5.0) -> httpx.Response:
    request = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(timeout).as_dict()})
    response = await transport.handle_async_request(request)
    await response.aread()
    await response.aclose()
    return response


async def test_keep_alive_reuses_one_connection(server: Server) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            writer.write(ok(head.split(b" ")[1]))
            await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport()
    for i in range(5):
        response = await get(transport, f"{url}/r{i}?q=a%2Fb")
        assert response.status_code == 200 and response.content == f"/r{i}?q=a%2Fb".encode()
    assert server.connections == 1
    await transport.aclose()


async def test_stale_connection_is_retried_on_a_fresh_one(server: Server) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok())  # claims keep-alive, then hangs up, as idle-timeout servers do
        await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport()
    for _ in range(3):
        assert (await get(transport, url)).status_code == 200
    assert server.connections == 3
    await transport.aclose()


async def test_chunked_and_connection_delimited_bodies(server: Server) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_request(reader)
        if b"/chunked" in head:
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            await writer.drain()
            await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport()
    assert (await get(transport, f"{url}/chunked")).content == b"hello world"
    assert (await get(transport, f"{url}/eof")).content == b"until the end"
    await transport.aclose()


async def test_truncated_body_is_an_error(server: Server) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50)
        await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport()
    with pytest.raises(httpx.RemoteProtocolError, match="before the response was complete"):
        await get(transport, url)
    await transport.aclose()


async def test_read_and_connect_failures_map_to_httpx_errors(server: Server) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    url = await server.start(silent)
    transport = FastHTTPTransport()
    with pytest.raises(httpx.ReadTimeout):
        await get(transport, url, timeout=0.2)
    with pytest.raises(httpx.ConnectError):
        await get(transport, "http://127.0.0.1:1/")
    with pytest.raises(httpx.UnsupportedProtocol):
        await get(transport, "ftp://127.0.0.1/")
    await transport.aclose()


async def test_connections_per_host_are_capped(server: Server) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.01)
            writer.write(ok())
            await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport(max_connections_per_host=8)
    responses = await asyncio.gather(*(get(transport, url) for _ in range(200)))
    assert {r.status_code for r in responses} == {200}
    assert server.max_open <= 8
    await transport.aclose()


async def test_large_body_streams_with_back_pressure(server: Server) -> None:
    blob = bytes(range(256)) * (64 * 1024)  # 16 MiB

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(blob))
        for i in range(0, len(blob), 1 << 20):
            writer.write(blob[i : i + (1 << 20)])
            await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport()
    request = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(10).as_dict()})
    response = await transport.handle_async_request(request)
    await asyncio.sleep(0.5)  # a consumer that does not read yet: the server could send it all
    buffered = response.stream._conn.buffered  # type: ignore[attr-defined]
    assert buffered < 4 * 1024 * 1024  # reading paused instead of buffering the whole body
    digest = hashlib.sha256()
    async for chunk in response.aiter_raw():
        digest.update(chunk)
    await response.aclose()
    assert digest.hexdigest() == hashlib.sha256(blob).hexdigest()
    await transport.aclose()


async def test_exchange_times_out_and_frees_its_slot(server: Server) -> None:
    async def silent_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    url = await server.start(silent_once)
    transport = FastHTTPTransport(max_connections_per_host=1)
    for _ in range(2):  # the second attempt would wait forever if the first kept the only slot
        with pytest.raises(httpx.ReadTimeout, match=r"within 0\.2 s"):
            await transport.exchange("GET", url + "/x", {}, None, {"read": 0.2}, 1024)
    await transport.aclose()


async def test_a_cancelled_exchange_frees_its_slot(server: Server) -> None:
    answered = 0

    async def slow_then_quick(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        while True:
            await read_request(reader)
            if answered == 0:
                await asyncio.sleep(0.3)
            answered += 1
            writer.write(ok())
            await writer.drain()

    url = await server.start(slow_then_quick)
    transport = FastHTTPTransport(max_connections_per_host=1)
    poll = asyncio.ensure_future(transport.exchange("GET", url + "/a", {}, None, {"read": 5}, 1024))
    await asyncio.sleep(0.05)
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    status, _, body = await asyncio.wait_for(
        transport.exchange("GET", url + "/b", {}, None, {"read": 5}, 1024), 3
    )
    assert (status, body) == (200, b'{"ok": true}')
    await transport.aclose()


_URL_CHARS = st.text(
    alphabet=st.sampled_from("abcXYZ019-._~!$&'()*+,;=:@/?%#[] \"<>^`{|}\\é€\t"), max_size=30
)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.sampled_from(["127.0.0.1", "Example.COM", "[::1]", "api.example.com:8443", "h:80"]),
    rest=_URL_CHARS,
)
@settings(max_examples=400, deadline=None)
def test_request_targets_match_httpx(scheme: str, host: str, rest: str) -> None:
    """The fast path that takes a plain target as it is reads every URL the way httpx does."""
    url = f"{scheme}://{host}/{rest}"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return
    assert _target(url) == (parsed.scheme, parsed.host, parsed.port, parsed.raw_path, parsed.netloc)


async def test_exchange_reads_whole_split_and_oversized_answers(server: Server) -> None:
    body = b'{"status": "running", "pad": "' + b"x" * 3000 + b'"}'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            if b"/split" in head:  # the body in pieces, after the head: read on, not taken at once
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
                for i in range(0, len(body), 1000):
                    await writer.drain()
                    await asyncio.sleep(0.02)
                    writer.write(body[i : i + 1000])
            else:
                writer.write(ok(body))
            await writer.drain()

    url = await server.start(handler)
    transport = FastHTTPTransport(max_connections_per_host=1)
    timeout = {"read": 5}
    for path in ("/whole", "/split", "/whole"):
        status, headers, data = await transport.exchange("GET", url + path, {}, None, timeout, 10_000)
        assert (status, data, headers["content-length"]) == (200, body, str(len(body)))
    with pytest.raises(BodyTooLarge):
        await transport.exchange("GET", url + "/whole", {}, None, timeout, 100)
    with pytest.raises(BodyTooLarge):
        await transport.exchange("GET", url + "/split", {}, None, timeout, 2000)
    status, _, data = await transport.exchange("GET", url + "/whole", {}, None, timeout, 10_000)
    assert (status, data) == (200, body)  # a refused answer's connection is dropped, not reused half-read
    assert server.connections == 3
    await transport.aclose()
