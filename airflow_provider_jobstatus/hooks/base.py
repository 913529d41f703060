"""The one hook that does I/O for every vendor; vendor subclasses only name their protocol."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar

import httpx
from airflow.sdk import BaseHook

from airflow_provider_jobstatus.connection_types import CONNECTION_TYPES
from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobStatusError,
    VendorRequestError,
)
from airflow_provider_jobstatus.hooks._coalesce import SharedAnswers
from airflow_provider_jobstatus.hooks._flow import (
    Flow,
    batch_page_flow,
    exchange,
    needs_token,
    prepare,
    status_flow,
    token_flow,
    with_retries,
)
from airflow_provider_jobstatus.hooks._session import (
    AsyncSession,
    SyncSession,
    Timeouts,
    acquire_async,
    release_async,
    shared_sync,
)
from airflow_provider_jobstatus.hooks._settings import ConnSettings, build_settings, parse_extras
from airflow_provider_jobstatus.hooks._status_poll import StatusPoll
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import BatchJob, BatchPage, JobStatus
from airflow_provider_jobstatus.vendors import ApiRequest, ApiResponse, ResultRequest, VendorApi, get_vendor

#: Probe id for ``test_connection``: no vendor has such a job, every vendor still checks the key.
_PROBE_JOB_ID = "airflow-connection-test"


class JobStatusHook(BaseHook):
    """Authenticated access to one vendor's job-status API through one Airflow connection.

    Subclasses set ``vendor_name``; everything else (connection parsing, token cache, retries, the
    rule that credentials never leave the connection's origin) happens here once for all vendors.
    Use ``async with hook:`` (or ``await hook.aclose()``) in async code so the shared client is
    released when the last user is done.
    """

    vendor_name: ClassVar[str] = ""
    conn_name_attr = "conn_id"
    default_conn_name = ""
    conn_type = ""
    hook_name = "Job Status"

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        timeout: float | None = None,
        connect_timeout: float = 10.0,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not self.vendor_name:
            raise TypeError(
                "JobStatusHook is abstract: use NitroHook, PdfCoHook, ... or JobStatusHook.for_connection()"
            )
        self.conn_id = conn_id or self.default_conn_name
        self.retries = max(1, retries)
        self.backoff = Backoff(base=backoff, cap=max_backoff)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._transport = transport
        self._settings: ConnSettings | None = None
        self._async_session: AsyncSession | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @property
    def vendor(self) -> VendorApi:
        return get_vendor(self.vendor_name)

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
        hook._settings = hook._settings_from(conn, parse_extras(conn.extra, hook.vendor, conn_id))
        return hook

    def settings(self) -> ConnSettings:
        if self._settings is None:
            conn = self.get_connection(self.conn_id)
            self._settings = self._settings_from(conn, parse_extras(conn.extra, self.vendor, self.conn_id))
        return self._settings

    async def asettings(self) -> ConnSettings:
        if self._settings is None:
            conn = await shared_connection(self.conn_id)
            self._settings = self._settings_from(conn, parse_extras(conn.extra, self.vendor, self.conn_id))
        return self._settings

    def _settings_from(self, conn: Any, extras: Mapping[str, Any]) -> ConnSettings:
        return build_settings(
            self.vendor,
            self.conn_id,
            conn_type=conn.conn_type,
            host=conn.host,
            port=conn.port,
            login=conn.login,
            password=conn.password,
            extras=extras,
        )

    def timeouts(self, settings: ConnSettings) -> Timeouts:
        total = self._timeout
        if total is None:
            configured = settings.extras.get("timeout")
            total = float(configured) if isinstance(configured, (int, float)) and configured > 0 else 30.0
        return Timeouts(total=total, connect=min(self._connect_timeout, total), transport=self._transport)

    def options(self, settings: ConnSettings, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Vendor options: the connection's extras, then the caller's (sensor) options."""
        return {**settings.extras, **{k: v for k, v in overrides.items() if v is not None}}

    # -- sync -----------------------------------------------------------------------------------
    def sync_session(self) -> SyncSession:
        settings = self.settings()
        return shared_sync(settings, self.vendor, self.timeouts(settings))

    def run(self, flow: Flow[Any]) -> Any:
        return self.sync_session().run(flow)

    def get_job_status(self, job_id: str, **options: Any) -> JobStatus:
        """The job's current status; transient faults are retried a few times, then raised."""
        settings = self.settings()
        opts = self.options(settings, options)
        return self.sync_session().run(
            with_retries(lambda: status_flow(settings, self.vendor, job_id, opts), self.retries, self.backoff)
        )

    def request(self, req: ApiRequest, job_id: str | None = None) -> ApiResponse:
        """Send one vendor request (start, cancel, listing) with the connection's auth, a refused
        token renewed once; no retries: the caller knows whether sending twice is safe."""
        return self.sync_session().run(exchange(self.settings(), self.vendor, req, job_id))

    def cancel_job(self, job_id: str) -> bool:
        """Ask the vendor to cancel a job; False (nothing sent) where it documents no cancel call."""
        req = self.vendor.cancel_request(job_id, self.options(self.settings(), {}))
        if req is None:
            return False
        self.vendor.parse_cancel(job_id, self.request(req, job_id))
        return True

    def get_batch_page(self, batch_id: str, page_token: str | None = None) -> BatchPage:
        settings = self.settings()
        opts = self.options(settings, {})
        return self.sync_session().run(
            with_retries(
                lambda: batch_page_flow(settings, self.vendor, batch_id, page_token, opts),
                self.retries,
                self.backoff,
            )
        )

    def iter_batch_jobs(self, batch_id: str, max_pages: int | None = None) -> Iterator[BatchJob]:
        """Every job of a batch, page by page; a page that fails is retried, not restarted from page one."""
        for page in iter_pages(self, batch_id, max_pages):
            yield from page.jobs

    @contextmanager
    def open_result(self, result: ResultRequest, job_id: str | None = None) -> Iterator[httpx.Response]:
        """Open one result of job ``job_id`` for streaming: the vendor's auth on its own origin
        only, redirects followed without credentials, a refused token renewed once."""
        settings = self.settings()
        session = self.sync_session()
        stale: str | None = None
        for _ in range(2):
            token = session.token(stale) if needs_token(settings, self.vendor, result.request) else None
            step = prepare(settings, self.vendor, result.request, job_id, token)
            with session.stream(step, follow=result.follow_redirects) as resp:
                if resp.status_code == 401 and token is not None and stale is None:
                    stale = token
                    continue
                yield resp
                return

    @asynccontextmanager
    async def aopen_result(
        self, result: ResultRequest, job_id: str | None = None
    ) -> AsyncIterator[httpx.Response]:
        settings = await self.asettings()
        session = await self.async_session()
        stale: str | None = None
        for _ in range(2):
            token = await session.token(stale) if needs_token(settings, self.vendor, result.request) else None
            step = prepare(settings, self.vendor, result.request, job_id, token)
            async with session.stream(step, follow=result.follow_redirects) as resp:
                if resp.status_code == 401 and token is not None and stale is None:
                    stale = token
                    continue
                yield resp
                return

    def test_connection(self) -> tuple[bool, str]:
        """What the connection form's Test button calls: are the URL and credentials accepted?

        Key vendors are asked about a made-up job id: "not found" means the key was accepted.
        Messages speak of the vendor, not of that probe id."""
        name = self.vendor.display_name
        try:
            settings = self.settings()
            if self.vendor.uses_token:
                self.sync_session().run(token_flow(settings, self.vendor))
                return True, f"{name}: credentials accepted (token issued)"
            self.get_job_status(_PROBE_JOB_ID)
        except (AuthenticationError, ConfigurationError) as exc:
            return False, f"{name}: {exc.detail}"
        except JobStatusError as exc:
            if exc.transient:
                return False, f"{name}: {exc.detail}"
            return True, f"{name}: credentials accepted ({exc.detail})"
        return True, f"{name}: credentials accepted"

    # -- async ----------------------------------------------------------------------------------
    async def async_session(self) -> AsyncSession:
        if self._async_session is None:
            settings = await self.asettings()
            self._async_session = acquire_async(settings, self.vendor, self.timeouts(settings))
        return self._async_session

    async def arun(self, flow: Flow[Any]) -> Any:
        return await (await self.async_session()).run(flow)

    async def arequest(self, req: ApiRequest, job_id: str | None = None) -> ApiResponse:
        """:meth:`request` without blocking the event loop (triggers: cancel, listings)."""
        settings = await self.asettings()
        return await (await self.async_session()).run(exchange(settings, self.vendor, req, job_id))

    async def acancel_job(self, job_id: str) -> bool:
        """:meth:`cancel_job` without blocking the event loop (a trigger's ``on_kill``)."""
        req = self.vendor.cancel_request(job_id, self.options(await self.asettings(), {}))
        if req is None:
            return False
        self.vendor.parse_cancel(job_id, await self.arequest(req, job_id))
        return True

    async def aget_job_status(
        self, job_id: str, *, retries: int | None = None, max_age: float | None = None, **options: Any
    ) -> JobStatus:
        """The job's current status without blocking the loop; ``retries=1`` asks exactly once.

        With ``max_age``, an answer another caller in this event loop got less than ``max_age``
        seconds ago (or is getting right now) is shared instead of asking again.
        """
        poll = await self.astatus_poll(job_id, retries=retries, **options)
        return await poll(max_age)

    async def astatus_poll(self, job_id: str, *, retries: int | None = None, **options: Any) -> StatusPoll:
        """:meth:`aget_job_status` for a caller that asks about one job again and again (a wait):
        ``await poll(max_age)`` per poll, with everything that does not change settled once."""
        settings = await self.asettings()
        session = await self.async_session()
        attempts = self.retries if retries is None else max(1, retries)
        return StatusPoll(session, settings, job_id, self.options(settings, options), attempts, self.backoff)

    async def abatch_snapshot(self, batch_id: str, *, max_age: float) -> dict[str, BatchJob]:
        """Every job of a batch by id, from one listing shared by all callers in this event loop
        for ``max_age`` seconds: a thousand waits on one batch cost its pages once per interval."""
        session = await self.async_session()

        async def fetch() -> dict[str, BatchJob]:
            return {job.id: job async for job in self.aiter_batch_jobs(batch_id)}

        return await session.answers.get(("batch", batch_id), fetch, max_age)

    async def aget_batch_page(self, batch_id: str, page_token: str | None = None) -> BatchPage:
        settings = await self.asettings()
        opts = self.options(settings, {})
        session = await self.async_session()
        return await session.run(
            with_retries(
                lambda: batch_page_flow(settings, self.vendor, batch_id, page_token, opts),
                self.retries,
                self.backoff,
            )
        )

    async def aiter_batch_jobs(self, batch_id: str, max_pages: int | None = None) -> AsyncIterator[BatchJob]:
        token: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            page = await self.aget_batch_page(batch_id, token)
            pages += 1
            for job in page.jobs:
                yield job
            token = next_token(self.vendor, batch_id, page, seen)
            if token is None or (max_pages is not None and pages >= max_pages):
                return

    async def aclose(self) -> None:
        session, self._async_session = self._async_session, None
        if session is not None:
            await release_async(session)

    async def __aenter__(self) -> JobStatusHook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- Airflow < 3.2 connection form (3.2+ reads provider info) --------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        spec = CONNECTION_TYPES.get(cls.conn_type, {})
        return json.loads(json.dumps(spec.get("ui-field-behaviour", {})))  # type: ignore[no-any-return]

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import StringField
        except ImportError:  # Airflow 3.2+ without the FAB UI: provider info carries the fields
            return {}
        fields = CONNECTION_TYPES.get(cls.conn_type, {}).get("conn-fields", {})
        return {
            name: StringField(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget())
            for name, spec in fields.items()
        }


#: how long waits in one event loop share a connection they looked up (a rotated key is seen after this)
CONNECTION_MAX_AGE = 30.0
_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedAnswers] = (
    weakref.WeakKeyDictionary()
)


