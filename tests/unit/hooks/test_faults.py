"""The table from each library's errors to the contract's: ordered most specific first, and read by
class (the transports' real errors are exercised in tests/integration/test_http_stack.py)."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import httpx
import pytest
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

from airflow_provider_jobstatus.errors import (
    ConfigurationError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
)
from airflow_provider_jobstatus.hooks._http import FAULTS, fault
from airflow_provider_jobstatus.hooks._settings import ConnSettings
from airflow_provider_jobstatus.vendors import Credentials, get_vendor


def test_no_entry_is_hidden_by_an_earlier_one() -> None:
    """A class listed after one of its bases would never be reached."""
    for i, (later, meaning) in enumerate(FAULTS):
        for earlier, earlier_meaning in FAULTS[:i]:
            assert not issubclass(later, earlier) or meaning is earlier_meaning, (later, earlier)


def proxy_error(status: int) -> aiohttp.ClientHttpProxyError:
    url = yarl.URL("http://proxy.test:3128")
    info = aiohttp.RequestInfo(url, "CONNECT", CIMultiDictProxy(CIMultiDict()), url)
    return aiohttp.ClientHttpProxyError(info, (), status=status, message="no")


def verify_failed() -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, "certificate verify failed")
    err.reason = "CERTIFICATE_VERIFY_FAILED"
    err.verify_message = "unable to get local issuer certificate"
    return err


def wrapped(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


CASES = [
    # (the library's error, the contract's, sent, what the message starts with after the job)
    (httpx.ConnectError("refused"), TransientVendorError, False, "connection failed"),
    (httpx.ConnectTimeout("slow"), TransientVendorError, False, "timed out"),
    (httpx.PoolTimeout("busy"), TransientVendorError, False, "timed out"),
    (httpx.ProxyError("502 Bad Gateway"), TransientVendorError, False, "connection failed"),
    (httpx.ReadTimeout("slow"), TransientVendorError, True, "timed out"),
    (httpx.ReadError("reset"), TransientVendorError, True, "connection failed"),
    (httpx.RemoteProtocolError("garbage"), MalformedResponseError, None, "broken HTTP answer"),
    (httpx.UnsupportedProtocol("ftp"), ConfigurationError, None, "connection 'c'"),
    (httpx.LocalProtocolError("bad header"), ConfigurationError, None, "connection 'c'"),
    (aiohttp.InvalidURL("x"), ConfigurationError, None, "connection 'c'"),
    (proxy_error(407), ConfigurationError, None, "connection 'c' (https://api.test): the proxy refused"),
    (proxy_error(403), ConfigurationError, None, "connection 'c' (https://api.test): the proxy refused"),
    (proxy_error(502), TransientVendorError, False, "connection failed"),
    (aiohttp.ConnectionTimeoutError("slow"), TransientVendorError, False, "timed out"),
    (aiohttp.SocketTimeoutError("slow"), TransientVendorError, True, "timed out"),
    (asyncio.TimeoutError(), TransientVendorError, True, "timed out"),
    (aiohttp.ServerDisconnectedError(), TransientVendorError, True, "connection failed"),
    (aiohttp.ClientPayloadError("cut"), TransientVendorError, True, "connection failed"),
    (wrapped(httpx.ConnectError("tls"), verify_failed()), ConfigurationError, None, "connection 'c'"),
]


@pytest.mark.parametrize(
    ("exc", "error", "sent", "says"),
    [pytest.param(*case, id=f"{type(case[0]).__name__}-{i}") for i, case in enumerate(CASES)],
)
def test_each_library_error_means_one_thing(
    exc: BaseException, error: type[JobStatusError], sent: bool | None, says: str
) -> None:
    conn = ConnSettings("c", "https://api.test", Credentials(login=None, secret="s"))
    got = fault(conn, get_vendor("pdfco"), "j1", exc)
    assert type(got) is error, repr(got)
    assert got.detail.startswith(says), got.detail
    if sent is not None:
        assert isinstance(got, TransientVendorError) and got.sent is sent
