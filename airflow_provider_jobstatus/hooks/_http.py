"""The two HTTP clients of a connection: httpx for sync callers, aiohttp for the async path.

Within one process (sync) or event loop (async) every hook of one connection shares one client and
one token cache, and a refused or expired token is renewed once (single flight), not once per
wait. Nothing here parses HTTP: the libraries do, with the connection's client settings given to
them once, when the client is made. What is ours: credentials go only to the connection's own
origin, bodies are capped after decompression, and each library's errors become the contract's.
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

import aiohttp
import httpx
import yarl

from airflow_provider_jobstatus import metrics
from airflow_provider_jobstatus.errors import (
    ConfigurationError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    UnsafeRedirectError,
)
from airflow_provider_jobstatus.hooks._addresses import ALLOW_SETTING, refused_address, refused_kind
from airflow_provider_jobstatus.hooks._budget import RateBudget, budget_for
from airflow_provider_jobstatus.hooks._coalesce import SharedAnswers
from airflow_provider_jobstatus.hooks._deadlines import Deadlines
from airflow_provider_jobstatus.hooks._decoding import CodingError, CutShort, decoded
from airflow_provider_jobstatus.hooks._settings import ConnSettings, origin_of, resolve_url, tls_context
from airflow_provider_jobstatus.hooks._tls import misconfiguration
from airflow_provider_jobstatus.vendors import (
    MAX_BODY_BYTES,
    ApiRequest,
    ApiResponse,
    TokenGrant,
    VendorApi,
    basic_authorization,
    retry_after_seconds,
)

#: Most redirect hops a download follows before calling it a loop.
MAX_REDIRECTS = 5
#: Response heads are limited by the libraries themselves: h11 refuses one over 16 KiB, aiohttp (as
#: configured below) more than 64 fields or a field over 8 KiB.


@dataclass(frozen=True)
class Outgoing:
    """A request ready to send: URL resolved, credentials added (own origin only)."""

    method: str
    url: str = field(repr=False)  # may be a pre-signed URL
    job_id: str | None
    own: bool
    params: Mapping[str, str] | None = None
    json: Any = field(default=None, repr=False)
    form: Mapping[str, str] | None = field(default=None, repr=False)
    files: Mapping[str, Any] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def prepare(
    conn: ConnSettings, vendor: VendorApi, req: ApiRequest, job_id: str | None, token: str | None
) -> Outgoing:
    """Resolve the URL and add credentials, but only for the connection's own origin."""
    url, own = conn.resolve(req.url)
    headers = dict(req.headers)
    if own:
        if req.authenticated:
            headers.update(vendor.auth_headers(conn.creds, token))
        if req.basic_auth:
            user, password = req.basic_auth
            headers["Authorization"] = basic_authorization(user, password)
    for name, value in headers.items():
        if "\r" in value or "\n" in value:  # never send what could inject a header
            raise ConfigurationError(
                vendor.display_name,
                job_id,
                f"{conn.where}: header {name!r} would contain a line break; check the connection's fields",
            )
    return Outgoing(req.method, url, job_id, own, req.params, req.json, req.form, req.files, headers)


def follow_redirect(
    conn: ConnSettings, vendor: VendorApi, out: Outgoing, status: int, location: str | None
) -> Outgoing:
    """The next hop of a redirect. Credentials stay behind when the origin changes (httpx drops only
    ``Authorization`` on its own, never ``x-api-key``); non-HTTP schemes are refused outright."""
    if not location:
        raise UnsafeRedirectError(
            vendor.display_name, out.job_id, f"HTTP {status} redirect without a Location"
        )
    try:
        url = resolve_url(out.url, location)
        scheme = urlsplit(url).scheme.lower()
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise UnsafeRedirectError(
            vendor.display_name, out.job_id, "refusing a redirect to a malformed URL"
        ) from None
    if scheme not in ("http", "https"):
        raise UnsafeRedirectError(
            vendor.display_name, out.job_id, f"refusing a redirect to a {scheme or 'relative'!r} URL"
        )
    mask_url(url)
    own = origin_of(url) == origin_of(conn.base_url)
    headers = dict(out.headers)
    if origin_of(url) != origin_of(out.url):
        secret = {name.lower() for name in vendor.auth_headers(conn.creds, "-")} | {"authorization"}
        headers = {k: v for k, v in headers.items() if k.lower() not in secret}
    return Outgoing("GET", url, out.job_id, own, headers=headers)


