"""Turn an Airflow connection into what a vendor hook needs, with errors that name the field."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from airflow_provider_jobstatus.errors import ConfigurationError
from airflow_provider_jobstatus.hooks._addresses import ALLOW_SETTING
from airflow_provider_jobstatus.hooks._paging import DEFAULT_MAX_PAGES
from airflow_provider_jobstatus.hooks._tls import default_ssl_context, ssl_context
from airflow_provider_jobstatus.vendors import Credentials, VendorApi

log = logging.getLogger(__name__)

#: connection extras that configure the HTTP client rather than the vendor
CLIENT_EXTRAS = (
    "verify",
    "cert",
    "key",
    "proxy",
    "trust_env",
    "timeout",
    ALLOW_SETTING,
    "requests_per_second",
)
#: connection extras that bound what the hook reads rather than configure the vendor
LIMIT_EXTRAS = ("max_pages",)
#: connections already warned about ``verify`` false in this process (once each, not per wait)
_warned_unverified: set[str] = set()


@dataclass(frozen=True)
class ClientSettings:
    """What the HTTP libraries are told, the same for httpx (sync) and aiohttp (async), and how
    many requests a second the connection's account may be sent (None: no budget)."""

    verify: bool | str = True
    cert: str | None = None
    key: str | None = None
    proxy: str | None = field(default=None, repr=False)  # may carry credentials
    trust_env: bool = True
    timeout: float = 30.0
    connect_timeout: float = 10.0
    #: result downloads may reach link-local, unspecified and multicast addresses
    allow_link_local: bool = False
    requests_per_second: float | None = None

    def own_ssl(self) -> ssl.SSLContext:
        """Trust (and client certificate) for the connection's own origin, token endpoints included."""
        return ssl_context(self.verify, self.cert, self.key, self.trust_env)

    def other_ssl(self) -> ssl.SSLContext:
        """Trust for other origins (pre-signed result URLs): the default store."""
        return default_ssl_context(self.trust_env)


@dataclass(frozen=True)
class ConnSettings:
    """A connection resolved for one vendor: base URL, credentials, client settings and extras."""

    conn_id: str
    base_url: str
    creds: Credentials
    extras: Mapping[str, Any] = field(default_factory=dict)
    client: ClientSettings = field(default_factory=ClientSettings)
    #: the most pages one listing may have (extra ``max_pages``)
    max_pages: int = DEFAULT_MAX_PAGES

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return origin_of(self.base_url)

    @cached_property  # asked by every hook that starts (each wait): hash the secret once
    def share_key(self) -> tuple[str, str, str]:
        """Who may share clients and tokens: same base URL and same credentials."""
        digest = hashlib.sha256(f"{self.creds.login}\0{self.creds.secret}".encode()).hexdigest()
        return (self.base_url, self.creds.login or "", digest)

    @property
    def where(self) -> str:
        """How messages name the connection: its id and host, so the reader knows what to fix."""
        return f"connection {self.conn_id!r} ({self.base_url})"

    def resolve(self, path_or_url: str) -> tuple[str, bool]:
        """The absolute URL of a vendor path (or URL), and whether it is on the connection's own
        origin (only then may credentials go with it)."""
        return _resolve(self.base_url, path_or_url)


@lru_cache(maxsize=16384)  # a wait resolves the same status path on every poll
def _resolve(base_url: str, path_or_url: str) -> tuple[str, bool]:
    if path_or_url[:1] == "/" and path_or_url[1:2] != "/" and origin_of(base_url)[0] != "invalid":
        return base_url + path_or_url, True  # a path under the base URL cannot leave its origin
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


