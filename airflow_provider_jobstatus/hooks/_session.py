"""HTTP sessions that drive the flows: one sync, one async, shared per connection.

Within one process and event loop every hook of one connection shares one client and one token
cache, and a refused or expired token is renewed once (single flight), not once per wait. The
async client runs the httpx API over aiohttp's transport: at a thousand concurrent waits httpx's
own pool costs several times more CPU per poll.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import httpx

from airflow_provider_jobstatus.errors import (
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    UnsafeRedirectError,
)
from airflow_provider_jobstatus.hooks._coalesce import SharedAnswers
from airflow_provider_jobstatus.hooks._fasthttp import BodyTooLarge, FastHTTPTransport
from airflow_provider_jobstatus.hooks._flow import (
    MAX_REDIRECTS,
    Flow,
    NeedToken,
    Send,
    Step,
    follow_redirect,
    token_flow,
)
from airflow_provider_jobstatus.hooks._settings import ConnSettings
from airflow_provider_jobstatus.vendors import MAX_BODY_BYTES, ApiResponse, TokenGrant, VendorApi

T = TypeVar("T")

_QUERY = re.compile(r"\?[^\s'\"<>]*")


@dataclass(frozen=True)
class Timeouts:
    """Client settings that decide whether two hooks may share a client."""

    total: float = 30.0
    connect: float = 10.0
    #: A transport of the caller's (``httpx.MockTransport`` in tests); None = the real network.
    transport: Any = None

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.total, connect=self.connect)


class _TokenCache:
    """The current access token and when to stop trusting it (a little before the vendor says)."""

    def __init__(self) -> None:
        self.value: str | None = None
        self.expires_at = 0.0

    def usable(self, stale: str | None) -> str | None:
        if self.value is None or self.value == stale or time.monotonic() >= self.expires_at:
            return None
        return self.value

    def store(self, grant: TokenGrant) -> str:
        lifetime = grant.expires_in if grant.expires_in and grant.expires_in > 0 else 3600.0
        self.value = grant.access_token
        self.expires_at = time.monotonic() + lifetime - min(60.0, lifetime * 0.1)
        return grant.access_token


_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def default_async_transport() -> httpx.AsyncBaseTransport:
    """The fast transport, or aiohttp honouring the proxy variables when any is set (imported
    only then: importing aiohttp costs the triggerer's event loop a fifth of a second)."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        from airflow_provider_jobstatus.hooks._transport import LeanAiohttpTransport

        return LeanAiohttpTransport(trust_env=True)
    return FastHTTPTransport()


class _QueryRedactor(logging.Filter):
    """At DEBUG, httpcore logs every response's headers: a redirect's Location is a signed URL
    whose query string is a credential. Cut query strings out before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?…", message), ()
        return True


for _name in ("httpcore.http11", "httpcore.http2", "httpcore.connection", "httpx"):
    logging.getLogger(_name).addFilter(_QueryRedactor())


def default_sync_transport() -> httpx.BaseTransport:
    """httpx's own transport, through the proxy the environment names (if any)."""
    proxy = next((os.environ[name] for name in _PROXY_VARIABLES if os.environ.get(name)), None)
    return httpx.HTTPTransport(proxy=proxy)


def mask(secret: str) -> None:
    """Register a token with Airflow's secrets masker, so no log line can show it."""
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


async def amask(secret: str) -> None:
    """The same from the event loop (the sync call could block on the supervisor)."""
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3.2
        return mask(secret)
    await amask_secret(secret)


def transport_fault(vendor: VendorApi, step: Send, exc: Exception) -> TransientVendorError:
    """Name the fault without echoing a URL's query string (a signed URL's signature)."""
    text = _QUERY.sub("?…", str(exc)) or type(exc).__name__
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return TransientVendorError(
        vendor.display_name, step.job_id, f"{kind}: {type(exc).__name__}: {text}", sent=sent
    )


def too_large(vendor: VendorApi, step: Send) -> MalformedResponseError:
    return MalformedResponseError(
        vendor.display_name, step.job_id, f"answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB refused"
    )


def build_request(step: Send, extensions: dict[str, Any]) -> httpx.Request:
    """The request both sessions hand straight to their transport (no client in between: no
    cookie jar, no eager reading of a Location header, no default headers we did not ask for)."""
    if step.files is not None:  # multipart: httpx streams file objects, never reads them whole
        return httpx.Request(
            step.method,
            full_url(step),
            data=dict(step.form or {}),
            files=step.files,
            headers=with_basic_auth(step),
            extensions=extensions,
        )
    body, headers = encode(step)
    return httpx.Request(step.method, full_url(step), content=body, headers=headers, extensions=extensions)


def encode(step: Send) -> tuple[bytes | None, dict[str, str]]:
    """The body (JSON or form) and every header, Basic auth included."""
    headers = with_basic_auth(step)
    if step.json is not None:
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(step.json).encode(), headers
    if step.form is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urlencode(step.form).encode(), headers
    return None, headers


def full_url(step: Send) -> str:
    return _with_params(step.url, tuple(step.params.items())) if step.params else step.url


@lru_cache(maxsize=16384)
def _with_params(url: str, params: tuple[tuple[str, str], ...]) -> str:
    return str(httpx.URL(url, params=dict(params)))


def with_basic_auth(step: Send) -> dict[str, str]:
    headers = dict(step.headers)
    if step.basic_auth:
        user, password = step.basic_auth
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return headers


def body_chunks(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The body as sent when nothing needs decoding (skips httpx's decoder chain), else decoded."""
    if resp.is_stream_consumed or "content-encoding" in resp.headers:
        return resp.aiter_bytes()
    return resp.aiter_raw()


def too_many_redirects(vendor: VendorApi, step: Send) -> UnsafeRedirectError:
    return UnsafeRedirectError(
        vendor.display_name, step.job_id, f"more than {MAX_REDIRECTS} redirects (a loop?)"
    )


def _content_length(headers: httpx.Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


class Stepper(Generic[T]):
    """Feeds a flow the outcome of each step it asked for; the sessions only perform the steps."""

    def __init__(self, flow: Flow[T]) -> None:
        self.flow = flow
        self.value: Any = None
        self.error: JobStatusError | None = None
        self.result: T

    def next(self) -> Step | None:
        """The next step, or None once the flow has returned (its value is then ``result``)."""
        try:
            step = self.flow.throw(self.error) if self.error is not None else self.flow.send(self.value)
        except StopIteration as stop:
            self.result = stop.value
            return None
        self.value, self.error = None, None
        return step


class AsyncSession:
    """One async client and token cache for one connection in one event loop."""

    def __init__(self, settings: ConnSettings, vendor: VendorApi, timeouts: Timeouts) -> None:
        self.settings = settings
        self.vendor = vendor
        self.transport: httpx.AsyncBaseTransport = timeouts.transport or default_async_transport()
        self._extensions = {"timeout": timeouts.httpx().as_dict()}
        self.tokens = _TokenCache()
        self._token_lock = asyncio.Lock()
        self.answers = SharedAnswers()
        self.refs = 0

    async def run(self, flow: Flow[T]) -> T:
        stepper = Stepper(flow)
        while (step := stepper.next()) is not None:
            try:
                stepper.value = await self.perform(step)
            except JobStatusError as exc:
                stepper.error = exc
        return stepper.result

    async def perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            return await self.send(step)
        if isinstance(step, NeedToken):
            return await self.token(step.stale)
        await asyncio.sleep(step.seconds)
        return None

    async def send(self, step: Send) -> ApiResponse:
        try:
            if isinstance(self.transport, FastHTTPTransport):
                body, headers = encode(step)
                timeout = self._extensions["timeout"]
                status, answer, data = await self.transport.exchange(
                    step.method, full_url(step), headers, body, timeout, MAX_BODY_BYTES
                )
                return ApiResponse(status, answer, data)
            async with self._open(step) as resp:
                if (_content_length(resp.headers) or 0) > MAX_BODY_BYTES:
                    raise too_large(self.vendor, step)
                chunks: list[bytes] = []
                size = 0
                async for chunk in body_chunks(resp):
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise too_large(self.vendor, step)
                    chunks.append(chunk)
                return ApiResponse(resp.status_code, resp.headers, b"".join(chunks))
        except BodyTooLarge:
            raise too_large(self.vendor, step) from None
        except httpx.TransportError as exc:
            raise transport_fault(self.vendor, step, exc) from None

    @asynccontextmanager
    async def stream(self, step: Send, follow: bool = False) -> AsyncIterator[httpx.Response]:
        """The response with its body unread, for downloads that stream to storage."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self._open(step) as resp:
                    if not (follow and resp.is_redirect):
                        yield resp
                        return
                    step = follow_redirect(
                        self.settings, self.vendor, step, resp.status_code, resp.headers.get("location")
                    )
            except httpx.TransportError as exc:
                raise transport_fault(self.vendor, step, exc) from None
        raise too_many_redirects(self.vendor, step)

    @asynccontextmanager
    async def _open(self, step: Send) -> AsyncIterator[httpx.Response]:
        """Hand the request straight to the transport: the client's per-request machinery
        (default-header merging, cookie jar, auth flows) costs more CPU than the poll itself."""
        request = build_request(step, self._extensions)
        response = await self.transport.handle_async_request(request)
        response.request = request
        try:
            yield response
        finally:
            await response.aclose()

    async def token(self, stale: str | None) -> str:
        token = self.tokens.usable(stale)
        if token is not None:
            return token
        async with self._token_lock:
            token = self.tokens.usable(stale)
            if token is not None:
                return token
            grant = await self.run(token_flow(self.settings, self.vendor))
            await amask(grant.access_token)
            return self.tokens.store(grant)

    async def aclose(self) -> None:
        await self.transport.aclose()


class SyncSession:
    """The same for synchronous callers (poke/reschedule sensors, operators), shared per process."""

    def __init__(self, settings: ConnSettings, vendor: VendorApi, timeouts: Timeouts) -> None:
        self.settings = settings
        self.vendor = vendor
        self.transport: httpx.BaseTransport = timeouts.transport or default_sync_transport()
        self._extensions = {"timeout": timeouts.httpx().as_dict()}
        self.tokens = _TokenCache()
        self._token_lock = threading.Lock()

    def run(self, flow: Flow[T]) -> T:
        stepper = Stepper(flow)
        while (step := stepper.next()) is not None:
            try:
                stepper.value = self.perform(step)
            except JobStatusError as exc:
                stepper.error = exc
        return stepper.result

    def perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            return self.send(step)
        if isinstance(step, NeedToken):
            return self.token(step.stale)
        time.sleep(step.seconds)
        return None

    def send(self, step: Send) -> ApiResponse:
        with self.stream(step) as resp:
            if (_content_length(resp.headers) or 0) > MAX_BODY_BYTES:
                raise too_large(self.vendor, step)
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise too_large(self.vendor, step)
                    chunks.append(chunk)
            except httpx.TransportError as exc:
                raise transport_fault(self.vendor, step, exc) from None
            return ApiResponse(resp.status_code, resp.headers, b"".join(chunks))

    @contextmanager
    def stream(self, step: Send, follow: bool = False) -> Iterator[httpx.Response]:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with self._open(step) as resp:
                    if not (follow and resp.is_redirect):
                        yield resp
                        return
                    step = follow_redirect(
                        self.settings, self.vendor, step, resp.status_code, resp.headers.get("location")
                    )
            except httpx.TransportError as exc:
                raise transport_fault(self.vendor, step, exc) from None
        raise too_many_redirects(self.vendor, step)

    @contextmanager
    def _open(self, step: Send) -> Iterator[httpx.Response]:
        request = build_request(step, self._extensions)
        response = self.transport.handle_request(request)
        response.request = request
        try:
            yield response
        finally:
            response.close()

    def token(self, stale: str | None) -> str:
        with self._token_lock:
            token = self.tokens.usable(stale)
            if token is not None:
                return token
            grant = self.run(token_flow(self.settings, self.vendor))
            mask(grant.access_token)
            return self.tokens.store(grant)

    def close(self) -> None:
        self.transport.close()


# -- sharing ------------------------------------------------------------------------------------
_Key = tuple[str, tuple[str, str, str], Timeouts]
_async_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, AsyncSession]] = (
    weakref.WeakKeyDictionary()
)
_sync_sessions: dict[_Key, SyncSession] = {}
_sync_lock = threading.Lock()


def acquire_async(settings: ConnSettings, vendor: VendorApi, timeouts: Timeouts) -> AsyncSession:
    """The running loop's session for this connection; callers must :func:`release_async` it."""
    loop = asyncio.get_running_loop()
    sessions = _async_sessions.setdefault(loop, {})
    key = (vendor.name, settings.share_key, timeouts)
    session = sessions.get(key)
    if session is None:
        session = sessions[key] = AsyncSession(settings, vendor, timeouts)
    session.refs += 1
    return session


async def release_async(session: AsyncSession) -> None:
    """Drop one reference; the last one closes the client."""
    session.refs -= 1
    if session.refs > 0:
        return
    loop = asyncio.get_running_loop()
    sessions = _async_sessions.get(loop, {})
    for key, candidate in list(sessions.items()):
        if candidate is session:
            del sessions[key]
    await session.aclose()


def shared_sync(settings: ConnSettings, vendor: VendorApi, timeouts: Timeouts) -> SyncSession:
    key = (vendor.name, settings.share_key, timeouts)
    with _sync_lock:
        session = _sync_sessions.get(key)
        if session is None:
            session = _sync_sessions[key] = SyncSession(settings, vendor, timeouts)
        return session