def mask_url(url: str) -> None:
    """A URL's query string can be a signature (a credential): register it with Airflow's secrets
    masker where it is first seen, so no log line of ours or a library's shows it."""
    query = urlsplit(url).query
    if query:
        from airflow.sdk.log import mask_secret

        mask_secret(query)


class _Trace:
    """httpcore's ``trace`` hook for one sync request (an httpx request extension): what the
    library says about the exchange, read as data rather than from an error's text.

    - a redirect's ``Location`` (a signed URL) is registered with the masker before httpcore logs
      the same event at DEBUG;
    - a proxy refusing a ``CONNECT`` with 407 or 403 is the connection's configuration: httpcore
      would report it as a ``ProxyError`` whose only trace of the status is its message;
    - with ``vet`` (a result off the connection's origin), the peer the client connected to is
      checked: a name can resolve otherwise for the client than it did for the check before sending.
      A connection to a proxy is the proxy's: its target was checked by name before sending.
    """

    def __init__(
        self,
        proxy_refused: Callable[[int], JobStatusError],
        vet: tuple[str, Callable[[str, str], JobStatusError]] | None = None,
    ) -> None:
        self.proxy_refused = proxy_refused
        self.vet = vet
        self.tunnel = False  # the answer awaited is a proxy's to CONNECT
        self.direct = False  # the connection being made is to the request's own host

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self.tunnel = info["request"].method == b"CONNECT"
        elif event.endswith("receive_response_headers.complete"):
            _, status, _, headers = info["return_value"]
            if self.tunnel and status in (407, 403):
                raise self.proxy_refused(status)
            if 300 <= status < 400:
                for name, value in headers:
                    if name.lower() == b"location":
                        mask_url(value.decode("latin-1"))
        elif self.vet is not None and event.endswith("connect_tcp.started"):
            self.direct = info.get("host") == self.vet[0]
        elif self.vet is not None and event.endswith("connect_tcp.complete") and self.direct:
            stream = info["return_value"]
            peer = stream.get_extra_info("server_addr")
            kind = refused_kind(str(peer[0])) if peer else None
            if kind is not None:
                stream.close()
                raise self.vet[1](str(peer[0]), kind)


def address_refused(
    conn: ConnSettings, vendor: VendorApi, job_id: str | None, host: str, address: str, kind: str
) -> UnsafeRedirectError:
    return UnsafeRedirectError(
        vendor.display_name,
        job_id,
        f"refusing to fetch a result from {host!r}: it resolves to {address}, a {kind} address "
        f"(where cloud metadata services answer); if the result really lives there, set the extra "
        f"'{ALLOW_SETTING}': true on {conn.where}",
    )


async def amask_url(url: str) -> None:
    query = urlsplit(url).query
    if query:
        await amask(query)


