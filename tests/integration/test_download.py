"""DownloadJobResultOperator against the simulator over real HTTP (and httpx.MockTransport for
answers the simulator never gives): each vendor's way to its bytes, checksums, expired links,
credentials kept off signed URLs, truncated bodies, overwrite policy and object storage."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.unwritable import unwritable_folder

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment", "jobapi"]
FAST = {"backoff": 0.01, "hook_params": {"backoff": 0.01, "max_backoff": 0.05}}
#: where each vendor's result bytes come from in the simulator (the route a truncate fault hits)
RESULT_ROUTE = {
    "nitro": "result",
    "pdfco": "files",
    "alteryx": "output",
    "apidatatools": "files",
    "playment": "files",
    "jobapi": "files",
}
#: a fault seed whose first draw truncates and whose second does not, for every vendor
TRUNCATE_ONCE_SEED = 8683


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.clear_requests()
    return jobstatus_simulator


@pytest.fixture
def memfs() -> Any:
    """fsspec's in-memory store, attached so ObjectStoragePath("memory://...") reaches it."""
    from airflow.sdk.io import attach

    fs = fsspec.filesystem("memory")
    attach("memory", fs=fs)
    return fs


def download(vendor: str, job_id: str, destination: str | Path, **kw: Any) -> list[dict[str, Any]]:
    op = DownloadJobResultOperator(
        task_id=f"get_{vendor}",
        conn_id=f"{vendor}_default",
        job_id=job_id,
        destination=str(destination),
        **{**FAST, **kw},
    )
    result: list[dict[str, Any]] = op.execute(context={})
    json.dumps(result)  # XCom-ready
    return result


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def files_log(sim: Simulator) -> list[dict[str, Any]]:
    return [e for e in sim.requests()["log"] if e["origin"] == "files"]


# -- every vendor's way ---------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_downloads_the_simulators_bytes(sim: Simulator, vendor: str, tmp_path: Path) -> None:
    job = sim.create_job(vendor, result_bytes=300_001)
    (expected,) = job["results"]
    (got,) = download(vendor, job["job_id"], f"{tmp_path}/")
    assert got["sha256"] == expected["sha256"] == sha256_file(got["destination"])
    assert got["bytes"] == expected["size"] == 300_001
    assert Path(got["destination"]).parent == tmp_path
    assert tree(tmp_path) == [got["name"]], "nothing but the final file is left"
    assert got["content_type"] and not got["skipped"]
    requests = sim.requests()
    assert requests["files"]["with_credentials"] == 0, "no credential ever reaches the files origin"
    assert all(e["auth_headers"] == [] and e["status"] == 200 for e in files_log(sim))
    route = RESULT_ROUTE[vendor]
    if route == "files":
        assert requests["files"]["requests"] == 1
    else:  # fetched from the API origin with the vendor's auth
        assert requests["counts"][f"{vendor}.{route}"] == 1
        assert requests["files"]["requests"] == 0


