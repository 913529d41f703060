"""Which addresses a result download may reach, and the check of the address a connection really
reached (a name can resolve otherwise for the client than for the check made before sending)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_jobstatus.errors import ConfigurationError, UnsafeRedirectError
from airflow_provider_jobstatus.hooks._addresses import refused_address, refused_kind
from airflow_provider_jobstatus.hooks._http import _Trace
from airflow_provider_jobstatus.hooks._settings import client_settings
from airflow_provider_jobstatus.vendors import get_vendor


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("127.0.0.1", None),
        ("::1", None),
        ("10.1.2.3", None),
        ("172.16.0.1", None),
        ("192.168.1.1", None),
        ("fd00::1", None),
        ("93.184.216.34", None),
        ("not-an-address", None),
    ],
)
def test_refused_kinds(address: str, kind: str | None) -> None:
    assert refused_kind(address) == kind


def test_names_are_judged_by_what_they_resolve_to() -> None:
    assert refused_address("2852039166", 80) == ("169.254.169.254", "link-local")
    assert refused_address("0", 80) == ("0.0.0.0", "unspecified")
    assert refused_address("localhost", 80) is None
    assert refused_address("no-such-host.invalid", 80) is None  # the client's connect says so


class Stream:
    """What httpcore hands the trace hook once connected: a peer address, and a close."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return self.peer if name == "server_addr" else None

    def close(self) -> None:
        self.closed = True


def refusal(address: str, kind: str) -> UnsafeRedirectError:
    return UnsafeRedirectError("Vendor", "j1", f"{address} is {kind}")


def vetting(host: str) -> _Trace:
    return _Trace(lambda status: ConfigurationError("Vendor", "j1", f"proxy said {status}"), (host, refusal))


def test_a_connection_that_reached_a_refused_peer_is_closed_and_refused() -> None:
    trace = vetting("files.test")
    stream = Stream(("169.254.169.254", 80))
    trace("connection.connect_tcp.started", {"host": "files.test", "port": 80})
    with pytest.raises(UnsafeRedirectError, match=r"169\.254\.169\.254 is link-local"):
        trace("connection.connect_tcp.complete", {"return_value": stream})
    assert stream.closed


def test_an_allowed_peer_and_a_proxy_pass() -> None:
    trace = vetting("files.test")
    trace("connection.connect_tcp.started", {"host": "files.test", "port": 80})
    trace("connection.connect_tcp.complete", {"return_value": Stream(("10.0.0.5", 80))})
    # a connection to the proxy is the proxy's: its target was checked by name before sending
    trace("connection.connect_tcp.started", {"host": "proxy.internal", "port": 3128})
    trace("connection.connect_tcp.complete", {"return_value": Stream(("169.254.1.1", 3128))})


@pytest.mark.parametrize(("value", "allowed"), [(None, False), (True, True), ("yes", True), ("false", False)])
def test_allow_link_local_is_a_flag(value: Any, allowed: bool) -> None:
    extras = {} if value is None else {"allow_link_local": value}
    assert client_settings(get_vendor("pdfco"), "connection 'c'", extras).allow_link_local is allowed


def test_allow_link_local_must_be_true_or_false() -> None:
    with pytest.raises(ConfigurationError, match="'allow_link_local' must be true or false"):
        client_settings(get_vendor("pdfco"), "connection 'c'", {"allow_link_local": "sometimes"})