def mask(secret: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


async def amask(secret: str) -> None:
    """:func:`mask` from the event loop (the sync call could block on the supervisor)."""
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3.2
        return mask(secret)
    await amask_secret(secret)


def _no_query(text: str) -> str:
    """Library messages may quote the URL: cut any query string (a signature) out of them."""
    return " ".join(word.split("?", 1)[0] + ("?…" if "?" in word else "") for word in text.split(" "))


def too_large(vendor: VendorApi, job_id: str | None) -> MalformedResponseError:
    return MalformedResponseError(
        vendor.display_name, job_id, f"answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB refused"
    )


class Fault(enum.Enum):
    """What a library's error means for the contract."""

    #: the request cannot be made as configured (bad URL, a header the library refuses)
    CONFIGURATION = enum.auto()
    #: a proxy's answer: 407 or 403 is the proxy's configuration, anything else may pass
    PROXY = enum.auto()
    #: nothing can have reached the vendor
    UNSENT = enum.auto()
    UNSENT_TIMEOUT = enum.auto()
    #: may have reached the vendor
    TIMEOUT = enum.auto()
    MALFORMED = enum.auto()
    TRANSIENT = enum.auto()


#: Each library's errors as the contract's, most specific first: the first class that matches wins
#: (the shape of httpx's ``HTTPCORE_EXC_MAP``). Anything else either library raises is
#: ``TRANSIENT``. TLS errors are judged before this table, over the chain of causes (httpx keeps
#: httpcore's error, which keeps the ``ssl`` one): see ``_tls.misconfiguration``.
FAULTS: tuple[tuple[type[BaseException], Fault], ...] = (
    (httpx.UnsupportedProtocol, Fault.CONFIGURATION),
    (httpx.LocalProtocolError, Fault.CONFIGURATION),
    (aiohttp.InvalidURL, Fault.CONFIGURATION),
    (aiohttp.ClientHttpProxyError, Fault.PROXY),
    (httpx.ProxyError, Fault.UNSENT),  # a CONNECT's 407/403 never gets here: _Trace raises it
    (httpx.ConnectTimeout, Fault.UNSENT_TIMEOUT),
    (httpx.PoolTimeout, Fault.UNSENT_TIMEOUT),
    (aiohttp.ConnectionTimeoutError, Fault.UNSENT_TIMEOUT),
    (httpx.ConnectError, Fault.UNSENT),
    (aiohttp.ClientConnectorError, Fault.UNSENT),  # DNS, refused, a proxy that cannot be reached
    (httpx.TimeoutException, Fault.TIMEOUT),
    (TimeoutError, Fault.TIMEOUT),  # our deadline (asyncio's) and aiohttp's read timeouts
    (httpx.RemoteProtocolError, Fault.MALFORMED),
    (aiohttp.ClientResponseError, Fault.MALFORMED),
)


def fault_of(exc: BaseException) -> Fault:
    for cls, meaning in FAULTS:
        if isinstance(exc, cls):
            return meaning
    return Fault.TRANSIENT


def fault(conn: ConnSettings, vendor: VendorApi, job_id: str | None, exc: BaseException) -> JobStatusError:
    """A library's error as the contract's: TLS set-up mistakes fail at once, naming the connection;
    what may pass is transient, with ``sent`` False when nothing can have reached the vendor."""
    wrong = misconfiguration(exc)
    if wrong is not None:
        return ConfigurationError(vendor.display_name, job_id, f"{conn.where}: {wrong}")
    meaning = fault_of(exc)
    text = _no_query(str(exc)) or type(exc).__name__
    said = f"{type(exc).__name__}: {text}"
    if meaning is Fault.CONFIGURATION:
        return ConfigurationError(vendor.display_name, job_id, f"{conn.where}: {said}")
    if meaning is Fault.PROXY and isinstance(exc, aiohttp.ClientHttpProxyError) and exc.status in (407, 403):
        return proxy_refused(conn, vendor, job_id, exc.status)
    if meaning is Fault.MALFORMED:
        return MalformedResponseError(vendor.display_name, job_id, f"broken HTTP answer: {text}")
    timed_out = meaning in (Fault.UNSENT_TIMEOUT, Fault.TIMEOUT)
    sent = meaning not in (Fault.UNSENT, Fault.UNSENT_TIMEOUT, Fault.PROXY)
    kind = "timed out" if timed_out else "connection failed"
    proxy = _proxy_at_fault(conn, exc)
    if proxy is not None:
        return TransientVendorError(
            vendor.display_name,
            job_id,
            f"{conn.where}: the proxy {proxy} refused or could not be reached ({kind}: {said}); check "
            "that it runs, the 'proxy' extra or the HTTP_PROXY/HTTPS_PROXY variables",
            sent=sent,
        )
    return TransientVendorError(vendor.display_name, job_id, f"{kind}: {said}", sent=sent)


def _proxy_at_fault(conn: ConnSettings, exc: BaseException) -> str | None:
    """The proxy (``scheme://host:port``, never its credentials) a connect failure happened at: with
    a proxy in use, the client's only connection is to the proxy."""
    via_proxy = (
        httpx.ProxyError,
        httpx.ConnectError,
        httpx.ConnectTimeout,
        aiohttp.ClientProxyConnectionError,
        aiohttp.ClientHttpProxyError,
    )
    if not isinstance(exc, via_proxy):
        return None
    proxy = conn.client.proxy or (env_proxy(conn.base_url) if conn.client.trust_env else None)
    if not proxy:
        return None
    parts = urlsplit(proxy)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def proxy_refused(
    conn: ConnSettings, vendor: VendorApi, job_id: str | None, status: int
) -> ConfigurationError:
    """A proxy's 407 (or a refused CONNECT): its credentials or rules, never the vendor's answer."""
    return ConfigurationError(
        vendor.display_name,
        job_id,
        f"{conn.where}: the proxy refused us (HTTP {status}); check the 'proxy' extra "
        "or the HTTP_PROXY/HTTPS_PROXY variables",
    )


def account_budget(conn: ConnSettings, vendor: VendorApi) -> RateBudget | None:
    return budget_for(vendor.name, vendor.display_name, conn.share_key, conn.client.requests_per_second)


def heard(conn: ConnSettings, vendor: VendorApi, budget: RateBudget | None, resp: ApiResponse) -> None:
    """A rate-limit answer is counted and pauses the whole account in this process (with a budget)."""
    if vendor.rate_limited(resp):
        metrics.rate_limited(vendor.name, conn.conn_id)
        if budget is not None:
            budget.rate_limited(retry_after_seconds(resp.headers.get("retry-after")))
    elif budget is not None:
        budget.answered()


class TokenCache:
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


@contextmanager
def not_sent() -> Iterator[None]:
    """A fault while fetching a token (a 5xx, a reset, an answer not understood): the request that
    needed it was never sent (or was refused with a 401), so a start that meets it made no job and
    may be sent again."""
    try:
        yield
    except JobStatusError as exc:
        exc.sent = False
        raise


def needs_token(conn: ConnSettings, vendor: VendorApi, req: ApiRequest) -> bool:
    return vendor.uses_token and req.authenticated and conn.resolve(req.url)[1]


class SyncClient:
    """httpx for workers (poke/reschedule sensors, operators, downloads); shared per process."""

    def __init__(self, conn: ConnSettings, vendor: VendorApi, transport: httpx.BaseTransport | None) -> None:
        self.conn = conn
        self.vendor = vendor
        self._transport = transport
        self._clients: dict[bool, httpx.Client] = {}
        self.tokens = TokenCache()
        self._token_lock = threading.Lock()
        self._lock = threading.Lock()
        self.budget = account_budget(conn, vendor)

    def _client(self, own: bool) -> httpx.Client:
        with self._lock:
            client = self._clients.get(own)
            if client is None:
                settings = self.conn.client
                client = self._clients[own] = httpx.Client(
                    verify=tls_context(self.conn, self.vendor, own),
                    proxy=settings.proxy,
                    trust_env=settings.trust_env,
                    timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
                    transport=self._transport,
                    follow_redirects=False,
                    headers={"Accept-Encoding": ACCEPT_ENCODING},
                )
            return client

    def exchange(self, req: ApiRequest, job_id: str | None) -> ApiResponse:
        """One request with the vendor's auth; a refused token is renewed once and the request re-sent."""
        token = self.token(None) if needs_token(self.conn, self.vendor, req) else None
        resp = self.call(prepare(self.conn, self.vendor, req, job_id, token))
        if token is not None and resp.status_code == 401:
            token = self.token(token)
            resp = self.call(prepare(self.conn, self.vendor, req, job_id, token))
        return resp

    def call(self, out: Outgoing) -> ApiResponse:
        """:meth:`send` within the account's request budget (downloads stream outside it)."""
        if self.budget is not None:
            self.budget.acquire(out.job_id)
        resp = self.send(out)
        heard(self.conn, self.vendor, self.budget, resp)
        return resp

    def send(self, out: Outgoing) -> ApiResponse:
        with self.stream(out) as resp:
            if _length(resp.headers) > MAX_BODY_BYTES:
                raise too_large(self.vendor, out.job_id)
            try:
                if resp.is_stream_consumed:  # a response made whole (httpx.MockTransport): already inflated
                    body = _inflate(self.vendor, out.job_id, None, iter([resp.content]))
                else:
                    coding = resp.headers.get("content-encoding")
                    body = _inflate(self.vendor, out.job_id, coding, resp.iter_raw())
            except (httpx.HTTPError, httpx.StreamError) as exc:
                raise fault(self.conn, self.vendor, out.job_id, exc) from None
            return ApiResponse(resp.status_code, resp.headers, body)

    @contextmanager
    def stream(self, out: Outgoing, follow: bool = False, result: bool = False) -> Iterator[httpx.Response]:
        """The response with its body unread (downloads stream it), redirects followed if asked.
        A ``result`` (and each hop of its redirects) off the connection's origin never reaches a
        link-local, unspecified or multicast address unless the connection allows it."""
        for _ in range(MAX_REDIRECTS + 1):
            client = self._client(out.own)
            try:
                request = client.build_request(
                    out.method,
                    out.url,
                    params=out.params,
                    json=out.json,
                    data=out.form,
                    files=out.files,
                    headers=out.headers,
                )
                vet = result and not out.own and not self.conn.client.allow_link_local
                request.extensions["trace"] = _Trace(
                    partial(proxy_refused, self.conn, self.vendor, out.job_id),
                    self._vet(out, request.url) if vet else None,
                )
                resp = client.send(request, stream=True)
                try:
                    if resp.status_code == 407:  # a proxy's answer to an absolute-form request
                        raise proxy_refused(self.conn, self.vendor, out.job_id, 407)
                    if not (follow and resp.is_redirect):
                        yield resp
                        return
                    location = resp.headers.get("location")
                    out = follow_redirect(self.conn, self.vendor, out, resp.status_code, location)
                finally:
                    resp.close()
            except httpx.InvalidURL:  # httpx reads every Location, followed or not
                raise UnsafeRedirectError(
                    self.vendor.display_name, out.job_id, "the answer redirects to a URL that cannot be read"
                ) from None
            except httpx.HTTPError as exc:
                raise fault(self.conn, self.vendor, out.job_id, exc) from None
        raise UnsafeRedirectError(
            self.vendor.display_name, out.job_id, f"more than {MAX_REDIRECTS} redirects (a loop?)"
        )

    def _vet(self, out: Outgoing, url: httpx.URL) -> tuple[str, Callable[[str, str], JobStatusError]]:
        """Refuse ``url`` now if its host resolves to a refused address (nothing is sent), and
        return what the trace hook needs to check the address the client really connects to."""
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)

        def refused(address: str, kind: str) -> UnsafeRedirectError:
            return address_refused(self.conn, self.vendor, out.job_id, url.host, address, kind)

        found = refused_address(host, port)
        if found is not None:
            raise refused(*found)
        return host, refused

    def token(self, stale: str | None) -> str:
        with self._token_lock:
            token = self.tokens.usable(stale)
            if token is not None:
                return token
            with not_sent():
                resp = self.call(
                    prepare(self.conn, self.vendor, self.vendor.token_request(self.conn.creds), None, None)
                )
                grant = self.vendor.parse_token(resp)
            mask(grant.access_token)
            return self.tokens.store(grant)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