def parse_extras(raw: str | Mapping[str, Any] | None, vendor: str, conn_id: str) -> dict[str, Any]:
    """The connection's extras as a dict; ``vendor`` is the name messages use."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:  # its message quotes no part of the text (it may hold secrets)
        raise ConfigurationError(
            vendor,
            None,
            f"connection {conn_id!r}: field 'extra' is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno} (character {exc.pos}); write it as a JSON object, e.g. "
            '{"timeout": 30}',
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(vendor, None, f"connection {conn_id!r}: field 'extra' must be a JSON object")
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
    if not password and vendor.needs_secret:
        what = "client secret" if vendor.needs_login else "API key"
        raise ConfigurationError(
            vendor.display_name, None, f"{where}: field 'password' (the {what}) is empty"
        )
    if vendor.needs_login and not login:
        raise ConfigurationError(
            vendor.display_name, None, f"{where}: field 'login' (the client id) is empty"
        )
    for name, value in (("password", password), ("login", login)):
        if value and ("\r" in value or "\n" in value):
            raise ConfigurationError(
                vendor.display_name,
                None,
                f"{where}: field {name!r} contains a line break; paste the value again without it",
            )
    client = client_settings(vendor, where, extras)
    vendor_extras = {k: v for k, v in extras.items() if k not in CLIENT_EXTRAS + LIMIT_EXTRAS}
    creds = Credentials(login=login or None, secret=password or "", extras=vendor_extras)
    return ConnSettings(
        conn_id=conn_id,
        base_url=base_url,
        creds=creds,
        extras=vendor_extras,
        client=client,
        max_pages=_page_cap(vendor, where, extras.get("max_pages")),
    )


def _page_cap(vendor: VendorApi, where: str, value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_MAX_PAGES
    try:
        pages = int(value) if not isinstance(value, (bool, float)) else 0
    except (TypeError, ValueError):
        pages = 0
    if pages < 1:
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where}: extra 'max_pages' must be a whole number of pages of at least 1, got {value!r}",
        )
    return pages


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _flag(vendor: VendorApi, where: str, name: str, value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigurationError(
        vendor.display_name, None, f"{where}: extra {name!r} must be true or false, got {value!r}"
    )


def _existing_path(vendor: VendorApi, where: str, name: str, value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not os.path.exists(value):
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where}: extra {name!r} names {what} {value!r} that does not exist on this machine "
            "(it must exist on every worker and triggerer)",
        )
    return value


def client_settings(vendor: VendorApi, where: str, extras: Mapping[str, Any]) -> ClientSettings:
    """The client settings from the connection's extras, each checked now: a mistake here fails at
    once, naming the extra, instead of surfacing as a TLS or proxy error on every poll."""
    raw_verify = extras.get("verify")
    verify: bool | str
    if isinstance(raw_verify, str) and raw_verify.strip().lower() not in (*_TRUE, *_FALSE, ""):
        verify = _existing_path(vendor, where, "verify", raw_verify, "a CA bundle") or True
    else:
        verify = _flag(vendor, where, "verify", raw_verify, True)
    if verify is False and where not in _warned_unverified:
        _warned_unverified.add(where)
        log.warning(
            "%s: extra 'verify' is false: the server's TLS certificate is not verified, so anyone on "
            "the network path can read and change this traffic; give a CA bundle path instead",
            where,
        )
    cert = _existing_path(vendor, where, "cert", extras.get("cert"), "a client certificate")
    key = _existing_path(vendor, where, "key", extras.get("key"), "a client key")
    if key and not cert:
        raise ConfigurationError(vendor.display_name, None, f"{where}: extra 'key' is set without 'cert'")
    proxy = extras.get("proxy") or None
    if proxy is not None:
        try:
            parts = urlsplit(str(proxy))
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigurationError(
                vendor.display_name,
                None,
                # never echo the value: it may hold a password
                f"{where}: extra 'proxy' must be an http(s)://host:port URL",
            )
    timeout = extras.get("timeout")
    total = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else 30.0
    if total <= 0 or total != total:
        total = 30.0
    try:
        settings = ClientSettings(
            verify=verify,
            cert=cert,
            key=key,
            proxy=str(proxy) if proxy else None,
            trust_env=_flag(vendor, where, "trust_env", extras.get("trust_env"), True),
            timeout=total,
            connect_timeout=min(10.0, total),
            allow_link_local=_flag(vendor, where, ALLOW_SETTING, extras.get(ALLOW_SETTING), False),
            requests_per_second=_rate(vendor, where, extras.get("requests_per_second")),
        )
        if isinstance(verify, str) or cert:
            settings.own_ssl()  # a bundle or certificate that does not load fails now, not per poll
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise _tls_unloadable(vendor, where, exc) from None
    return settings


def _rate(vendor: VendorApi, where: str, value: Any) -> float | None:
    """The ``requests_per_second`` extra: a positive number (text holding one is accepted too)."""
    if value is None or value == "":
        return None
    try:
        rate = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        rate = math.nan
    if not (rate > 0 and math.isfinite(rate)):
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where}: extra 'requests_per_second' must be a positive number (requests a second for "
            f"this account, e.g. 18 for a vendor that allows 20), got {value!r}",
        )
    return rate


def tls_context(conn: ConnSettings, vendor: VendorApi, own: bool) -> ssl.SSLContext:
    """The context for an https request to the connection's own origin or another one. Built when
    the first such request needs it (a plain-HTTP connection never loads trust roots: about
    0.8 MiB each), and shared by every connection with the same TLS settings."""
    try:
        return conn.client.own_ssl() if own else conn.client.other_ssl()
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise _tls_unloadable(vendor, conn.where, exc) from None


def _tls_unloadable(vendor: VendorApi, where: str, exc: BaseException) -> ConfigurationError:
    return ConfigurationError(
        vendor.display_name, None, f"{where}: TLS settings do not load ({type(exc).__name__}: {exc})"
    )


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
        raise ConfigurationError(
            vendor.display_name,
            None,
            f"{where}: field 'host' {host!r} has no scheme; write https://{host} "
            "(or http:// for a plain-HTTP server)",
        )
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