async def shared_connection(conn_id: str) -> Any:
    """The Airflow connection, looked up once for all the waits that start together in this event
    loop: a thousand triggers starting at once would otherwise cost a lookup (and its secret
    masking) each, holding up their first polls."""
    from airflow.providers.common.compat.connection import get_async_connection

    answers = _connections.setdefault(asyncio.get_running_loop(), SharedAnswers())
    return await answers.get(conn_id, lambda: get_async_connection(conn_id), CONNECTION_MAX_AGE)


def next_token(vendor: VendorApi, batch_id: str, page: BatchPage, seen: set[str]) -> str | None:
    """The stop rule for undocumented ends: no token, an empty token or an empty page ends the
    listing; a token seen before is an error, not an endless loop."""
    token = page.next_page_token
    if not token or not page.jobs:
        return None
    if token in seen:
        raise VendorRequestError(
            vendor.display_name,
            batch_id,
            f"batch listing repeated page token {token!r}; stopping to avoid a loop",
        )
    seen.add(token)
    return token


def iter_pages(hook: JobStatusHook, batch_id: str, max_pages: int | None) -> Iterator[BatchPage]:
    token: str | None = None
    seen: set[str] = set()
    pages = 0
    while True:
        page = hook.get_batch_page(batch_id, token)
        pages += 1
        yield page
        token = next_token(hook.vendor, batch_id, page, seen)
        if token is None or (max_pages is not None and pages >= max_pages):
            return


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
