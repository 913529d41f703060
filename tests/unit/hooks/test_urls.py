"""The async path sends a URL exactly as the sync path (httpx) would, also on its fast path that
skips re-parsing the URL of every new job; a path under the base URL keeps its credentials."""

from __future__ import annotations

import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_jobstatus.hooks import ConnSettings, origin_of
from airflow_provider_jobstatus.hooks._http import as_httpx_sends
from airflow_provider_jobstatus.vendors import Credentials

HOSTS = st.sampled_from(
    ["example.com", "API.Example.COM", "127.0.0.1", "[::1]", "bücher.example", "xn--bcher-kva.example", "h"]
)
PORTS = st.sampled_from(["", ":80", ":443", ":8080", ":0443"])
#: what ids and vendor paths are made of, and what they must never be confused with
PATH_CHARS = st.sampled_from(
    [*"aZ09-._~!$&'()*+,;=:@/%? #é\\[]", "%2F", "%2f", "%zz", "/./", "/../", "/.", "/.."]
)


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    host=HOSTS,
    port=PORTS,
    path=st.lists(PATH_CHARS, max_size=12).map("".join),
)
@example(scheme="https", host="API.Example.COM", port=":443", path="/jobs/a%2Fb/status")
@example(scheme="http", host="h", port="", path="/jobs/../x")
@example(scheme="http", host="h", port="", path="/a b")
def test_the_fast_path_renders_what_httpx_renders(scheme: str, host: str, port: str, path: str) -> None:
    url = (
        f"{scheme}://{host}{port}/{path}"
        if path and not path.startswith("/")
        else f"{scheme}://{host}{port}{path}"
    )
    try:
        expected = str(httpx.URL(url))
    except httpx.InvalidURL:
        return
    assert as_httpx_sends(url) == expected


def _settings(base_url: str) -> ConnSettings:
    return ConnSettings("c", base_url, Credentials("login", "secret"))


@settings(max_examples=200, deadline=None)
@given(
    base=st.sampled_from(
        ["https://api.example.com", "https://api.example.com/v1", "http://h:8080", "https://h:bad"]
    ),
    path=st.lists(PATH_CHARS, max_size=8).map(lambda parts: "/" + "".join(parts)),
)
def test_a_path_under_the_base_url_is_on_its_origin_exactly_when_the_parsed_urls_say_so(
    base: str, path: str
) -> None:
    url, own = _settings(base).resolve(path)
    assert url == base + path
    assert own == (origin_of(url) == origin_of(base) and origin_of(base)[0] != "invalid")
