"""The HTTP stack against hostile and unusual networks, on both paths (``get_job_status`` through
httpx, ``await aget_job_status`` through aiohttp), real clients and real sockets throughout:

- an origin on asyncio streams that misbehaves on purpose (1xx answers, a gzip bomb, 16 MiB of
  headers, a body shorter than its Content-Length, a stall);
- TLS servers whose certificates come from a CA made here (private CA, wrong host name, mutual TLS,
  TLS spoken to a plain-HTTP port, ``SSL_CERT_FILE``);
- a forward proxy (absolute-form and ``CONNECT``) that records what it was asked, for the ``proxy``
  extra, the proxy environment variables and result downloads;
- transport faults (refused, DNS, read timeout) and what they say about ``sent``;
- DEBUG logs of httpx, httpcore, aiohttp and ours, masked as Airflow masks them, showing no
  signature of a pre-signed URL.

PDF.co is the vendor throughout (an API key header, ``POST /v1/job/check`` with the job id in the
body): the scripted origin answers each job id its own way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import socket
import time
import traceback
import tracemalloc
import uuid
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    ConfigurationError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
)
from airflow_provider_jobstatus.hooks._deadlines import Deadlines
from airflow_provider_jobstatus.hooks._tls import _context as tls_contexts
from airflow_provider_jobstatus.hooks.pdfco import PdfCoHook
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.certs import Issued, PrivateCA
from tests.servers import Background, ForwardProxy, Origin, Reply, Seen, TlsFront, http_answer

MODES = ["sync", "async"]
MIB = 1024 * 1024
#: loggers whose DEBUG lines must not show a secret
LIBRARY_LOGGERS = ("httpx", "httpcore", "aiohttp", "airflow_provider_jobstatus")
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


# == the scripted origin ===========================================================================
def pdfco(data: dict[str, Any], *extra: tuple[str, str]) -> bytes:
    return http_answer(json.dumps(data).encode(), headers=[("Content-Type", "application/json"), *extra])


EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


@cache
def gzip_bomb() -> bytes:
    """Valid JSON saying ``working`` that inflates to 200 MiB (about 200 KiB on the wire): read
    whole, it would be taken as a running job."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [z.compress(b'{"status": "working", "pad": "')]
    block = b"a" * MIB
    parts += [z.compress(block) for _ in range(200)]
    parts.append(z.compress(b'"}') + z.flush())
    return b"".join(parts)


