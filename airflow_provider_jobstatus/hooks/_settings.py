"""Turn an Airflow connection into what a vendor hook needs, with errors that name the field."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from airflow_provider_jobstatus.errors import ConfigurationError
from airflow_provider_jobstatus.vendors import Credentials, VendorApi


@dataclass(frozen=True)
class ConnSettings:
    """A connection resolved for one vendor: base URL, credentials and extras."""

    conn_id: str
    base_url: str
    creds: Credentials
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return origin_of(self.base_url)

    @cached_property  # asked by every hook that starts (each wait): hash the secret once
    def share_key(self) -> tuple[str, str, str]:
        """Who may share clients and tokens: same base URL and same credentials."""
        digest = hashlib.sha256(f"{self.creds.login}\0{self.creds.secret}".encode()).hexdigest()
        return (self.base_url, self.creds.login or "", digest)

    def resolve(self, path_or_url: str) -> tuple[str, bool]:
        """The absolute URL of a vendor path (or URL), and whether it is on the connection's own
        origin (only then may credentials go with it)."""
        return _resolve(self.base_url, path_or_url)


@lru_cache(maxsize=16384)  # a wait resolves the same status path on every poll
def _resolve(base_url: str, path_or_url: str) -> tuple[str, bool]:
    url = path_or_url if path_or_url.startswith(("http://", "https://")) else base_url + path_or_url
    return url, origin_of(url) == origin_of(base_url)


_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)
def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports made explicit, so ``:443`` equals no port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unreadable port or host is nobody's origin: never gets credentials
        return ("invalid", url, -1)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme))


def resolve_url(base: str, location: str) -> str:
    return urljoin(base, location)


def parse_extras(raw: str | Mapping[str, Any] | None, vendor: VendorApi, conn_id: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigurationError(
            vendor.display_name, None, f"connection {conn_id!r}: field 'extra' is not valid JSON"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            vendor.display_name, None, f"connection {conn_id!r}: field 'extra' must be a JSON object"
        )
    return data


def build_settings(
    vendor: VendorApi,
    conn_id: str,
    *,
    conn_type: str | None,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    extras: Mapping[str, Any],
) -> ConnSettings:
    """Validate the connection's fields for ``vendor``; every error names the field to fix."""
    where = f"connection {conn_id!r}"
    if conn_type and conn_type != vendor.name:
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where} has type {conn_type!r}; a {vendor.display_name} hook needs type {vendor.name!r}",
        )
    base_url = _base_url(vendor, where, host, port)
    if not password:
        what = "client secret" if vendor.needs_login else "API key"
        raise ConfigurationError(
            vendor.display_name, None, f"{where}: field 'password' (the {what}) is empty"
        )
    if vendor.needs_login and not login:
        raise ConfigurationError(
            vendor.display_name, None, f"{where}: field 'login' (the client id) is empty"
        )
    creds = Credentials(login=login or None, secret=password, extras=dict(extras))
    return ConnSettings(conn_id=conn_id, base_url=base_url, creds=creds, extras=dict(extras))


@lru_cache(maxsize=1024)  # every trigger builds its hook's settings: parse each host once
def _base_url(vendor: VendorApi, where: str, host: str | None, port: int | None) -> str:
    host = (host or "").strip()
    if not host:
        if vendor.default_base_url is None:
            raise ConfigurationError(
                vendor.display_name,
                None,
                f"{where}: field 'host' (the API base URL) is empty and has no default",
            )
        return vendor.default_base_url
    if "://" not in host:
        host = "https://" + host
    try:
        parts = urlsplit(host)
        _ = parts.port  # raises for a port that is not a number in 0-65535
        httpx.URL(host)
    except (ValueError, httpx.InvalidURL):
        raise ConfigurationError(
            vendor.display_name, None, f"{where}: field 'host' is not a valid URL (unreadable host or port)"
        ) from None
    if port is not None and not 0 < port < 65536:
        raise ConfigurationError(
            vendor.display_name, None, f"{where}: field 'port' must be between 1 and 65535"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where}: field 'host' must be an http(s) base URL such as {vendor.default_base_url or 'https://server/webapi'!r}",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where}: field 'host' must not carry credentials, a query or a fragment",
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
