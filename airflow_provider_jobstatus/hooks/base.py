"""The one hook that does I/O for every vendor; vendor subclasses only name their protocol."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx
import tenacity
from airflow.sdk import BaseHook

from airflow_provider_jobstatus import metrics
from airflow_provider_jobstatus.connection_types import connection_type
from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    JobStatusError,
    TransientVendorError,
    about_batch,
)
from airflow_provider_jobstatus.hooks._coalesce import SharedAnswers
from airflow_provider_jobstatus.hooks._http import (
    AsyncClient,
    SyncClient,
    acquire_async,
    amask,
    amask_url,
    body_pieces,
    mask,
    mask_url,
    needs_token,
    prepare,
    release_async,
    shared_sync,
)
from airflow_provider_jobstatus.hooks._paging import Pager
from airflow_provider_jobstatus.hooks._settings import ConnSettings, build_settings, parse_extras
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import BatchJob, BatchPage, JobStatus
from airflow_provider_jobstatus.vendors import (
    ApiRequest,
    ApiResponse,
    OffsetListing,
    ResultRequest,
    VendorApi,
    get_vendor,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Probe id for ``test_connection``: no vendor has such a job, every vendor still checks the key.
_PROBE_JOB_ID = "airflow-connection-test"


class JobStatusHook(BaseHook):
    """Authenticated access to one vendor's job API through one Airflow connection.

    Each vendor's subclass, made from its vendor module's declaration
    (:func:`~airflow_provider_jobstatus.hooks.hook_class`), sets ``vendor_name``; everything else
    (connection parsing, client settings, token cache, retries, the rule that credentials never
    leave the connection's origin) happens here once for all vendors. Use ``async with hook:``
    (or ``await hook.aclose()``) in async code so the shared client is released when the last user
    is done.
    """

    vendor_name: ClassVar[str] = ""
    conn_name_attr = "conn_id"
    default_conn_name = ""
    conn_type = ""
    hook_name = "Job Status"

    def __init_subclass__(cls, vendor: str | None = None, **kwargs: Any) -> None:
        """``class PdfCoHook(JobStatusHook, vendor="pdfco")``: the class of a vendor's connection
        type, its names read from the vendor's declaration (:mod:`airflow_provider_jobstatus.vendors`)."""
        super().__init_subclass__(**kwargs)
        if vendor is not None:
            api = get_vendor(vendor)
            cls.vendor_name = cls.conn_type = api.name
            cls.default_conn_name = api.default_conn_id
            cls.hook_name = api.hook_name

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not self.vendor_name:
            raise TypeError(
                "JobStatusHook is abstract: use NitroHook, PdfCoHook, ... or JobStatusHook.for_connection()"
            )
        self.vendor: VendorApi
        if get_vendor(self.vendor_name).declared_by is None:
            self.vendor = get_vendor(self.vendor_name)
        # else the connection declares its API: read with the connection (``__getattr__``)
        self.conn_id = conn_id or self.default_conn_name
        self.retries = max(1, retries)
        self.backoff = Backoff(base=backoff, cap=max_backoff)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        #: an ``httpx.MockTransport`` for sync unit tests; the async path always uses aiohttp
        self._transport = transport
        self._settings: ConnSettings | None = None
        self._async_client: AsyncClient | None = None
        #: (job id, options, request) of the last async status check: a wait asks the same every poll
        self._status_request: tuple[str, Mapping[str, Any], ApiRequest] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    if not TYPE_CHECKING:  # for mypy, ``vendor`` is a plain attribute and nothing else is dynamic

        def __getattr__(self, name: str) -> Any:
            """``vendor`` of a connection that declares its API, asked before it was read: read it."""
            if name != "vendor":
                raise AttributeError(name)
            self.settings()
            return self.__dict__["vendor"]

    # -- connection -----------------------------------------------------------------------------
    @classmethod
    def for_connection(cls, conn_id: str, **kwargs: Any) -> JobStatusHook:
        """The vendor hook that a connection's type selects (sync path: workers)."""
        conn = cls.get_connection(conn_id)
        return hook_class_for(conn.conn_type, conn_id)(conn_id, **kwargs)

    @classmethod
    async def afor_connection(cls, conn_id: str, **kwargs: Any) -> JobStatusHook:
        """The same, fetching the connection without blocking the event loop (triggers)."""
        conn = await shared_connection(conn_id)
        hook = hook_class_for(conn.conn_type, conn_id)(conn_id, **kwargs)
        key = (conn_id, hook.vendor_name, hook._timeout, hook._connect_timeout)
        shared = _shared_settings.get(key)
        if shared is not None and shared[0] is conn:  # the same lookup: the same settings
            hook._settings, hook.vendor = shared[1], shared[2]
            return hook
        hook._settings = hook._settings_from(conn)
        await _amask_proxy(hook._settings)
        if len(_shared_settings) >= 1024:
            _shared_settings.clear()
        _shared_settings[key] = (conn, hook._settings, hook.vendor)
        return hook

    def settings(self) -> ConnSettings:
        if self._settings is None:
            self._settings = self._settings_from(self.get_connection(self.conn_id))
            _mask_proxy(self._settings)
        return self._settings

    async def asettings(self) -> ConnSettings:
        if self._settings is None:
            self._settings = self._settings_from(await shared_connection(self.conn_id))
            await _amask_proxy(self._settings)
        return self._settings

    def _settings_from(self, conn: Any) -> ConnSettings:
        api = get_vendor(self.vendor_name)
        extras = parse_extras(conn.extra, api.display_name, self.conn_id)
        if api.declared_by is not None:  # the declaration stays out of the options polls send
            try:
                self.vendor = api.for_connection(extras)
            except ConfigurationError as exc:
                raise ConfigurationError(
                    exc.vendor, None, f"connection {self.conn_id!r}: {exc.detail}"
                ) from None
            extras = {k: v for k, v in extras.items() if k != api.declared_by}
        settings = build_settings(
            self.vendor,
            self.conn_id,
            conn_type=conn.conn_type,
            host=conn.host,
            port=conn.port,
            login=conn.login,
            password=conn.password,
            extras=extras,
        )
        client = settings.client
        if self._timeout is not None:
            client = dataclasses.replace(
                client, timeout=self._timeout, connect_timeout=min(10.0, self._timeout)
            )
        if self._connect_timeout is not None:
            client = dataclasses.replace(client, connect_timeout=min(self._connect_timeout, client.timeout))
        return dataclasses.replace(settings, client=client)

    def options(self, settings: ConnSettings, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Vendor options: the connection's extras, then the caller's (sensor) options; a required
        extra that is missing fails here, before any request, naming the connection."""
        opts = {**settings.extras, **{k: v for k, v in overrides.items() if v is not None}}
        for name in self.vendor.required_extras:
            try:
                self.vendor.required_extra(opts, name)
            except ConfigurationError as exc:
                raise ConfigurationError(exc.vendor, None, f"{settings.where}: {exc.detail}") from None
        return opts

    def _retrying(self, attempts: int | None = None) -> dict[str, Any]:
        """tenacity's arguments for a single call: transient faults retried with jittered backoff
        (a vendor's Retry-After as a floor), anything else raised at once."""

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hint = exc.retry_after if isinstance(exc, TransientVendorError) else None
            return self.backoff.delay(state.attempt_number, hint)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s; retrying in %.1f s (attempt %d)", exc, state.upcoming_sleep, state.attempt_number + 1
            )

        return {
            "stop": tenacity.stop_after_attempt(self.retries if attempts is None else max(1, attempts)),
            "wait": wait,
            "retry": tenacity.retry_if_exception(
                lambda exc: isinstance(exc, JobStatusError) and exc.transient
            ),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    @contextmanager
    def _counted(self, poll: bool = False) -> Iterator[None]:
        """Metrics of one call: a status request (``poll``), and any fault by kind."""
        if poll:
            metrics.polled(self.vendor.name, self.conn_id)
        try:
            yield
        except JobStatusError as exc:
            metrics.faulted(self.vendor.name, self.conn_id, exc)
            raise

    # -- sync -----------------------------------------------------------------------------------
    def sync_client(self) -> SyncClient:
        return shared_sync(self.settings(), self.vendor, self._transport)

    def request(self, req: ApiRequest, job_id: str | None = None) -> ApiResponse:
        """Send one vendor request (start, cancel, listing) with the connection's auth, a refused
        token renewed once; no retries: the caller knows whether sending twice is safe."""
        return self.sync_client().exchange(req, job_id)

    def get_job_status(self, job_id: str, *, retries: int | None = None, **options: Any) -> JobStatus:
        """The job's current status; transient faults are retried a few times (``retries=1``: asked
        exactly once, for a wait that keeps its own fault clock), then raised."""
        opts = self.options(self.settings(), options)
        client = self.sync_client()
        req = self.vendor.status_request(job_id, opts)

        def once() -> JobStatus:
            with self._counted(poll=True):
                try:
                    return self.vendor.parse_status(job_id, client.exchange(req, job_id), opts)
                except JobNotFoundError:
                    fallback = self.vendor.fallback_status_request(job_id, opts)
                    if fallback is None:
                        raise
                    return self.vendor.parse_status(job_id, client.exchange(fallback, job_id), opts)

        return _seen(once() if retries == 1 else tenacity.Retrying(**self._retrying(retries))(once))

    def cancel_job(self, job_id: str) -> bool:
        """Ask the vendor to cancel a job; False (nothing sent) where it documents no cancel call."""
        req = self.vendor.cancel_request(job_id, self.options(self.settings(), {}))
        if req is None:
            return False
        with self._counted():
            self.vendor.parse_cancel(job_id, self.request(req, job_id))
        metrics.cancelled(self.vendor.name, self.conn_id)
        return True

    def get_batch_page(self, batch_id: str, page_token: str | None = None) -> BatchPage:
        with about_batch():
            opts = self.options(self.settings(), {})
            req = self.vendor.batch_page_request(batch_id, page_token, opts)
            client = self.sync_client()
            return tenacity.Retrying(**self._retrying())(
                lambda: self.vendor.parse_batch_page(batch_id, client.exchange(req, batch_id))
            )

    def iter_batch_pages(self, batch_id: str, max_pages: int | None = None) -> Iterator[BatchPage]:
        """A batch's pages in order; a page that fails is retried, not restarted from page one.
        ``max_pages`` stops quietly after that many; past the connection's page cap it is an error."""
        pager = self.pager(self.settings(), "batch", batch_id, max_pages)
        token: str | None = None
        while True:
            page = self.get_batch_page(batch_id, token)
            yield page
            token = pager.next_token(page.next_page_token, not page.jobs)
            if token is None:
                return

    def iter_batch_jobs(self, batch_id: str, max_pages: int | None = None) -> Iterator[BatchJob]:
        """Every job of a batch, page by page."""
        for page in self.iter_batch_pages(batch_id, max_pages):
            yield from page.jobs

    def pager(
        self, settings: ConnSettings, subject: str, listing_id: str, stop_after: int | None = None
    ) -> Pager:
        """The page counter every listing of this connection is read with (its page cap)."""
        return Pager(
            self.vendor.display_name, subject, listing_id, settings.where, settings.max_pages, stop_after
        )

    def list_by_offset(self, listing: OffsetListing) -> list[BatchJob]:
        """Every entry of an offset-paged listing, within the connection's page cap; each page
        asked once (the caller decides whether a failed listing is worth asking again)."""
        pager = self.pager(self.settings(), listing.subject, listing.listing_id)
        jobs: list[BatchJob] = []
        while True:
            req = listing.request(pager.pages * listing.page_size, listing.page_size)
            got = listing.parse(self.request(req, listing.listing_id))
            jobs.extend(got)
            if not pager.another(full=len(got) >= listing.page_size):
                return jobs

    @contextmanager
    def open_result(self, result: ResultRequest, job_id: str | None = None) -> Iterator[httpx.Response]:
        """Open one result of job ``job_id`` for streaming: the vendor's auth on its own origin
        only, redirects followed without credentials, a refused token renewed once. Read the body
        with :meth:`iter_result` (bounded decoding)."""
        settings = self.settings()
        client = self.sync_client()
        mask_url(result.request.url)
        stale: str | None = None
        for _ in range(2):
            token = client.token(stale) if needs_token(settings, self.vendor, result.request) else None
            out = prepare(settings, self.vendor, result.request, job_id, token)
            with client.stream(out, follow=result.follow_redirects, result=True) as resp:
                if resp.status_code == 401 and token is not None and stale is None:
                    stale = token
                    continue
                yield resp
                return

    def iter_result(
        self, resp: httpx.Response, job_id: str | None = None, *, step: int = 1024 * 1024
    ) -> Iterator[bytes]:
        """The body of an :meth:`open_result` answer as the vendor meant it (gzip or deflate
        undone), at most ``step`` bytes a piece whatever the wire carries. Read results this way:
        ``resp.iter_bytes()`` inflates each network read whole (250 KB of gzip can be 256 MiB)."""
        if resp.is_stream_consumed:  # a response made whole (httpx.MockTransport): already decoded
            return iter([resp.content])
        coding = resp.headers.get("content-encoding")
        return body_pieces(self.vendor, job_id, coding, resp.iter_raw(), step)

    def test_connection(self) -> tuple[bool, str]:
        """What the connection form's Test button calls: are the URL and credentials accepted?

        Key vendors are asked about a made-up job id: "not found" means the key was accepted.
        Messages speak of the vendor, not of that probe id."""
        try:
            self.settings()  # a connection that declares its API: the declaration is checked here
            name = self.vendor.display_name
            if self.vendor.uses_token:
                self.sync_client().token(None)
                return True, f"{name}: credentials accepted (token issued)"
            self.get_job_status(_PROBE_JOB_ID)
        except (AuthenticationError, ConfigurationError) as exc:
            return False, f"{exc.vendor}: {exc.detail}"
        except JobStatusError as exc:
            if exc.transient:
                return False, f"{exc.vendor}: {exc.detail}"
            return True, f"{exc.vendor}: credentials accepted ({exc.detail})"
        return True, f"{name}: credentials accepted"

    # -- async ----------------------------------------------------------------------------------
    async def async_client(self) -> AsyncClient:
        if self._async_client is None:
            self._async_client = await acquire_async(await self.asettings(), self.vendor)
        return self._async_client

    async def arequest(self, req: ApiRequest, job_id: str | None = None) -> ApiResponse:
        """:meth:`request` without blocking the event loop (triggers: cancel, listings)."""
        return await (await self.async_client()).exchange(req, job_id)

    async def acancel_job(self, job_id: str) -> bool:
        """:meth:`cancel_job` without blocking the event loop (a trigger's ``on_kill``)."""
        req = self.vendor.cancel_request(job_id, self.options(await self.asettings(), {}))
        if req is None:
            return False
        with self._counted():
            self.vendor.parse_cancel(job_id, await self.arequest(req, job_id))
        metrics.cancelled(self.vendor.name, self.conn_id)
        return True

    async def aget_job_status(
        self, job_id: str, *, retries: int | None = None, max_age: float | None = None, **options: Any
    ) -> JobStatus:
        """The job's current status without blocking the loop; ``retries=1`` asks exactly once.

        With ``max_age``, an answer another caller in this event loop got less than ``max_age``
        seconds ago (or is getting right now) is shared instead of asking again.
        """
        client = self._async_client or await self.async_client()
        extras = client.conn.extras
        opts = self.options(client.conn, options) if options else extras
        last = self._status_request
        if last is not None and last[0] == job_id and last[1] is opts:
            req = last[2]
        else:
            req = self.vendor.status_request(job_id, opts)  # also checks the id
            self._status_request = (job_id, opts, req)

        async def once() -> JobStatus:
            # the metrics of _counted, written out: this runs once per poll of every wait
            metrics.polled(self.vendor.name, self.conn_id)
            try:
                return self.vendor.parse_status(job_id, await client.exchange(req, job_id), opts)
            except JobNotFoundError as exc:
                fallback = self.vendor.fallback_status_request(job_id, opts)
                if fallback is None:
                    metrics.faulted(self.vendor.name, self.conn_id, exc)
                    raise
                try:
                    return self.vendor.parse_status(job_id, await client.exchange(fallback, job_id), opts)
                except JobStatusError as again:
                    metrics.faulted(self.vendor.name, self.conn_id, again)
                    raise
            except JobStatusError as exc:
                metrics.faulted(self.vendor.name, self.conn_id, exc)
                raise

        fetch = once if retries == 1 else _aretrying(self._retrying(retries), once)
        if max_age is None:
            status = await fetch()
        else:
            key = ("status", job_id, json.dumps(opts, sort_keys=True, default=str) if opts else "")
            status = await client.answers.get(key, fetch, max_age)
        return await _aseen(status) if status.results else status

    async def abatch_snapshot(self, batch_id: str, *, max_age: float) -> dict[str, BatchJob]:
        """Every job of a batch by id, from one listing shared by all callers in this event loop
        for ``max_age`` seconds: a thousand waits on one batch cost its pages once per interval."""
        client = await self.async_client()

        async def fetch() -> dict[str, BatchJob]:
            return {job.id: job async for job in self.aiter_batch_jobs(batch_id)}

        return await client.answers.get(("batch", batch_id), fetch, max_age)

    async def ashared(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[T]], *, max_age: float) -> T:
        """``await fetch()``, or the answer another caller of this connection in this event loop
        got under the same ``key`` less than ``max_age`` seconds ago (or is getting right now):
        listings the hook has no method for (an Alteryx workflow's jobs) are shared like
        :meth:`abatch_snapshot`'s."""
        client = await self.async_client()
        return await client.answers.get(("shared", *key), fetch, max_age)

    async def aget_batch_page(self, batch_id: str, page_token: str | None = None) -> BatchPage:
        with about_batch():
            opts = self.options(await self.asettings(), {})
            req = self.vendor.batch_page_request(batch_id, page_token, opts)
            client = await self.async_client()

            async def once() -> BatchPage:
                return self.vendor.parse_batch_page(batch_id, await client.exchange(req, batch_id))

            return await _aretrying(self._retrying(), once)()

    async def aiter_batch_jobs(self, batch_id: str, max_pages: int | None = None) -> AsyncIterator[BatchJob]:
        """:meth:`iter_batch_jobs` without blocking the event loop."""
        pager = self.pager(await self.asettings(), "batch", batch_id, max_pages)
        token: str | None = None
        while True:
            page = await self.aget_batch_page(batch_id, token)
            for job in page.jobs:
                yield job
            token = pager.next_token(page.next_page_token, not page.jobs)
            if token is None:
                return

    async def alist_by_offset(self, listing: OffsetListing) -> list[BatchJob]:
        """:meth:`list_by_offset` without blocking the event loop (asset watchers)."""
        pager = self.pager(await self.asettings(), listing.subject, listing.listing_id)
        jobs: list[BatchJob] = []
        while True:
            req = listing.request(pager.pages * listing.page_size, listing.page_size)
            got = listing.parse(await self.arequest(req, listing.listing_id))
            jobs.extend(got)
            if not pager.another(full=len(got) >= listing.page_size):
                return jobs

    async def aclose(self) -> None:
        client, self._async_client = self._async_client, None
        if client is not None:
            await release_async(client)

    async def __aenter__(self) -> JobStatusHook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- Airflow < 3.2 connection form (3.2+ reads provider info) --------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        spec = connection_type(get_vendor(cls.conn_type))
        return json.loads(json.dumps(spec["ui-field-behaviour"]))  # type: ignore[no-any-return]

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import StringField
        except ImportError:  # Airflow 3.2+ without the FAB UI: provider info carries the fields
            return {}
        fields = connection_type(get_vendor(cls.conn_type))["conn-fields"]
        return {
            name: StringField(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget())
            for name, spec in fields.items()
        }


#: how long waits in one event loop share a connection they looked up (a rotated key is seen after this)
CONNECTION_MAX_AGE = 30.0
_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedAnswers] = (
    weakref.WeakKeyDictionary()
)


#: the settings built from the connection :func:`shared_connection` last handed out, per hook
#: options: the waits that start together share one (frozen) copy instead of one each
_shared_settings: dict[tuple[str, str, float | None, float | None], tuple[Any, ConnSettings, VendorApi]] = {}


def _aretrying(kwargs: dict[str, Any], once: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    async def call() -> T:
        return await tenacity.AsyncRetrying(**kwargs)(once)

    return call


def _seen(status: JobStatus) -> JobStatus:
    """Result URLs carry their signature in the query: masked the moment we first see them."""
    for result in status.results:
        if result.url:
            mask_url(result.url)
    return status


async def _aseen(status: JobStatus) -> JobStatus:
    for result in status.results:
        if result.url:
            await amask_url(result.url)
    return status


def _mask_proxy(settings: ConnSettings) -> None:
    password = _proxy_password(settings)
    if password:
        mask(password)


async def _amask_proxy(settings: ConnSettings) -> None:
    password = _proxy_password(settings)
    if password:
        await amask(password)


def _proxy_password(settings: ConnSettings) -> str | None:
    proxy = settings.client.proxy
    return httpx.URL(proxy).password if proxy else None


async def shared_connection(conn_id: str) -> Any:
    """The Airflow connection, looked up once for all the waits that start together in this event
    loop: a thousand triggers starting at once would otherwise cost a lookup (and its secret
    masking) each, holding up their first polls."""
    from airflow.providers.common.compat.connection import get_async_connection

    answers = _connections.setdefault(asyncio.get_running_loop(), SharedAnswers())
    return await answers.get(conn_id, lambda: get_async_connection(conn_id), CONNECTION_MAX_AGE)


def hook_class_for(conn_type: str | None, conn_id: str) -> type[JobStatusHook]:
    """The hook class for a connection type, or an error that says what types are accepted."""
    from airflow_provider_jobstatus.hooks import HOOKS

    try:
        return HOOKS[conn_type or ""]
    except KeyError:
        raise ConfigurationError(
            "Job Status",
            None,
            f"connection {conn_id!r} has type {conn_type!r}; use one of {', '.join(sorted(HOOKS))}",
        ) from None
