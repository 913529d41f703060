"""TLS contexts: one per connection's settings, handed to both httpx and aiohttp.

Building the context ourselves (with httpx's own builder) means a wait's first check on a worker
and its polls in the triggerer trust exactly the same certificates, whichever library sends.
"""

from __future__ import annotations

import logging
import os
import ssl
from functools import lru_cache

import httpx

log = logging.getLogger(__name__)

#: ``ssl.SSLError`` reasons that say the peer does not speak TLS, or refused our client certificate:
#: no retry can fix them, the connection's settings must change.
MISCONFIGURED_TLS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "TLSV1_ALERT_UNKNOWN_CA",
        "NO_PROTOCOLS_AVAILABLE",
    }
)


#: reasons that mean the other side answered in plain HTTP (or not at all in TLS)
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"})


def ssl_context(verify: bool | str, cert: str | None, key: str | None, trust_env: bool) -> ssl.SSLContext:
    """The context for one connection's own origin (``verify`` a CA bundle path replaces the
    default trust store, as httpx and requests do)."""
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else (None, None)
    return _context(verify, cert, key, trust_env, env)


def default_ssl_context(trust_env: bool) -> ssl.SSLContext:
    """The default trust store, for origins other than the connection's (pre-signed result URLs)."""
    return ssl_context(True, None, None, trust_env)


@lru_cache(maxsize=64)
def _context(
    verify: bool | str,
    cert: str | None,
    key: str | None,
    trust_env: bool,
    env: tuple[str | None, str | None],  # part of the cache key: a changed variable is a new context
) -> ssl.SSLContext:
    chain = None if cert is None else (cert, key) if key else cert
    if isinstance(verify, str):
        ctx = (
            ssl.create_default_context(capath=verify)
            if os.path.isdir(verify)
            else ssl.create_default_context(cafile=verify)
        )
        if chain is not None:
            ctx.load_cert_chain(*((chain,) if isinstance(chain, str) else chain))
        return ctx
    return httpx.create_ssl_context(verify=verify, cert=chain, trust_env=trust_env)


def misconfiguration(exc: BaseException) -> str | None:
    """What is wrong with the TLS set-up, when ``exc`` (or what caused it) says retrying cannot help."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        reason = getattr(err, "reason", None)  # aiohttp's wrappers subclass ssl errors without one
        if isinstance(err, ssl.SSLCertVerificationError) and reason is not None:
            said = getattr(err, "verify_message", None) or reason
            return f"the server's certificate failed verification ({said})"
        if isinstance(err, ssl.SSLError) and reason in MISCONFIGURED_TLS:
            if reason in _NOT_TLS:
                return f"TLS handshake failed ({reason}): is this https:// URL a plain-HTTP port?"
            return f"TLS handshake refused ({reason}): check the client certificate and CA settings"
        todo.extend([err.__cause__, err.__context__])
        for attr in ("certificate_error", "os_error"):  # aiohttp keeps the ssl error here
            inner = getattr(err, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
    return None
