"""Small ASGI layer shared by the vendor routes: request context, replies, faults, connection drops.

Endpoints are plain ASGI callables (Starlette's Router passes uvicorn's own ``send`` through), so
a fault can reach the connection's transport to reset it or cut a body short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.routing import BaseRoute, Route

from .checks import SimError
from .content import iter_bytes
from .faults import Fault
from .state import ResultFile, SimState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: faults every vendor route can show (``unknown_status`` only where a status string is answered)
ROUTE_FAULTS = frozenset(
    {"error_5xx", "rate_429", "reset", "slow", "html_error", "malformed_json", "truncate"}
)
STATUS_FAULTS = ROUTE_FAULTS | {"unknown_status"}

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Reply:
    """What to answer: a body, or a range of a result file streamed from its generator."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    file: ResultFile | None = None
    start: int = 0
    end: int = 0
    is_json: bool = True


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_reply(status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
    return Reply(status, dumps(obj), "application/json", headers or [])


def text_reply(
    status: int, text: str | bytes, content_type: str, headers: list[tuple[bytes, bytes]] | None = None
) -> Reply:
    body = text.encode() if isinstance(text, str) else text
    return Reply(status, body, content_type, headers or [], is_json=False)


def html_502() -> Reply:
    return text_reply(502, HTML_502, "text/html")


def file_reply(
    rf: ResultFile, headers: list[tuple[bytes, bytes]] | None = None, range_header: str | None = None
) -> Reply:
    """The file, whole or (``Range: bytes=a-b``) a single range of it."""
    extra = list(headers or [])
    extra.append((b"accept-ranges", b"bytes"))
    if range_header:
        parsed = _parse_range(range_header, rf.size)
        if parsed is None:
            return Reply(
                416, b"", rf.content_type, [(b"content-range", f"bytes */{rf.size}".encode())], is_json=False
            )
        start, end = parsed
        extra.append((b"content-range", f"bytes {start}-{end - 1}/{rf.size}".encode()))
        return Reply(206, b"", rf.content_type, extra, rf, start, end, is_json=False)
    return Reply(200, b"", rf.content_type, extra, rf, 0, rf.size, is_json=False)


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            start, end = max(size - n, 0), size
        else:
            start = int(first)
            end = min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    if start >= size or start >= end:
        return None
    return start, end


class Ctx:
    """One request, as the handlers see it."""

    __slots__ = ("_body", "_query", "advance", "fault", "fault_applied", "receive", "scope", "state")

    def __init__(self, state: SimState, scope: Scope, receive: Receive, fault: Fault | None) -> None:
        self.state = state
        self.scope = scope
        self.receive = receive
        self.fault = fault
        self.fault_applied = False
        # a status answer the client cannot read does not count as one of the job's polls
        self.advance = fault is None or fault.kind not in ("malformed_json", "unknown_status")
        self._query: dict[str, list[str]] | None = None
        self._body: bytes | None = None

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope["headers"]:
            if key == name:
                text: str = value.decode("latin-1")
                return text
        return None

    def query(self, name: str) -> str | None:
        if self._query is None:
            self._query = parse_qs(self.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        values = self._query.get(name)
        return values[0] if values else None

    def has_query(self, name: str) -> bool:
        self.query(name)
        return self._query is not None and name in self._query

    def bearer(self) -> str | None:
        value = self.header(b"authorization")
        if value and value[:7].lower() == "bearer ":
            return value[7:].strip()
        return None

    def want_unknown_status(self) -> bool:
        """True (and noted) when this answer should carry an undocumented status string."""
        if self.fault is not None and self.fault.kind == "unknown_status":
            self.fault_applied = True
            return True
        return False

    async def body(self, limit: int = 4 * 1024 * 1024) -> bytes:
        if self._body is None:
            chunks = []
            size = 0
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise SimError(413, "request body too large")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The JSON body; ValueError when it is not JSON."""
        raw = await self.body()
        return json.loads(raw)


def auth_header_names(scope: Scope) -> tuple[str, ...]:
    names: list[str] = []
    for key, _ in scope["headers"]:
        if (key == b"authorization" or key == b"x-api-key") and key.decode() not in names:
            names.append(key.decode())
    return tuple(names)


async def slow_down(state: SimState, seconds: float) -> bool:
    """Wait ``seconds`` (the ``slow`` fault); False when the simulator started stopping meanwhile."""
    stopping = state.stopping
    if stopping is None:
        await asyncio.sleep(seconds)
        return True
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except asyncio.TimeoutError:
        return True
    return False


async def drop_connection(send: Send, graceful: bool) -> None:
    """Close the client's connection mid-exchange: ``graceful`` sends what is buffered then FIN (a
    cut body); otherwise abort with RST (a reset). Waits until uvicorn has noticed, so it does not
    complain about an unfinished response."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # not served by uvicorn: let the server tear the exchange down
        raise ConnectionAbortedError("simulated connection drop")
    if graceful:
        transport.close()
    else:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # uvloop hands out a pseudo-socket that fails once the peer is gone (ValueError)
            with contextlib.suppress(OSError, AttributeError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    for _ in range(3000):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.01)


class Recorder:
    """Writes one request's log entry, once: before a connection is dropped (so the entry exists
    by the time the client sees the error) or when the exchange ends."""

    __slots__ = ("done", "origin", "route", "scope", "state", "vendor")

    def __init__(self, state: SimState, origin: str, vendor: str | None, route: str, scope: Scope) -> None:
        self.state = state
        self.origin = origin
        self.vendor = vendor
        self.route = route
        self.scope = scope
        self.done = False

    def __call__(self, status: int, fault: str | None) -> None:
        if self.done:
            return
        self.done = True
        scope = self.scope
        self.state.record(
            self.origin,
            self.vendor,
            self.route,
            scope["method"],
            scope["path"],
            status,
            auth_header_names(scope),
            fault,
        )


async def send_reply(
    scope: Scope, send: Send, reply: Reply, fault: Fault | None, recorder: Recorder | None = None
) -> tuple[int, bool]:
    """Send ``reply``, acting out a ``malformed_json`` or ``truncate`` fault where it applies.
    Returns the status sent and whether the fault was applied."""
    head = scope["method"] == "HEAD"
    kind = fault.kind if fault is not None else None
    headers = [(b"content-type", reply.content_type.encode()), *reply.headers]
    if reply.file is not None:
        rf = reply.file
        length = reply.end - reply.start
        headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return reply.status, False
        if kind == "truncate" and length > 0:
            for piece in iter_bytes(rf.key, rf.size, reply.start, reply.start + length // 2):
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            if recorder is not None:
                recorder(reply.status, "truncate")
            await drop_connection(send, graceful=True)
            return reply.status, True
        for piece in iter_bytes(rf.key, rf.size, reply.start, reply.end):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return reply.status, False
    body = reply.body
    applied = False
    if kind == "malformed_json" and reply.is_json and len(body) > 1:
        body = body[: len(body) // 2]
        applied = True
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body, "more_body": False})
    return reply.status, applied


Handler = Callable[[Ctx], Awaitable[Reply]]
FaultReplier = Callable[[Fault], Reply]


class VendorEndpoint:
    """One vendor API route: draws a fault, runs the handler, answers, logs the request."""

    def __init__(
        self,
        state: SimState,
        vendor: str,
        route: str,
        handler: Handler,
        fault_reply: FaultReplier,
        faults: frozenset[str] = ROUTE_FAULTS,
    ) -> None:
        self.state = state
        self.vendor = vendor
        self.route = route
        self.handler = handler
        self.fault_reply = fault_reply
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        fault = state.faults.draw(self.vendor, self.route)
        if fault is not None and fault.kind not in self.faults:
            fault = None
        record = Recorder(state, "api", self.vendor, self.route, scope)
        status = 0
        logged: str | None = None
        try:
            if fault is not None and fault.kind == "slow":
                logged = "slow"
                # shutting down meanwhile: drop the waiting client
                fault = None if await slow_down(state, fault.slow_seconds) else Fault("reset")
            if fault is not None and fault.kind == "reset":
                record(0, logged or "reset")
                await drop_connection(send, graceful=False)
            elif fault is not None and fault.kind in ("error_5xx", "rate_429", "html_error"):
                logged = fault.kind
                status, _ = await send_reply(scope, send, self.fault_reply(fault), None)
            else:
                ctx = Ctx(state, scope, receive, fault)
                try:
                    reply = await self.handler(ctx)
                except SimError as exc:
                    reply = json_reply(exc.status, {"error": exc.message})
                status, applied = await send_reply(scope, send, reply, fault, record)
                if applied or ctx.fault_applied:
                    logged = fault.kind if fault is not None else None
        finally:
            record(status, logged)


def vendor_routes(
    state: SimState, vendor: str, fault_reply: FaultReplier, table: list[tuple[str, str, str, Handler]]
) -> list[BaseRoute]:
    """A vendor's API as rows of (methods, path, route name, handler); ``status`` routes may also
    answer a status the provider does not know (the ``unknown_status`` fault)."""

    def faults(name: str) -> frozenset[str]:
        return STATUS_FAULTS if name.startswith("status") else ROUTE_FAULTS

    return [
        Route(
            path,
            VendorEndpoint(state, vendor, name, handler, fault_reply, faults(name)),
            methods=methods.split(","),
        )
        for methods, path, name, handler in table
    ]


class ControlEndpoint:
    """A control-API route: no faults, no request log; SimError becomes ``{"error": ...}``."""

    def __init__(self, state: SimState, handler: Handler) -> None:
        self.state = state
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = Ctx(self.state, scope, receive, None)
        try:
            reply = await self.handler(ctx)
        except SimError as exc:
            reply = json_reply(exc.status, {"error": exc.message})
        await send_reply(scope, send, reply, None)