class AsyncClient:
    """One aiohttp session and token cache for one connection in one event loop."""

    def __init__(self, conn: ConnSettings, vendor: VendorApi) -> None:
        self.conn = conn
        self.vendor = vendor
        settings = conn.client
        #: own origin (True) or another one (False): the TLS context, once an https request needed it
        self._tls: dict[bool, ssl.SSLContext] = {}
        self._trust_env = settings.trust_env
        #: the proxy for the connection's own origin, read once (httpx too reads the environment
        #: when its client is made); other origins are looked up per request
        self._proxy = settings.proxy or (env_proxy(conn.base_url) if settings.trust_env else None)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=60.0),
            # the total timeout is ours (see _deadlines): aiohttp's leaves a dead timer per request
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout),
            # the environment's proxies are looked up by env_proxy() below: aiohttp's own
            # trust_env reads .netrc in a worker thread on every request
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            max_headers=64,  # with max_field_size (8 KiB): a response head is at most about 512 KiB
            skip_auto_headers=("User-Agent",),
        )
        self.tokens = TokenCache()
        self._token_lock = asyncio.Lock()
        self.answers = SharedAnswers()
        self.refs = 0
        self._deadlines = Deadlines(asyncio.get_running_loop())
        self.budget = account_budget(conn, vendor)

    async def exchange(self, req: ApiRequest, job_id: str | None) -> ApiResponse:
        token = await self.token(None) if needs_token(self.conn, self.vendor, req) else None
        resp = await self.call(prepare(self.conn, self.vendor, req, job_id, token))
        if token is not None and resp.status_code == 401:
            token = await self.token(token)
            resp = await self.call(prepare(self.conn, self.vendor, req, job_id, token))
        return resp

    async def call(self, out: Outgoing) -> ApiResponse:
        """:meth:`send` within the account's request budget."""
        if self.budget is not None:
            await self.budget.aacquire(out.job_id)
        resp = await self.send(out)
        heard(self.conn, self.vendor, self.budget, resp)
        return resp

    async def send(self, out: Outgoing) -> ApiResponse:
        tls: ssl.SSLContext | bool = True  # plain HTTP: no handshake, no context
        if out.url.startswith("https:"):
            tls = self._tls.get(out.own) or await self.load_tls(out.own)
        try:
            with self._deadlines.within(self.conn.client.timeout):
                async with self._session.request(
                    out.method,
                    _yarl(out.url),
                    params=out.params,
                    json=out.json,
                    data=out.form,
                    headers=out.headers,
                    allow_redirects=False,
                    ssl=tls,
                    proxy=self._proxy
                    if out.own or not self._trust_env
                    else (self.conn.client.proxy or env_proxy(out.url)),
                ) as resp:
                    if resp.status == 407:
                        raise proxy_refused(self.conn, self.vendor, out.job_id, 407)
                    length = resp.content_length
                    if length is not None and length > MAX_BODY_BYTES:
                        raise too_large(self.vendor, out.job_id)
                    if length is not None and "Content-Encoding" not in resp.headers:
                        body = await resp.read()  # delimited and not inflated: at most the length
                    else:
                        chunks = resp.content.iter_chunked(256 * 1024)
                        body = await _capped(chunks, self.vendor, out.job_id)
                    return ApiResponse(resp.status, resp.headers, body)  # case-insensitive, like httpx's
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            if isinstance(exc, ValueError) and not isinstance(exc, aiohttp.ClientError):
                raise ConfigurationError(
                    self.vendor.display_name,
                    out.job_id,
                    f"{self.conn.where}: request refused by the client: {exc}",
                ) from None
            raise fault(self.conn, self.vendor, out.job_id, exc) from None

    async def load_tls(self, own: bool) -> ssl.SSLContext:
        """Loading trust roots takes tens of milliseconds: done off the loop, once per client."""
        ctx = self._tls[own] = await asyncio.to_thread(tls_context, self.conn, self.vendor, own)
        return ctx

    async def token(self, stale: str | None) -> str:
        token = self.tokens.usable(stale)
        if token is not None:
            return token
        async with self._token_lock:
            token = self.tokens.usable(stale)
            if token is not None:
                return token
            req = self.vendor.token_request(self.conn.creds)
            with not_sent():
                resp = await self.call(prepare(self.conn, self.vendor, req, None, None))
                grant = self.vendor.parse_token(resp)
            await amask(grant.access_token)
            return self.tokens.store(grant)

    async def aclose(self) -> None:
        self._deadlines.close()
        await self._session.close()


_PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY), as httpx
    reads them on the sync path."""
    parts = urlsplit(url)
    snapshot = tuple(os.environ.get(n) or os.environ.get(n.upper()) for n in _PROXY_NAMES)
    return _env_proxy(parts.scheme, parts.hostname or "", parts.port, snapshot) if any(snapshot[:3]) else None


@lru_cache(maxsize=4096)
def _env_proxy(scheme: str, host: str, port: int | None, snapshot: tuple[str | None, ...]) -> str | None:
    if proxy_bypass_environment(host if port is None else f"{host}:{port}"):
        return None
    proxies = getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    return proxy if proxy and proxy.startswith(("http://", "https://")) else None


async def _capped(chunks: AsyncIterator[bytes], vendor: VendorApi, job_id: str | None) -> bytes:
    """Read a body of unknown (or inflated) size, refusing it once it passes the cap."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large(vendor, job_id)
        parts.append(chunk)
    return b"".join(parts)


@lru_cache(maxsize=16384)  # a wait asks for the same URL on every poll
def _yarl(url: str) -> yarl.URL:
    """The URL exactly as the sync path sends it: httpx's escaping, then no re-quoting by yarl
    (which would turn an encoded ``%3D`` in a job id back into ``=``)."""
    return yarl.URL(as_httpx_sends(url), encoded=True)