def test_playment_follows_the_redirect_without_the_api_key(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("playment")
    download("playment", job["job_id"], f"{tmp_path}/")
    log = sim.requests()["log"]
    (attachment,) = [e for e in log if e["route"] == "attachments"]
    (signed,) = files_log(sim)
    assert attachment["auth_headers"] == ["x-api-key"] and attachment["status"] == 302
    assert signed["auth_headers"] == [] and signed["status"] == 200
    assert sim.requests()["files"] == {"requests": 1, "with_credentials": 0, "rejected": 0}


@pytest.mark.parametrize(("vendor", "count"), [("nitro", 3), ("pdfco", 2)])
def test_several_results_each_match(sim: Simulator, vendor: str, count: int, tmp_path: Path) -> None:
    job = sim.create_job(vendor, results=count, result_bytes=5_000)
    got = download(vendor, job["job_id"], f"{tmp_path}/")
    assert [g["name"] for g in got] == [r["name"] for r in job["results"]]
    assert [g["sha256"] for g in got] == [r["sha256"] for r in job["results"]]
    assert [sha256_file(g["destination"]) for g in got] == [r["sha256"] for r in job["results"]]
    assert sim.requests()["files"] == {"requests": count, "with_credentials": 0, "rejected": 0}


def test_result_selector_picks_one(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", results=3, result_bytes=2_000)
    (got,) = download("pdfco", job["job_id"], tmp_path / "second.pdf", result={"index": 1})
    assert got["destination"] == str(tmp_path / "second.pdf")
    assert got["sha256"] == job["results"][1]["sha256"]
    assert sim.requests()["files"]["requests"] == 1


def test_alteryx_output_by_id_and_format(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("alteryx", results=2, formats=["Raw", "Csv"], result_bytes=4_000)
    (got,) = download("alteryx", job["job_id"], f"{tmp_path}/", result={"output": "O2", "format": "Csv"})
    assert got["name"] == job["results"][1]["name"]
    assert got["sha256"] == job["results"][1]["sha256"]
    assert got["content_type"].startswith("text/csv")
    (output,) = [e for e in sim.requests()["log"] if e["route"] == "output"]
    assert output["path"].endswith("/output/O2") and output["auth_headers"] == ["authorization"]


def test_several_results_refuse_a_single_file_destination(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", results=2)
    with pytest.raises(AirflowFailException, match=r"2 results.*end it with '/'"):
        download("pdfco", job["job_id"], tmp_path / "one.pdf")
    assert tree(tmp_path) == []


# -- refused jobs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vendor", "spec", "said"),
    [
        ("pdfco", {"polls": 50}, "is running"),
        ("alteryx", {"polls": 50}, "is queued"),
        ("nitro", {"outcome": "failed"}, "is failed"),
        ("alteryx", {"outcome": "canceled"}, "is canceled"),
    ],
)
def test_a_job_that_has_not_succeeded_is_refused(
    sim: Simulator, vendor: str, spec: dict[str, Any], said: str, tmp_path: Path
) -> None:
    job = sim.create_job(vendor, **spec)
    with pytest.raises(AirflowFailException, match=f"{said}.*only a succeeded job has results"):
        download(vendor, job["job_id"], f"{tmp_path}/")
    assert tree(tmp_path) == []
    counts = sim.requests()["counts"]
    assert not any(k.endswith((".result", ".output")) for k in counts), counts
    assert sim.requests()["files"]["requests"] == 0


def test_a_pdfco_id_that_does_not_exist_is_an_unknown_job_id(sim: Simulator, tmp_path: Path) -> None:
    """PDF.co says "working" for an id it never saw; the operator asks again with ``force``."""
    with pytest.raises(AirflowFailException) as err:
        download("pdfco", "NO-SUCH-JOB--123-456", f"{tmp_path}/")
    assert str(err.value).startswith("PDF.co job 'NO-SUCH-JOB--123-456': unknown job id"), err.value
    assert "running" not in str(err.value) and "working" not in str(err.value)
    assert sim.requests()["counts"]["pdfco.status"] == 2  # the plain check, then the forced one
    assert tree(tmp_path) == []


def test_a_running_pdfco_job_is_still_running_after_the_forced_check(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", polls=50)
    with pytest.raises(AirflowFailException, match=r"^PDF\.co job .* is running .*wait for it first"):
        download("pdfco", job["job_id"], f"{tmp_path}/")


# -- expired links --------------------------------------------------------------------------------
def test_pdfco_output_link_valid_till_in_the_past(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", link_ttl=0)
    with pytest.raises(AirflowFailException, match=r"PDF\.co .*expired"):
        download("pdfco", job["job_id"], f"{tmp_path}/")
    assert sim.requests()["files"]["requests"] == 0, "a link PDF.co says is dead is not even tried"


@pytest.mark.parametrize("vendor", ["pdfco", "apidatatools", "playment"])
def test_signed_link_refused_by_the_files_origin_is_expired(
    sim: Simulator, vendor: str, tmp_path: Path
) -> None:
    job = sim.create_job(vendor)
    sim.expire(job["job_id"])
    with pytest.raises(AirflowFailException, match=r"expired.*HTTP 403: Request has expired"):
        download(vendor, job["job_id"], f"{tmp_path}/")
    assert tree(tmp_path) == []
    assert sim.requests()["files"] == {"requests": 1, "with_credentials": 0, "rejected": 1}


def test_apidatatools_link_past_its_expiry(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("apidatatools", link_ttl=0)
    with pytest.raises(AirflowFailException, match=r"APIDataTools .*expired"):
        download("apidatatools", job["job_id"], f"{tmp_path}/")
    assert tree(tmp_path) == []


def test_nitro_410_after_expire(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("nitro")
    sim.expire(job["job_id"])
    with pytest.raises(AirflowFailException, match=r"expired \(HTTP 410\)"):
        download("nitro", job["job_id"], f"{tmp_path}/")
    assert tree(tmp_path) == []
    assert "nitro.result" not in sim.requests()["counts"]


# -- truncated bodies -----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_truncated_body_is_retried_and_never_kept(sim: Simulator, vendor: str, tmp_path: Path) -> None:
    route = RESULT_ROUTE[vendor]
    job = sim.create_job(vendor, result_bytes=700_000)
    sim.set_faults(vendor, seed=TRUNCATE_ONCE_SEED, truncate=0.5, paths=[route])
    (got,) = download(vendor, job["job_id"], f"{tmp_path}/")
    fetches = [e for e in sim.requests()["log"] if e["route"] == route]
    assert [e["fault"] for e in fetches] == ["truncate", None], "one cut body, then a whole one"
    assert got["sha256"] == job["sha256"] == sha256_file(got["destination"])
    assert got["bytes"] == 700_000
    assert tree(tmp_path) == [got["name"]]


@pytest.mark.parametrize("vendor", VENDORS)
def test_transient_faults_on_the_result_are_retried(sim: Simulator, vendor: str, tmp_path: Path) -> None:
    route = RESULT_ROUTE[vendor]
    job = sim.create_job(vendor, result_bytes=100_000)
    faults = {"error_5xx": 0.25, "reset": 0.25, "html_error": 0.25, "retry_after": 0}
    sim.set_faults(vendor, seed=8, paths=[route], **faults)  # seed 8: the first fetch always fails
    (got,) = download(vendor, job["job_id"], f"{tmp_path}/", download_attempts=20)
    assert got["sha256"] == job["sha256"]
    seen = [e["fault"] for e in sim.requests()["log"] if e["route"] == route]
    assert seen[-1] is None and len(seen) > 1 and set(seen[:-1]) <= {"error_5xx", "reset", "html_error"}
    assert tree(tmp_path) == [got["name"]]


@pytest.mark.parametrize("vendor", ["nitro", "pdfco"])
def test_a_body_that_stays_truncated_fails_and_leaves_nothing(
    sim: Simulator, vendor: str, tmp_path: Path
) -> None:
    route = RESULT_ROUTE[vendor]
    job = sim.create_job(vendor, result_bytes=700_000)
    sim.set_faults(vendor, seed=1, truncate=1.0, paths=[route])
    with pytest.raises(AirflowException, match="after 3 attempt") as failed:
        download(vendor, job["job_id"], f"{tmp_path}/", download_attempts=3)
    assert not isinstance(failed.value, AirflowFailException), "transient: the task's retries may help"
    fetches = [e for e in sim.requests()["log"] if e["route"] == route]
    assert [e["fault"] for e in fetches] == ["truncate"] * 3
    assert tree(tmp_path) == [], "no partial file under any name"


def test_a_failed_download_names_the_job(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", result_bytes=100_000)
    sim.set_faults("pdfco", seed=1, truncate=1.0, paths=["files"])
    with pytest.raises(AirflowException) as failed:
        download("pdfco", job["job_id"], f"{tmp_path}/", download_attempts=1)
    assert f"PDF.co job {job['job_id']!r}" in str(failed.value)


@pytest.mark.parametrize("below", ["", "new/"], ids=["the-folder", "a-folder-to-make-in-it"])
def test_a_destination_that_cannot_be_written_says_what_to_do(
    sim: Simulator, tmp_path: Path, below: str
) -> None:
    job = sim.create_job("pdfco", results=2)
    with unwritable_folder(tmp_path / "locked") as locked:
        with pytest.raises(AirflowFailException) as failed:
            download("pdfco", job["job_id"], f"{locked}/{below}")
        assert list(locked.iterdir()) == [], "nothing left, not even a temporary file"
    said = str(failed.value)
    assert said.startswith(
        f"PDF.co job {job['job_id']!r}: destination '{locked}/{below}' cannot be written: "
    )
    reason = next(r for r in ("Operation not permitted", "Permission denied") if r in said)
    folder = locked / below.rstrip("/") if below else locked
    assert f": {reason} ({folder}); " in said, "names the folder, not a temporary file"
    assert "give the user the task runs as (on the worker) write access there" in said
    assert isinstance(failed.value.__cause__, PermissionError)
    assert sim.requests()["files"]["requests"] <= 1, "no retries: they cannot fix permissions"


def test_a_result_that_cannot_be_written_says_which_were(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", results=2, result_bytes=50_000)
    (tmp_path / "result-2.pdf").mkdir()  # in the way of the second result
    with pytest.raises(AirflowFailException) as failed:
        download("pdfco", job["job_id"], f"{tmp_path}/")
    said = str(failed.value)
    assert "a file or folder of that name is in the way" in said, said
    assert said.endswith(f"(no partly written file is left); already written: {tmp_path / 'result.pdf'}")
    assert tree(tmp_path) == ["result.pdf"], "the second result left no temporary file"


# -- overwrite policy -----------------------------------------------------------------------------
@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "result.pdf"
    path.write_bytes(b"what was there before")
    return path


def test_overwrite_replace(sim: Simulator, existing: Path) -> None:
    job = sim.create_job("pdfco", result_bytes=10_000)
    (got,) = download("pdfco", job["job_id"], f"{existing.parent}/")
    assert got["destination"] == str(existing) and not got["skipped"]
    assert sha256_file(existing) == job["sha256"]


def test_overwrite_skip_keeps_the_file_and_fetches_nothing(sim: Simulator, existing: Path) -> None:
    job = sim.create_job("pdfco", result_bytes=10_000)
    (got,) = download("pdfco", job["job_id"], f"{existing.parent}/", overwrite="skip")
    assert got["skipped"] and got["destination"] == str(existing)
    assert existing.read_bytes() == b"what was there before"
    assert got["sha256"] == hashlib.sha256(b"what was there before").hexdigest()
    assert got["bytes"] == len(b"what was there before")
    assert sim.requests()["files"]["requests"] == 0


def test_overwrite_fail_checks_every_target_before_writing_any(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", results=3)
    second = tmp_path / job["results"][1]["name"]
    second.write_bytes(b"keep me")
    with pytest.raises(AirflowFailException, match=f"{second.name}.*overwrite='fail'"):
        download("pdfco", job["job_id"], f"{tmp_path}/", overwrite="fail")
    assert tree(tmp_path) == [second.name] and second.read_bytes() == b"keep me"
    assert sim.requests()["files"]["requests"] == 0


def test_max_bytes_refuses_a_larger_result(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", result_bytes=50_000)
    with pytest.raises(AirflowFailException, match="over max_bytes=1000"):
        download("pdfco", job["job_id"], f"{tmp_path}/", max_bytes=1000)
    assert tree(tmp_path) == []


# -- object storage -------------------------------------------------------------------------------
def test_object_storage_destination(sim: Simulator, memfs: Any) -> None:
    job = sim.create_job("nitro", results=2, result_bytes=20_000)
    prefix = f"bucket/{uuid.uuid4().hex}"
    got = download("nitro", job["job_id"], f"memory://{prefix}/")
    assert [g["destination"] for g in got] == [f"memory://{prefix}/{r['name']}" for r in job["results"]]
    for g, r in zip(got, job["results"], strict=True):
        assert hashlib.sha256(memfs.cat_file(f"/{prefix}/{r['name']}")).hexdigest() == r["sha256"]
        assert g["sha256"] == r["sha256"]
    assert sorted(memfs.ls(f"/{prefix}", detail=False)) == sorted(f"/{prefix}/{r['name']}" for r in got)


def test_file_url_destination(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("apidatatools", result_bytes=3_000)
    (got,) = download("apidatatools", job["job_id"], f"file://{tmp_path}/out/")
    assert got["destination"] == (tmp_path / "out" / job["results"][0]["name"]).as_uri()
    assert sha256_file(tmp_path / "out" / got["name"]) == job["sha256"]


# -- MockTransport: answers the simulator never gives ----------------------------------------------
class Vendor:
    """A MockTransport that records requests and answers from a routing function."""

    def __init__(self, route: Callable[[httpx.Request], httpx.Response]) -> None:
        self.route = route
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.route(request)


def mock_download(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], vendor: Vendor, destination: str, **kw: Any
) -> list[dict[str, Any]]:
    conn_id = f"mock_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    op = DownloadJobResultOperator(
        task_id="get",
        conn_id=conn_id,
        job_id="J1",
        destination=destination,
        backoff=0.01,
        hook_params={"transport": vendor.transport, "backoff": 0.01},
        **kw,
    )
    result: list[dict[str, Any]] = op.execute(context={})
    return result


ALTERYX = {"conn_type": "alteryx", "host": "https://alteryx.test/webapi", "login": "id", "password": "s"}
PDFCO = {"conn_type": "pdfco", "host": "https://pdfco.test", "password": "pdfco-key"}
NITRO = {"conn_type": "nitro", "host": "https://nitro.test", "login": "id", "password": "s"}
EVIL = ["../../etc/passwd", "/abs/x", "..\\..\\win", "a/../../b", "..", "C:\\Windows\\evil.ini"]


def test_alteryx_path_traversal_names_land_inside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    outputs = [{"id": f"O{i}", "fileName": n, "availableFormats": ["Raw"]} for i, n in enumerate(EVIL, 1)]

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/oauth2/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if req.url.path.endswith("/v3/jobs/J1"):
            return httpx.Response(
                200, json={"status": "Completed", "disposition": "Success", "outputs": outputs}
            )
        return httpx.Response(200, content=req.url.path.encode())

    dest = tmp_path / "dest"
    got = mock_download(monkeypatch, ALTERYX, Vendor(route), f"{dest}/")
    assert [g["name"] for g in got] == ["passwd", "x", "win", "b", "O5", "evil.ini"]
    for g in got:
        assert Path(g["destination"]).resolve().parent == dest.resolve()
    assert tree(tmp_path) == sorted(f"dest/{g['name']}" for g in got), "nothing written outside"


def test_pdfco_path_traversal_in_urls_lands_inside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from urllib.parse import quote

    urls = [f"https://files.test/o/{quote(n, safe='')}?sig={i}" for i, n in enumerate(EVIL)]

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.host == "pdfco.test":
            return httpx.Response(200, json={"status": "success", "urls": urls})
        return httpx.Response(200, content=b"bytes of " + req.url.raw_path)

    vendor = Vendor(route)
    dest = tmp_path / "dest"
    got = mock_download(monkeypatch, PDFCO, vendor, f"{dest}/")
    assert [g["name"] for g in got] == ["passwd", "x", "win", "b", "result", "evil.ini"]
    assert tree(tmp_path) == sorted(f"dest/{g['name']}" for g in got)
    fetched = [r for r in vendor.requests if r.url.host == "files.test"]
    assert len(fetched) == len(EVIL) and not any("x-api-key" in r.headers for r in fetched)
    assert all("?" not in g["destination"] and "sig" not in g["destination"] for g in got)


def test_nitro_410_on_the_result_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def route(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/oauth/token":
            return httpx.Response(200, json={"accessToken": "t", "expiresIn": 3600})
        if req.url.path == "/jobs/J1/status":
            file = {"URL": "https://files.test/r.pdf?sig=1", "metadata": {"fileSizeBytes": 10}}
            return httpx.Response(200, json={"status": "completed", "result": {"file": file}})
        assert req.headers["accept"] == "application/octet-stream"
        body = {"type": "FileNoLongerAvailable", "title": "File no longer available", "status": 410}
        return httpx.Response(410, json=body)

    with pytest.raises(AirflowFailException, match=r"Nitro .*expired or refused \(HTTP 410\)"):
        mock_download(monkeypatch, NITRO, Vendor(route), f"{tmp_path}/")
    assert tree(tmp_path) == []


class LocalStore:
    """The same questions as :class:`fsspec` answers, asked of a local folder."""

    @staticmethod
    def exists(path: str) -> bool:
        return os.path.exists(path)

    @staticmethod
    def ls(path: str, detail: bool = False) -> list[str]:
        return sorted(os.path.join(path, name) for name in os.listdir(path))


@pytest.mark.parametrize("where", ["local", "memory"])
def test_bytes_go_to_a_temp_name_then_move(
    monkeypatch: pytest.MonkeyPatch, memfs: Any, tmp_path: Path, where: str
) -> None:
    """While bytes arrive only a hidden temporary name exists; the final name appears whole."""
    store: Any = memfs if where == "memory" else LocalStore()
    prefix = f"/bucket/{uuid.uuid4().hex}" if where == "memory" else str(tmp_path / "out")
    destination = f"memory:/{prefix}/" if where == "memory" else f"{prefix}/"
    seen: list[tuple[list[str], bool]] = []
    chunks = [bytes([i]) * 300_000 for i in range(4)]

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk
            keys = store.ls(prefix, detail=False) if store.exists(prefix) else []
            seen.append((sorted(k.rsplit("/", 1)[-1] for k in keys), store.exists(f"{prefix}/out.pdf")))

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.host == "pdfco.test":
            return httpx.Response(200, json={"status": "success", "url": "https://files.test/out.pdf?s=1"})
        return httpx.Response(200, content=body(), headers={"content-length": str(1_200_000)})

    (got,) = mock_download(monkeypatch, PDFCO, Vendor(route), destination)
    assert len(seen) == 4
    for names, final_exists in seen:
        assert not final_exists
        assert len(names) == 1 and names[0].startswith(".out.pdf.part-")
    assert store.ls(prefix, detail=False) == [f"{prefix}/out.pdf"]
    with fsspec.open(f"{'memory' if where == 'memory' else 'file'}://{prefix}/out.pdf", "rb") as f:
        assert f.read() == b"".join(chunks)
    assert got["sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_object_storage_temp_key_is_removed_when_the_body_is_short(
    monkeypatch: pytest.MonkeyPatch, memfs: Any
) -> None:
    prefix = f"/bucket/{uuid.uuid4().hex}"

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.host == "pdfco.test":
            return httpx.Response(200, json={"status": "success", "url": "https://files.test/out.pdf?s=1"})
        # a proxy that announces more than it sends: the size check is the last line of defence
        return httpx.Response(200, content=iter([b"x" * 1000]), headers={"content-length": "5000"})

    with pytest.raises(AirflowException, match="truncated: received 1000 of 5000 bytes"):
        mock_download(monkeypatch, PDFCO, Vendor(route), f"memory:/{prefix}/", download_attempts=2)
    assert not memfs.exists(f"{prefix}/out.pdf")
    assert (memfs.ls(prefix, detail=False) if memfs.exists(prefix) else []) == []


# -- memory ---------------------------------------------------------------------------------------
_RSS_SCRIPT = """
import json, resource, sys
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

small, big, dest, out = sys.argv[1:5]
def get(job_id, name):
    op = DownloadJobResultOperator(task_id=name, conn_id="pdfco_default", job_id=job_id, destination=dest)
    return op.execute(context={})
get(small, "warm_up")  # imports, connection lookup and HTTP client are paid for before measuring
before = peak_kib()
result = get(big, "big")
after = peak_kib()
with open(out, "w") as f:
    json.dump({"before_kib": before, "after_kib": after, "result": result}, f)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux")
def test_512_mib_result_streams_in_flat_memory(sim: Simulator, tmp_path: Path) -> None:
    size = 512 * 1024 * 1024
    small = sim.create_job("pdfco", result_bytes=1_000)
    big = sim.create_job("pdfco", result_bytes=size)
    dest, report = tmp_path / "dest", tmp_path / "report.json"
    args = [small["job_id"], big["job_id"], f"{dest}/", str(report)]
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, *args], env=dict(os.environ), timeout=240, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    data = json.loads(report.read_text())
    (got,) = data["result"]
    try:
        assert got["bytes"] == size and got["sha256"] == big["sha256"]
        growth_mib = (data["after_kib"] - data["before_kib"]) / 1024
        assert growth_mib < 64, f"peak RSS grew by {growth_mib:.1f} MiB for a {size >> 20} MiB download"
    finally:
        Path(got["destination"]).unlink(missing_ok=True)
