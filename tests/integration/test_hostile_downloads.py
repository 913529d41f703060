"""Downloads from a hostile origin, through ``DownloadJobResultOperator`` and real sockets on
127.0.0.1: compressed bombs must not inflate in memory (``max_bytes`` bounds memory as well as the
file), and result URLs or redirects that lead to link-local, unspecified or multicast addresses
(a cloud metadata service) are refused before any connection unless the connection allows them.

PDF.co is the vendor: its status answer lists the result URLs, which this origin chooses per job.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import sys
import tracemalloc
import uuid
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from tests.servers import Background, ForwardProxy, Origin, Reply, Seen, http_answer

MIB = 1024 * 1024


def gzipped(data: bytes) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


@cache
def bomb() -> bytes:
    """256 MiB of zeros gzipped: about 255 KB on the wire."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MIB)
    return b"".join(z.compress(block) for _ in range(256)) + z.flush()


@cache
def double_bomb() -> bytes:
    """The bomb gzipped again (``Content-Encoding: gzip, gzip``): a few KB on the wire."""
    return gzipped(bomb())


@cache
def text() -> bytes:
    """3 MiB of text that compresses well: a legitimate compressed result."""
    return b"".join(b"row %d,some value,another value\n" % i for i in range(100_000))[: 3 * MIB]


