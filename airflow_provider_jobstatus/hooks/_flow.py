"""The exchange logic, written once as generators and driven by a sync or an async session.

A flow yields steps (send this request, give me a token, sleep) and receives their results; the
drivers in :mod:`._session` do the I/O. Token renewal, retries with backoff and the rule that
credentials go only to the connection's own origin live here, so sync and async behave alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from airflow_provider_jobstatus.errors import (
    JobNotFoundError,
    JobStatusError,
    TransientVendorError,
    UnsafeRedirectError,
)
from airflow_provider_jobstatus.hooks._settings import ConnSettings, origin_of, resolve_url
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import BatchPage, JobStatus
from airflow_provider_jobstatus.vendors import ApiRequest, ApiResponse, TokenGrant, VendorApi

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send this request and answer with an :class:`ApiResponse` (body read, size-capped)."""

    method: str
    url: str = field(repr=False)  # may be a pre-signed URL
    job_id: str | None
    params: Mapping[str, str] | None = None
    json: Any = field(default=None, repr=False)
    form: Mapping[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    files: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NeedToken:
    """Answer with a valid access token; ``stale`` is one the vendor just refused."""

    stale: str | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Send | NeedToken | Sleep
_ANY_TOKEN = NeedToken()
Flow = Generator[Step, Any, T]


def prepare(
    settings: ConnSettings, vendor: VendorApi, req: ApiRequest, job_id: str | None, token: str | None
) -> Send:
    """Resolve the URL and add credentials, but only for the connection's own origin."""
    url, own = settings.resolve(req.url)
    headers = dict(req.headers)
    basic = req.basic_auth
    if own:
        if req.authenticated:
            headers.update(vendor.auth_headers(settings.creds, token))
    else:
        basic = None
    return Send(req.method, url, job_id, req.params, req.json, req.form, headers, basic, req.files)


#: Most redirect hops a download follows before calling it a loop.
MAX_REDIRECTS = 5


def follow_redirect(
    settings: ConnSettings, vendor: VendorApi, step: Send, status: int, location: str | None
) -> Send:
    """The next hop of a redirect. Credentials stay behind when the origin changes: httpx drops only
    ``Authorization`` on its own, never ``x-api-key``; non-HTTP schemes are refused outright."""
    if not location:
        raise UnsafeRedirectError(
            vendor.display_name, step.job_id, f"HTTP {status} redirect without a Location"
        )
    try:
        url = resolve_url(step.url, location)
        scheme = urlsplit(url).scheme.lower()
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise UnsafeRedirectError(
            vendor.display_name, step.job_id, "refusing a redirect to a malformed URL"
        ) from None
    if scheme not in ("http", "https"):
        raise UnsafeRedirectError(
            vendor.display_name, step.job_id, f"refusing a redirect to a {scheme or 'relative'!r} URL"
        )
    headers = dict(step.headers)
    basic = step.basic_auth
    if origin_of(url) != origin_of(step.url):
        secret_names = {name.lower() for name in vendor.auth_headers(settings.creds, "-")} | {"authorization"}
        headers = {k: v for k, v in headers.items() if k.lower() not in secret_names}
        basic = None
    return Send("GET", url, step.job_id, None, None, None, headers, basic)


def needs_token(settings: ConnSettings, vendor: VendorApi, req: ApiRequest) -> bool:
    return vendor.uses_token and req.authenticated and settings.resolve(req.url)[1]


def exchange(
    settings: ConnSettings, vendor: VendorApi, req: ApiRequest, job_id: str | None
) -> Flow[ApiResponse]:
    """One request with the vendor's auth; a refused token is renewed once and the request re-sent."""
    wants_token = needs_token(settings, vendor, req)
    token: str | None = (yield _ANY_TOKEN) if wants_token else None
    resp: ApiResponse = yield prepare(settings, vendor, req, job_id, token)
    if wants_token and resp.status_code == 401:
        token = yield NeedToken(stale=token)
        resp = yield prepare(settings, vendor, req, job_id, token)
    return resp


def token_flow(settings: ConnSettings, vendor: VendorApi) -> Flow[TokenGrant]:
    req = vendor.token_request(settings.creds)
    resp: ApiResponse = yield prepare(settings, vendor, req, None, None)
    return vendor.parse_token(resp)


def status_flow(
    settings: ConnSettings,
    vendor: VendorApi,
    job_id: str,
    options: Mapping[str, Any],
    request: ApiRequest | None = None,
) -> Flow[JobStatus]:
    """Ask once for a job's status (no retries: see :func:`with_retries`); ``request`` is the
    vendor's status request when the caller has it already (a wait asks the same one each poll)."""
    req = request or vendor.status_request(job_id, options)
    resp = yield from exchange(settings, vendor, req, job_id)
    try:
        return vendor.parse_status(job_id, resp, options)
    except JobNotFoundError:
        fallback = vendor.fallback_status_request(job_id, options)
        if fallback is None:
            raise
        resp = yield from exchange(settings, vendor, fallback, job_id)
        return vendor.parse_status(job_id, resp, options)


def batch_page_flow(
    settings: ConnSettings,
    vendor: VendorApi,
    batch_id: str,
    page_token: str | None,
    options: Mapping[str, Any],
) -> Flow[BatchPage]:
    req = vendor.batch_page_request(batch_id, page_token, options)
    resp = yield from exchange(settings, vendor, req, batch_id)
    return vendor.parse_batch_page(batch_id, resp)


def with_retries(make_flow: Callable[[], Flow[T]], attempts: int, backoff: Backoff) -> Flow[T]:
    """Re-run a flow on transient faults, up to ``attempts`` tries in all, with jittered backoff."""
    failures = 0
    while True:
        try:
            return (yield from make_flow())
        except JobStatusError as exc:
            failures += 1
            if not exc.transient or failures >= attempts:
                raise
            hint = exc.retry_after if isinstance(exc, TransientVendorError) else None
            wait = backoff.delay(failures, hint)
            log.warning("%s; retrying in %.1f s (attempt %d of %d)", exc, wait, failures + 1, attempts)
            yield Sleep(wait)