#: a path httpx sends as it is: unreserved characters, sub-delimiters, ``:``, ``@``, ``/`` and
#: percent escapes (what our request paths are made of: ids go through ``quote(safe="")``)
_PLAIN_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
#: ``.`` and ``..`` segments, which httpx removes
_DOT_SEGMENT = re.compile(r"/\.\.?(?=/|$)")


def as_httpx_sends(url: str) -> str:
    """``str(httpx.URL(url))`` without parsing the whole URL again for every new job id: a plain
    path is kept as it is after the origin as httpx renders it (host in lower case and IDNA,
    default port dropped); anything else goes through httpx."""
    start = url.find("://")
    end = url.find("/", start + 3) if start > 0 else -1
    if end < 0 or not _PLAIN_PATH.fullmatch(url, end) or _DOT_SEGMENT.search(url, end):
        return str(httpx.URL(url))
    return _httpx_origin(url[:end]) + url[end:]


@lru_cache(maxsize=1024)
def _httpx_origin(origin: str) -> str:
    return str(httpx.URL(origin + "/"))[:-1]


#: what the sync client asks for (httpx would add ``br``/``zstd`` when their packages are installed)
ACCEPT_ENCODING = "gzip, deflate"
#: the most a status body's decoding yields per step (the body itself is capped at MAX_BODY_BYTES)
_STATUS_STEP = 1024 * 1024


