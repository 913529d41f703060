"""One job's status, asked again and again: what a wait needs per poll, worked out once.

A triggerer holding thousands of waits spends its CPU on what happens every poll, with caches cold
between one wait's polls; the settings, options, request and coalescing key of a wait do not change,
so they are settled when the wait starts instead of on each poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_jobstatus.hooks._flow import Flow, status_flow, with_retries
from airflow_provider_jobstatus.hooks._session import AsyncSession
from airflow_provider_jobstatus.hooks._settings import ConnSettings
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import JobStatus
from airflow_provider_jobstatus.vendors import VendorApi


class StatusPoll:
    """``await poll(max_age)``: the job's status, shared with every other caller in this event loop
    that asked less than ``max_age`` seconds ago (or is asking now); ``max_age=None`` always asks."""

    __slots__ = ("_attempts", "_backoff", "_job_id", "_options", "_request", "_session", "_settings", "key")

    def __init__(
        self,
        session: AsyncSession,
        settings: ConnSettings,
        job_id: str,
        options: Mapping[str, Any],
        attempts: int,
        backoff: Backoff,
    ) -> None:
        self._session = session
        self._settings = settings
        self._job_id = job_id
        self._options = options
        self._attempts = attempts
        self._backoff = backoff
        self._request = session.vendor.status_request(job_id, options)  # also checks the id
        self.key = ("status", job_id, json.dumps(options, sort_keys=True, default=str) if options else "")

    async def __call__(self, max_age: float | None = None) -> JobStatus:
        if max_age is None:
            return await self._fetch()
        return await self._session.answers.get(self.key, self._fetch, max_age)

    async def _fetch(self) -> JobStatus:
        return await self._session.run(with_retries(self._flow, self._attempts, self._backoff))

    def _flow(self) -> Flow[JobStatus]:
        return status_flow(self._settings, self._vendor, self._job_id, self._options, self._request)

    @property
    def _vendor(self) -> VendorApi:
        return self._session.vendor
