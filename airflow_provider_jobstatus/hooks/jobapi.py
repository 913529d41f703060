"""The hook of connection type ``jobapi`` (Job API (declared)): each connection declares its API in
its ``profile`` extra (:mod:`airflow_provider_jobstatus.vendors.jobapi`), read and checked with the
connection and by the connection form's Test button; its work is :class:`.JobStatusHook`'s."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class JobApiHook(JobStatusHook, vendor="jobapi"):
    """Any job API declared in an Airflow connection of type ``jobapi``: ``host`` is its base URL,
    ``password`` the secret, ``login`` a user name or client id, extra ``profile`` the declaration."""


__all__ = ["JobApiHook"]