def body_pieces(
    vendor: VendorApi, job_id: str | None, coding: str | None, raw: Iterable[bytes], step: int
) -> Iterator[bytes]:
    """A body read from the wire with its content codings undone, at most ``step`` bytes a piece
    (httpx would inflate each network read whole: 64 KiB of gzip can become 64 MiB)."""
    try:
        yield from decoded(coding, raw, step)
    except CutShort as exc:  # the connection closed mid-stream: another try may get it whole
        raise TransientVendorError(vendor.display_name, job_id, f"answer truncated: {exc}") from None
    except CodingError as exc:
        raise MalformedResponseError(vendor.display_name, job_id, f"answer refused: {exc}") from None


def _inflate(vendor: VendorApi, job_id: str | None, coding: str | None, raw: Iterator[bytes]) -> bytes:
    """A status body, decoded never past the cap."""
    body = bytearray()
    for piece in body_pieces(vendor, job_id, coding, raw, _STATUS_STEP):
        body += piece
        if len(body) > MAX_BODY_BYTES:
            raise too_large(vendor, job_id)
    return bytes(body)


def _length(headers: Mapping[str, str]) -> int:
    try:
        return int(headers.get("content-length") or 0)
    except ValueError:
        return 0


# -- sharing ------------------------------------------------------------------------------------
#: (vendor protocol, who may share, client settings): a declared API's protocol is its connection's
_Key = tuple[VendorApi, tuple[str, str, str], Any]
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_sync_clients: dict[_Key, SyncClient] = {}
_sync_lock = threading.Lock()


_creating: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def acquire_async(conn: ConnSettings, vendor: VendorApi) -> AsyncClient:
    """The running loop's client for this connection; callers must :func:`release_async` it."""
    loop = asyncio.get_running_loop()
    clients = _async_clients.setdefault(loop, {})
    key = (vendor, conn.share_key, conn.client)
    client = clients.get(key)
    if client is None:
        # a thousand waits starting together make one client: the first loads the TLS roots off
        # the loop (it takes a while), the others wait for it
        async with _creating.setdefault(loop, asyncio.Lock()):
            client = clients.get(key)
            if client is None:
                client = AsyncClient(conn, vendor)
                if conn.base_url.startswith("https:"):
                    try:
                        await client.load_tls(True)
                    except BaseException:
                        await client.aclose()
                        raise
                clients[key] = client
    client.refs += 1
    return client


async def release_async(client: AsyncClient) -> None:
    """Drop one reference; the last one closes the session."""
    client.refs -= 1
    if client.refs > 0:
        return
    clients = _async_clients.get(asyncio.get_running_loop(), {})
    for key, candidate in list(clients.items()):
        if candidate is client:
            del clients[key]
    await client.aclose()


def shared_sync(conn: ConnSettings, vendor: VendorApi, transport: httpx.BaseTransport | None) -> SyncClient:
    key = (vendor, conn.share_key, (conn.client, transport))
    with _sync_lock:
        client = _sync_clients.get(key)
        if client is None:
            client = _sync_clients[key] = SyncClient(conn, vendor, transport)
        return client