@cache
def double_gzip_bomb() -> bytes:
    """The bomb gzipped again (``Content-Encoding: gzip, gzip``): under 1 KiB on the wire, one
    network read, yet a client that decodes stacked codings inflates it to 200 MiB at once."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(gzip_bomb()) + z.flush()


def huge_headers(shape: str) -> bytes:
    """16 MiB of response headers (or 800 KB) before a body that says ``success``."""
    if shape == "one line":
        pad = [f"X-Pad: {'a' * (16 * MIB)}"]
    elif shape == "many lines":
        pad = [f"X-Pad-{i}: {'a' * 8000}" for i in range(16 * MIB // 8000)]
    else:  # 800 KB within aiohttp's default limits (128 fields of 8 KiB): refused by the 64 we allow
        pad = [f"X-Pad-{i}: {'a' * 8000}" for i in range(100)]
    body = json.dumps({"status": "success"}).encode()
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", *pad, f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def script(seen: Seen) -> Reply:
    """Each job id its own answer (or misbehaviour)."""
    job = json.loads(seen.body or b"{}").get("jobid", "")
    if job == "hints-succeeded":
        return Reply(EARLY_HINTS + pdfco({"status": "success"}))
    if job == "hints-canceled":  # two 1xx answers this time
        return Reply(EARLY_HINTS + EARLY_HINTS + pdfco({"status": "aborted"}))
    if job.startswith("bomb-"):
        coding = job.removeprefix("bomb-")
        body = gzip_bomb() if coding == "gzip" else double_gzip_bomb()
        head = http_answer(b"", headers=[("Content-Type", "application/json"), ("Content-Encoding", coding)])
        return Reply(head.replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode()) + body)
    if job.startswith("headers-"):
        return Reply(huge_headers(job.removeprefix("headers-")), close=True)
    if job == "truncated":
        whole = json.dumps({"status": "success", "pad": "x" * 2000}).encode()
        return Reply(http_answer(whole[:40], length=len(whole)), close=True)
    if job == "stall":
        return Reply(pdfco({"status": "success"}), stall=30.0)
    if job.startswith("signed-"):  # the result lives behind a pre-signed URL on the files origin
        return Reply(pdfco({"status": "success", "urls": [SIGNED[job]]}))
    return Reply(pdfco({"status": "working" if job == "running" else "success"}))


#: job id -> the pre-signed result URL the origin hands out for it
SIGNED: dict[str, str] = {}


def files_script(seen: Seen) -> Reply:
    return Reply(http_answer(b"result bytes", headers=[("Content-Type", "text/plain")]))


@pytest.fixture(scope="module")
def origin(bg: Background) -> Iterator[Origin]:
    server = Origin(bg, script)
    yield server
    server.close()


@pytest.fixture(scope="module")
def files(bg: Background) -> Iterator[Origin]:
    """Another origin (another port): where pre-signed result URLs point."""
    server = Origin(bg, files_script)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA variable of this machine leaks into a test; each test sets what it needs."""
    for name in (*PROXY_ENV, "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# == connections and calls =========================================================================
def connection(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> tuple[str, str]:
    """A fresh PDF.co connection (its own API key, so it shares no client with another test);
    returns its id and key."""
    conn_id = f"stack_{uuid.uuid4().hex[:10]}"
    key = f"key-{secrets.token_hex(12)}"
    conn = {"conn_type": "pdfco", "host": host, "password": key, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id, key


def hook(conn_id: str, **kw: Any) -> PdfCoHook:
    return PdfCoHook(conn_id, **{"retries": 1, "backoff": 0.01, "max_backoff": 0.02, **kw})


def statuses(mode: str, conn_id: str, *job_ids: str, **kw: Any) -> list[JobStatus]:
    """Each job's status through one hook (one client: keep-alive connections are reused)."""
    h = hook(conn_id, **kw)
    if mode == "sync":
        return [h.get_job_status(job) for job in job_ids]

    async def run() -> list[JobStatus]:
        async with h:
            return [await h.aget_job_status(job) for job in job_ids]

    return asyncio.run(run())


def status(mode: str, conn_id: str, job_id: str = "ok", **kw: Any) -> JobStatus:
    return statuses(mode, conn_id, job_id, **kw)[0]


def failure(mode: str, conn_id: str, job_id: str = "ok", **kw: Any) -> JobStatusError:
    with pytest.raises(JobStatusError) as info:
        status(mode, conn_id, job_id, **kw)
    return info.value


def text_of(exc: BaseException) -> str:
    """What a user or a log could see of an exception: str, repr and the chained traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


# == 1. a misbehaving origin =======================================================================
@pytest.mark.parametrize("mode", MODES)
def test_early_hints_are_skipped_and_never_left_on_the_connection(
    mode: str, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, origin.url)
    before = len(origin.requests)
    first, second = statuses(mode, conn_id, "hints-succeeded", "hints-canceled")
    assert first.state is JobState.SUCCEEDED
    assert second.state is JobState.CANCELED  # its own answer, not what followed the first 103
    seen = origin.requests[before:]
    assert [json.loads(s.body)["jobid"] for s in seen] == ["hints-succeeded", "hints-canceled"]
    assert seen[0].connection == seen[1].connection  # the second job did use the reused connection


@pytest.mark.parametrize("coding", ["gzip", "gzip, gzip"])
@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_is_refused_without_inflating_it(
    mode: str, coding: str, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, origin.url)
    double_gzip_bomb()  # made before measuring
    tracemalloc.start()
    try:
        with pytest.raises(MalformedResponseError) as info:
            status(mode, conn_id, f"bomb-{coding}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if coding == "gzip":  # stacked codings are refused (sync) or not decoded at all (aiohttp)
        assert "larger than 10 MiB" in str(info.value)
    assert info.value.transient
    assert peak < 100 * MIB, f"peak {peak / MIB:.0f} MiB while refusing a 200 MiB bomb"


@pytest.mark.parametrize(
    ("job", "errors"),
    [
        ("headers-many lines", (MalformedResponseError,)),  # 16 MiB in 8 KB lines
        ("headers-one line", (MalformedResponseError,)),  # 16 MiB in one header
        ("headers-800 KB", (MalformedResponseError,)),  # within aiohttp's defaults: our max_headers
        ("truncated", (MalformedResponseError, TransientVendorError)),  # Content-Length lies, then close
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_oversized_headers_and_truncated_bodies_are_never_accepted(
    mode: str,
    job: str,
    errors: tuple[type[JobStatusError], ...],
    origin: Origin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn_id, _ = connection(monkeypatch, origin.url)
    exc = failure(mode, conn_id, job)
    assert isinstance(exc, errors), repr(exc)
    assert exc.transient


@pytest.mark.parametrize("field", ["\r\nX-Injected: yes", "\nX-Injected: yes", "\rX-Injected: yes"])
@pytest.mark.parametrize("mode", MODES)
def test_a_line_break_in_the_api_key_is_refused_before_anything_is_sent(
    mode: str, field: str, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, key = connection(monkeypatch, origin.url)
    bad = key + field
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "pdfco", "host": origin.url, "password": bad}),
    )
    before = (origin.connections, len(origin.requests))
    exc = failure(mode, conn_id)
    assert isinstance(exc, ConfigurationError)
    assert "'password'" in str(exc) and conn_id in str(exc)
    assert key not in text_of(exc) and "X-Injected" not in text_of(exc)
    assert (origin.connections, len(origin.requests)) == before  # the server received nothing


# == 2. TLS ========================================================================================
class Tls:
    """A private CA and the TLS servers signed by it."""

    def __init__(self, bg: Background, folder: Path) -> None:
        self.ca = PrivateCA(folder)
        (folder / "other").mkdir()
        other_ca = PrivateCA(folder / "other", "Somebody Else's CA")
        leaf = self.ca.issue("server", ["localhost", "127.0.0.1"])
        self.client: Issued = self.ca.issue("client", ["jobstatus-client"], client=True)
        #: a client certificate from a CA the mutual-TLS server does not trust
        self.stranger: Issued = other_ca.issue("stranger", ["stranger"], client=True)
        wrong = self.ca.issue("wrong", ["wrong.example"])
        self.server = TlsFront(Origin(bg, script), self.ca.server_context(leaf))
        self.wrong_name = TlsFront(Origin(bg, script), self.ca.server_context(wrong))
        self.mutual = TlsFront(Origin(bg, script), self.ca.server_context(leaf, client_ca=self.ca.bundle))

    def close(self) -> None:
        for server in (self.server, self.wrong_name, self.mutual):
            server.close()


@pytest.fixture(scope="module")
def tls(bg: Background, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    made = Tls(bg, tmp_path_factory.mktemp("ca"))
    yield made
    made.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_private_ca_bundle_verifies_the_server(
    mode: str, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, tls.server.url, verify=str(tls.ca.bundle))
    assert status(mode, conn_id).state is JobState.SUCCEEDED


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_ca_fails_at_once_naming_the_connection(
    mode: str, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, tls.server.url)
    before = tls.server.connections
    exc = failure(mode, conn_id, retries=3)
    assert isinstance(exc, ConfigurationError), repr(exc)
    assert not exc.transient
    message = str(exc)
    assert conn_id in message and tls.server.url in message
    assert "certificate" in message and "verification" in message
    assert tls.server.connections - before == 1  # no retry: retrying cannot fix a trust store


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_for_another_host_name_is_refused(
    mode: str, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, tls.wrong_name.url, verify=str(tls.ca.bundle))
    exc = failure(mode, conn_id, retries=3)
    assert isinstance(exc, ConfigurationError), repr(exc)
    assert "certificate" in str(exc) and conn_id in str(exc)


@pytest.mark.parametrize("mode", MODES)
def test_verify_false_connects_and_warns(
    mode: str, tls: Tls, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    conn_id, _ = connection(monkeypatch, tls.server.url, verify=False)
    caplog.set_level(logging.WARNING)
    assert status(mode, conn_id).state is JobState.SUCCEEDED
    assert status(mode, conn_id).state is JobState.SUCCEEDED
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and conn_id in r.getMessage()]
    assert len(warnings) == 1, "verify=false must warn, once"
    assert "not verified" in warnings[0].getMessage()


@pytest.mark.parametrize("mode", MODES)
def test_mutual_tls_with_a_client_certificate(mode: str, tls: Tls, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id, _ = connection(
        monkeypatch,
        tls.mutual.url,
        verify=str(tls.ca.bundle),
        cert=str(tls.client.cert),
        key=str(tls.client.key),
    )
    assert status(mode, conn_id).state is JobState.SUCCEEDED
    assert tls.mutual.requests[-1].headers["x-api-key"]  # the request got through the handshake


@pytest.mark.parametrize("client", ["none", "untrusted"])
@pytest.mark.parametrize("mode", MODES)
def test_mutual_tls_without_an_accepted_certificate_fails_at_once(
    mode: str, client: str, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra: dict[str, Any] = {"verify": str(tls.ca.bundle)}
    if client == "untrusted":
        extra.update(cert=str(tls.stranger.cert), key=str(tls.stranger.key))
    conn_id, _ = connection(monkeypatch, tls.mutual.url, **extra)
    before = tls.mutual.connections
    exc = failure(mode, conn_id, retries=3)
    assert isinstance(exc, ConfigurationError), repr(exc)
    assert conn_id in str(exc) and "certificate" in str(exc)
    assert tls.mutual.connections - before == 1


@pytest.mark.parametrize("mode", MODES)
def test_https_to_a_plain_http_port_fails_at_once(
    mode: str, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, f"https://127.0.0.1:{origin.port}")
    before = origin.connections
    exc = failure(mode, conn_id, retries=3)
    assert isinstance(exc, ConfigurationError), repr(exc)
    assert "plain-HTTP port" in str(exc) and conn_id in str(exc)
    assert origin.connections - before == 1


@pytest.mark.parametrize("trust_env", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_ssl_cert_file_is_honoured_only_with_trust_env(
    mode: str, trust_env: bool, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca.bundle))
    conn_id, _ = connection(monkeypatch, tls.server.url, trust_env=trust_env)
    if trust_env:
        assert status(mode, conn_id).state is JobState.SUCCEEDED
    else:
        exc = failure(mode, conn_id)
        assert isinstance(exc, ConfigurationError) and "certificate" in str(exc), repr(exc)


def test_trust_roots_load_only_when_an_https_request_needs_them(
    origin: Origin, tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A context with its trust roots is about 0.8 MiB per process: a triggerer whose waits all
    poll a plain-HTTP origin builds none; an https connection builds one, shared by the others."""
    tls_contexts.cache_clear()
    plain, _ = connection(monkeypatch, origin.url)
    assert status("async", plain).state is JobState.SUCCEEDED
    assert tls_contexts.cache_info().currsize == 0
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca.bundle))
    for _ in range(2):
        secure, _ = connection(monkeypatch, tls.server.url)
        assert status("async", secure).state is JobState.SUCCEEDED
    assert tls_contexts.cache_info().currsize == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_trust_store_that_does_not_load_fails_at_once_naming_the_connection(
    mode: str, tls: Tls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Built when first needed, the default store still fails as a configuration mistake."""
    garbage = tmp_path / "roots.pem"
    garbage.write_text("not a certificate\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(garbage))
    tls_contexts.cache_clear()
    conn_id, _ = connection(monkeypatch, tls.server.url)
    before = tls.server.connections
    exc = failure(mode, conn_id, retries=3)
    assert isinstance(exc, ConfigurationError), repr(exc)
    assert "TLS settings do not load" in str(exc) and conn_id in str(exc) and "PDF.co" in str(exc)
    assert tls.server.connections == before  # nothing was sent


# == 3. a forward proxy ============================================================================
@pytest.fixture
def proxy(bg: Background) -> Iterator[ForwardProxy]:
    server = ForwardProxy(bg)
    yield server
    server.close()


def via_proxy(proxy: ForwardProxy, target: Origin | TlsFront) -> list[str]:
    """What the proxy saw for requests to ``target``: absolute-form targets or CONNECT authorities."""
    authority = f"127.0.0.1:{target.port}"
    return [t for t in proxy.targets() if t == authority or t.startswith(f"http://{authority}/")]


def target_of(kind: str, origin: Origin, tls: Tls) -> tuple[Origin | TlsFront, dict[str, Any], str]:
    """The origin for ``kind`` (http or https), its extras, and how a proxy sees a request to it."""
    if kind == "http":
        return origin, {}, f"http://127.0.0.1:{origin.port}/v1/job/check"
    return tls.server, {"verify": str(tls.ca.bundle)}, f"127.0.0.1:{tls.server.port}"


def use_proxy(how: str, kind: str, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The ``proxy`` extra (which ``NO_PROXY`` does not limit), or ``HTTP(S)_PROXY`` or
    ``ALL_PROXY`` with trust_env."""
    if how == "extra":
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        return {"proxy": proxy.url()}
    name = "ALL_PROXY" if how == "ALL_PROXY" else "HTTPS_PROXY" if kind == "https" else "HTTP_PROXY"
    monkeypatch.setenv(name, proxy.url())
    return {}


@pytest.mark.parametrize("how", ["extra", "environment", "ALL_PROXY"])
@pytest.mark.parametrize("kind", ["http", "https"])
@pytest.mark.parametrize("mode", MODES)
def test_the_proxy_is_used(
    mode: str,
    kind: str,
    how: str,
    origin: Origin,
    tls: Tls,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, extra, seen_as = target_of(kind, origin, tls)
    conn_id, _ = connection(monkeypatch, target.url, **extra, **use_proxy(how, kind, proxy, monkeypatch))
    assert status(mode, conn_id).state is JobState.SUCCEEDED
    assert via_proxy(proxy, target) == [seen_as]


@pytest.mark.parametrize("kind", ["http", "https"])
@pytest.mark.parametrize("mode", MODES)
def test_no_proxy_excludes_the_host(
    mode: str, kind: str, origin: Origin, tls: Tls, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, extra, _ = target_of(kind, origin, tls)
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    conn_id, _ = connection(monkeypatch, target.url, **extra)
    assert status(mode, conn_id).state is JobState.SUCCEEDED
    assert proxy.seen == []


@pytest.mark.parametrize("mode", MODES)
def test_trust_env_false_ignores_proxy_variables(
    mode: str, origin: Origin, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    monkeypatch.setenv("ALL_PROXY", proxy.url())
    conn_id, _ = connection(monkeypatch, origin.url, trust_env=False)
    assert status(mode, conn_id).state is JobState.SUCCEEDED
    assert proxy.seen == []


class Capture(logging.Handler):
    """Every record of the given loggers at DEBUG, rendered at emit time: raw, and as Airflow 3.3's
    log pipeline would write it (its ``mask_logs`` processor over the event, with the secrets
    registered so far: a secret registered only after a line was logged is not masked in it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.raw: list[str] = []
        self.masked: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from airflow.sdk.log import mask_logs

        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(record.exc_info[1]))
        self.raw.append(f"{record.name}: {text}")
        event = mask_logs(None, record.levelname.lower(), {"event": text, "logger": record.name})
        self.masked.append(f"{record.name}: {event['event']}")


@pytest.fixture
def debug_logs() -> Iterator[Capture]:
    capture = Capture()
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level in saved:
            logger.removeHandler(capture)
            logger.setLevel(level)


@pytest.mark.parametrize("kind", ["http", "https"])
@pytest.mark.parametrize("mode", MODES)
def test_proxy_credentials_reach_the_proxy_and_nothing_else(
    mode: str,
    kind: str,
    bg: Background,
    origin: Origin,
    tls: Tls,
    debug_logs: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = "proxyuser", f"pw-{secrets.token_hex(8)}"
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    guarded = ForwardProxy(bg, user=user, password=password)
    try:
        target, extra, seen_as = target_of(kind, origin, tls)
        conn_id, _ = connection(monkeypatch, target.url, proxy=guarded.url(user, password), **extra)
        assert status(mode, conn_id).state is JobState.SUCCEEDED
        assert [(s.target, s.proxy_authorization) for s in guarded.seen] == [(seen_as, f"Basic {basic}")]

        wrong, _ = connection(monkeypatch, target.url, proxy=guarded.url(user, password + "-wrong"), **extra)
        before = len(guarded.seen)
        refused = failure(mode, wrong, retries=2)
        assert isinstance(refused, ConfigurationError), repr(refused)
        assert "proxy refused" in str(refused) and wrong in str(refused)
        assert len(guarded.seen) - before == 1  # wrong proxy credentials: not retried
        conn_gone, _ = connection(monkeypatch, target.url, proxy=guarded.url(user, password), **extra)
    finally:
        guarded.close()
    unreachable = failure(mode, conn_gone, retries=2)  # the proxy is gone (and the retry is logged)
    assert isinstance(unreachable, TransientVendorError) and not unreachable.sent, repr(unreachable)
    for exc in (refused, unreachable):
        assert password not in text_of(exc) and basic not in text_of(exc), text_of(exc)
    assert any("retrying" in line for line in debug_logs.raw), "the check below would prove nothing"
    logged = "\n".join(debug_logs.raw)
    assert password not in logged and basic not in logged


@pytest.mark.parametrize("how", ["extra", "environment"])
def test_result_downloads_go_through_the_proxy(
    how: str, origin: Origin, files: Origin, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = f"signed-proxied-{how}"
    SIGNED[job] = f"{files.url}/out/result.txt?X-Amz-Signature={secrets.token_hex(16)}"
    conn_id, _ = connection(monkeypatch, origin.url, **use_proxy(how, "http", proxy, monkeypatch))
    h = hook(conn_id)
    [result] = h.vendor.result_requests(h.get_job_status(job), {}, {})
    with h.open_result(result, job) as resp:
        assert resp.read() == b"result bytes"
    assert via_proxy(proxy, files) == [SIGNED[job]]


# == 4. transport faults ===========================================================================
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused_is_transient_and_unsent(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id, _ = connection(monkeypatch, f"http://127.0.0.1:{closed_port()}")
    exc = failure(mode, conn_id)
    assert isinstance(exc, TransientVendorError), repr(exc)
    assert exc.sent is False


@pytest.mark.parametrize("mode", MODES)
def test_dns_failure_is_transient_and_unsent(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    conn_id, _ = connection(monkeypatch, "http://no-such-host.invalid")
    exc = failure(mode, conn_id)
    assert isinstance(exc, TransientVendorError), repr(exc)
    assert exc.sent is False


@pytest.mark.parametrize("mode", MODES)
def test_a_read_timeout_is_transient_and_may_have_been_sent(
    mode: str, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id, _ = connection(monkeypatch, origin.url)
    started = time.monotonic()
    exc = failure(mode, conn_id, "stall", timeout=1.0)
    assert isinstance(exc, TransientVendorError), repr(exc)
    assert exc.sent is True
    assert "timed out" in str(exc)
    assert time.monotonic() - started < 20  # the 1 s timeout ended it, not the server's 30 s stall


def test_a_poll_cancelled_while_in_flight_stays_cancelled(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request deadline turns only its own cancellation into a timeout: a trigger cancelled
    by the triggerer (its task reassigned, the DAG run cleared) stops at once, as a cancellation."""
    conn_id, _ = connection(monkeypatch, origin.url)

    async def run() -> float:
        async with hook(conn_id, timeout=30.0) as h:
            poll = asyncio.create_task(h.aget_job_status("stall"))
            await asyncio.sleep(0.3)
            started = time.monotonic()
            poll.cancel()
            with pytest.raises(asyncio.CancelledError):
                await poll
            return time.monotonic() - started

    assert asyncio.run(run()) < 5  # not the 30 s timeout nor the server's 30 s stall


def test_a_deadline_racing_a_cancellation_is_a_cancellation(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled by someone else in the very loop turn its own deadline passes, a poll still ends
    cancelled: the caller's cancellation is never swallowed into a retried timeout."""
    conn_id, _ = connection(monkeypatch, origin.url)
    polls: list[asyncio.Task[JobStatus]] = []
    check = Deadlines._check

    def check_then_cancel(self: Deadlines) -> None:
        check(self)
        for poll in polls:
            if poll.cancelling():  # the deadline has just cancelled it: cancel it again, as a caller
                poll.cancel()

    monkeypatch.setattr(Deadlines, "_check", check_then_cancel)

    async def run() -> None:
        async with hook(conn_id, timeout=1.0) as h:
            polls.append(asyncio.create_task(h.aget_job_status("stall")))
            with pytest.raises(asyncio.CancelledError):
                await polls[0]

    asyncio.run(run())


def test_polls_leave_no_dead_timers_in_the_event_loop(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished poll leaves nothing scheduled: a per-request timer, cancelled once the answer
    is read, would stay in the loop's heap for the whole timeout, and a triggerer's thousand waits
    would keep thousands of them for the garbage collector to promote and walk."""
    conn_id, _ = connection(monkeypatch, origin.url)

    async def run() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
        async with hook(conn_id, timeout=30.0) as h:
            await h.aget_job_status("ok")  # the connection is open and kept alive
            before = len(scheduled)
            for _ in range(50):
                assert (await h.aget_job_status("ok")).state is JobState.SUCCEEDED
            return before, sum(1 for handle in scheduled if handle.cancelled()) + len(scheduled) - before

    before, left = asyncio.run(run())
    assert left <= 2, f"{left} timers left by 50 polls ({before} scheduled before them)"


# == 5. signed URLs in DEBUG logs ==================================================================
@pytest.mark.parametrize("mode", MODES)
def test_no_signature_in_any_debug_log_line_once_masked(
    mode: str, origin: Origin, files: Origin, debug_logs: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.log import mask_logs

    job = f"signed-{mode}-{uuid.uuid4().hex[:6]}"
    signature = secrets.token_hex(32)
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3"
        f"%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Signature={signature}"
    )
    SIGNED[job] = f"{files.url}/out/{job}.txt?{query}"
    conn_id, _ = connection(monkeypatch, origin.url)
    if mode == "sync":
        h = hook(conn_id)
        got = h.get_job_status(job)
        [result] = h.vendor.result_requests(got, {}, {})
        with h.open_result(result, job) as resp:
            assert resp.read() == b"result bytes"
        # httpx logs every request's URL: the check below is not vacuous
        assert any(signature in line for line in debug_logs.raw)
    else:
        got = status(mode, conn_id, job)
    assert got.results and got.results[0].url == SIGNED[job]
    leaked = [line for line in debug_logs.masked if signature in line]
    assert leaked == []
    # and the URL is registered with the masker for whatever logs it later
    assert signature not in mask_logs(None, "info", {"event": f"fetching {SIGNED[job]}"})["event"]


def test_a_signature_behind_a_redirect_is_masked_in_debug_logs(
    jobstatus_simulator: Simulator, debug_logs: Capture, tmp_path: Path
) -> None:
    """Playment's attachment API redirects to a signed URL: httpcore logs the ``Location`` at DEBUG
    the moment it arrives, so it must be registered before the library logs it."""
    from airflow_provider_jobstatus.hooks.playment import PlaymentHook
    from tests.secret_values import SIGNATURE

    sim = jobstatus_simulator
    job = sim.create_job("playment", outcome="succeeded")
    h = PlaymentHook("playment_default", retries=1)
    got = h.get_job_status(job["job_id"])
    [result, *_] = h.vendor.result_requests(got, {}, h.options(h.settings(), {}))
    with h.open_result(result, job["job_id"]) as resp:
        resp.read()
    signatures = {sig for line in debug_logs.raw for sig in SIGNATURE.findall(line)}
    assert signatures, "no signed URL was logged: the check below would prove nothing"
    leaked = [line for line in debug_logs.masked if any(sig in line for sig in signatures)]
    assert leaked == []
