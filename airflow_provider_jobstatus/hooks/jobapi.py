"""Hook for a job API declared in its connection: the protocol lives in the ``profile`` extra
(:mod:`airflow_provider_jobstatus.vendors.jobapi`), read and checked with the connection."""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow_provider_jobstatus.errors import ConfigurationError
from airflow_provider_jobstatus.hooks._settings import ConnSettings, parse_extras
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.vendors.jobapi import DECLARED, declared_api


class JobApiHook(JobStatusHook):
    """Any job API through an Airflow connection of type ``jobapi``: ``host`` is its base URL,
    ``password`` the secret, ``login`` a user name or client id, extra ``profile`` the declaration."""

    vendor_name = "jobapi"
    declared = True
    conn_name_attr = "conn_id"
    default_conn_name = "jobapi_default"
    conn_type = "jobapi"
    hook_name = DECLARED

    def __getattr__(self, name: str) -> Any:
        """``vendor`` before the connection was read (a worker asking for its name): read it now."""
        if name != "vendor":
            raise AttributeError(name)
        self.settings()
        return self.__dict__["vendor"]

    def _settings_from(self, conn: Any) -> ConnSettings:
        """The profile first (every later message uses its name), then the usual fields; the
        profile stays out of the options a poll sends along."""
        extras = parse_extras(conn.extra, DECLARED, self.conn_id)
        self.vendor = declared_api(extras.get("profile"), self.conn_id)
        settings = super()._settings_from(conn)
        options = {k: v for k, v in settings.extras.items() if k != "profile"}
        return dataclasses.replace(settings, extras=options)

    def test_connection(self) -> tuple[bool, str]:
        """The Test button: a profile mistake is reported before anything is sent."""
        try:
            self.settings()
        except ConfigurationError as exc:
            return False, f"{exc.vendor}: {exc.detail}"
        return super().test_connection()