def encoded(body: bytes, coding: str, *, length: bool = True) -> bytes:
    head = [("Content-Type", "application/octet-stream"), ("Content-Encoding", coding)]
    if not length:  # close-delimited: only the gzip trailer can tell a cut body
        lines = ["HTTP/1.1 200 OK", *(f"{k}: {v}" for k, v in head), "Connection: close"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    return http_answer(body, headers=head)


def result_reply(path: str) -> Reply:
    name = path.removeprefix("/files/")
    if name == "bomb.bin":
        return Reply(encoded(bomb(), "gzip"))
    if name == "double.bin":
        return Reply(encoded(double_bomb(), "gzip, gzip"))
    if name == "text.csv":
        return Reply(encoded(gzipped(text()), "gzip"))
    if name == "text2.csv":
        return Reply(encoded(gzipped(gzipped(text())), "gzip, x-gzip"))
    if name == "cut.csv":  # the gzip stream stops half way, then the connection closes
        whole = gzipped(text())
        return Reply(encoded(whole[: len(whole) // 2], "gzip", length=False), close=True)
    if name == "error.bin":  # a 500 whose error page is the bomb
        head = [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
        return Reply(http_answer(bomb(), "500 Internal Server Error", head))
    if name == "brotli.bin":
        return Reply(encoded(b"\x0b\x02\x80hello\x03", "br"))
    return Reply(http_answer(b"plain result", headers=[("Content-Type", "text/plain")]))


#: job id -> the result URLs its status lists
JOBS: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def origin(bg: Background) -> Iterator[Origin]:
    server: Origin

    def script(seen: Seen) -> Reply:
        if seen.method == "POST":  # PDF.co's status check
            job = json.loads(seen.body or b"{}").get("jobid", "")
            urls = [u.replace("{origin}", server.url) for u in JOBS[job]]
            return Reply(http_answer(json.dumps({"status": "success", "urls": urls}).encode()))
        path, _, query = seen.target.partition("?")
        if path.startswith("/v1/projects/p1/jobs/"):  # Playment's status: the result is a URL
            url = JOBS[path.rsplit("/", 1)[1]][0].replace("{origin}", server.url)
            data = {"status": "completed", "result": url}
            return Reply(http_answer(json.dumps({"success": True, "data": data}).encode()))
        if path == "/v1/attachments":  # Playment's attachment API redirects to the result URL
            return Reply(http_answer(b"", "302 Found", [("Location", parse_qs(query)["url"][0])]))
        return result_reply(path)

    server = Origin(bg, script)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable of this machine reaches a test."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def connection(monkeypatch: pytest.MonkeyPatch, host: str, vendor: str = "pdfco", **extra: Any) -> str:
    """A PDF.co connection (results at the URLs its status lists), or a Playment one (results
    behind its attachment API's redirect)."""
    conn_id = f"dl_{uuid.uuid4().hex[:10]}"
    if vendor == "playment":
        extra = {"project_id": "p1", **extra}
    conn = {"conn_type": vendor, "host": host, "password": f"key-{secrets.token_hex(8)}", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def job_with(*urls: str) -> str:
    job = f"job-{uuid.uuid4().hex[:8]}"
    JOBS[job] = list(urls)
    return job


def download(conn_id: str, job: str, dest: Path, **kw: Any) -> list[dict[str, Any]]:
    op = DownloadJobResultOperator(
        task_id="get",
        conn_id=conn_id,
        job_id=job,
        destination=f"{dest}/",
        download_attempts=kw.pop("download_attempts", 1),
        backoff=0.01,
        hook_params={"retries": 1, "backoff": 0.01},
        **kw,
    )
    result: list[dict[str, Any]] = op.execute(context={})
    return result


def outcome_of(call: Any) -> Any:
    """What ``call()`` returned, or the exception it raised."""
    try:
        return call()
    except Exception as exc:
        return exc


def measured(call: Any) -> tuple[Any, int]:
    """The outcome of ``call()`` and the peak of Python allocations while it ran."""
    tracemalloc.start()
    try:
        return outcome_of(call), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# == memory ========================================================================================
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("bomb.bin", "max_bytes"),
        ("double.bin", "max_bytes"),
        ("error.bin", "HTTP 500"),  # a 500 whose error page is the bomb
    ],
)
def test_a_compressed_bomb_is_refused_in_bounded_memory(
    name: str, says: str, origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn_id = connection(monkeypatch, origin.url)
    job = job_with(f"{{origin}}/files/{name}")
    bomb(), double_bomb()  # made before measuring
    outcome, peak = measured(lambda: download(conn_id, job, tmp_path, max_bytes=10 * MIB))
    print(f"\n{name}: peak {peak / MIB:.1f} MiB, on disk {files_in(tmp_path)}")
    assert isinstance(outcome, AirflowException), outcome
    assert says in str(outcome) and job in str(outcome), outcome
    assert peak < 16 * MIB, f"peak {peak / MIB:.0f} MiB while refusing a 256 MiB bomb at max_bytes=10 MiB"
    assert files_in(tmp_path) == [], "nothing half-written is left, not even a .part"


def test_an_inflating_result_without_max_bytes_streams_in_bounded_memory(
    origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn_id = connection(monkeypatch, origin.url)
    job = job_with("{origin}/files/double.bin")
    double_bomb()
    outcome, peak = measured(lambda: download(conn_id, job, tmp_path))
    print(f"\ndouble.bin without max_bytes: peak {peak / MIB:.1f} MiB")
    assert not isinstance(outcome, Exception), outcome
    (got,) = outcome
    assert got["bytes"] == 256 * MIB == (tmp_path / "double.bin").stat().st_size
    assert peak < 16 * MIB, f"peak {peak / MIB:.0f} MiB for a 256 MiB result"


@pytest.mark.parametrize("name", ["text.csv", "text2.csv"])
def test_a_compressed_result_is_saved_decoded(
    name: str, origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn_id = connection(monkeypatch, origin.url)
    (got,) = download(conn_id, job_with(f"{{origin}}/files/{name}"), tmp_path, max_bytes=len(text()))
    assert (tmp_path / name).read_bytes() == text()
    assert got["bytes"] == len(text())


def test_a_cut_gzip_body_is_never_kept(
    origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn_id = connection(monkeypatch, origin.url)
    job = job_with("{origin}/files/cut.csv")
    with pytest.raises(AirflowException, match="truncated"):
        download(conn_id, job, tmp_path, download_attempts=2)
    assert files_in(tmp_path) == []


def test_an_encoding_that_cannot_be_decoded_is_refused_by_name(
    origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn_id = connection(monkeypatch, origin.url)
    with pytest.raises(AirflowException, match="'br'"):
        download(conn_id, job_with("{origin}/files/brotli.bin"), tmp_path)
    assert files_in(tmp_path) == []


# == addresses =====================================================================================
#: every address a socket of this process tried to connect to, while ``CONNECTS`` is recording
CONNECTS: list[Any] = []
_RECORDING = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _RECORDING[0]:
        CONNECTS.append(args[1])


sys.addaudithook(_audit)  # the interpreter's own record of connects: nothing of the client is patched


def refused(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast


def connects_during(call: Any) -> tuple[Any, list[str]]:
    """The outcome of ``call()`` and the hosts it tried to connect to."""
    CONNECTS.clear()
    _RECORDING[0] = True
    try:
        outcome = outcome_of(call)
    finally:
        _RECORDING[0] = False
    return outcome, [str(a[0]) for a in CONNECTS if isinstance(a, tuple)]


REFUSED = [
    # (what the result URL is, how the origin's port is written into it)
    pytest.param("http://169.254.169.254/latest/meta-data/iam", id="metadata-literal"),
    pytest.param("http://2852039166/latest/meta-data/iam", id="metadata-as-a-number"),
    pytest.param("http://[::ffff:169.254.169.254]/latest", id="metadata-ipv4-mapped"),
    pytest.param("http://[fe80::1]/x", id="ipv6-link-local"),
    pytest.param("http://0.0.0.0:{port}/files/secret.txt", id="unspecified-reaches-localhost"),
    pytest.param("http://0:{port}/files/secret.txt", id="unspecified-as-0"),
    pytest.param("http://224.0.0.1/x", id="multicast"),
]


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("how", ["result URL", "redirect"])
def test_results_at_refused_addresses_are_never_fetched(
    url: str, how: str, origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = url.replace("{port}", str(origin.port))
    # PDF.co lists result URLs; Playment's attachment API (on the connection's origin) redirects
    conn_id = connection(monkeypatch, origin.url, "pdfco" if how == "result URL" else "playment")
    job = job_with(target)
    before = len(origin.requests)
    outcome, connects = connects_during(lambda: download(conn_id, job, tmp_path, download_attempts=3))
    assert isinstance(outcome, AirflowException), outcome
    message = str(outcome)
    host = urlsplit(target).hostname or ""
    assert job in message and repr(host) in message and "'allow_link_local': true" in message, message
    assert conn_id in message and "after 1 attempt" in message, message
    assert not any(c == host or refused(c) for c in connects), connects
    fetched = [s.target.split("?")[0] for s in origin.requests[before:]]
    assert "/files/secret.txt" not in fetched
    assert fetched.count("/v1/attachments") == (how == "redirect")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("how", ["result URL", "redirect"])
def test_allow_link_local_lets_a_result_through(
    how: str, origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vendor = "pdfco" if how == "result URL" else "playment"
    conn_id = connection(monkeypatch, origin.url, vendor, allow_link_local=True)
    job = job_with(f"http://0.0.0.0:{origin.port}/files/inside.txt")
    (got,) = download(conn_id, job, tmp_path)
    assert Path(got["destination"]).read_bytes() == b"plain result"


@pytest.mark.parametrize("host", ["localhost", "[::ffff:127.0.0.1]"])
def test_loopback_results_on_another_origin_stay_allowed(
    host: str, origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn_id = connection(monkeypatch, origin.url)
    (got,) = download(conn_id, job_with(f"http://{host}:{origin.port}/files/there.txt"), tmp_path)
    assert Path(got["destination"]).read_bytes() == b"plain result"


def test_a_refused_address_behind_a_proxy_is_never_asked_of_the_proxy(
    bg: Background, origin: Origin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    proxy = ForwardProxy(bg)
    try:
        conn_id = connection(monkeypatch, origin.url, proxy=proxy.url())
        job = job_with(f"http://0.0.0.0:{origin.port}/files/secret.txt")
        with pytest.raises(AirflowException, match="allow_link_local"):
            download(conn_id, job, tmp_path)
        assert [s.method for s in proxy.seen] == ["POST"], "only the status check went through the proxy"
    finally:
        proxy.close()
