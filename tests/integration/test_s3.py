"""Downloads and batch listings to ``s3://`` through Airflow's ObjectStoragePath and the Amazon
provider (s3fs), against a real S3 API (moto's server mode) and the simulator over real HTTP.

What must hold: the final key appears only once the object is complete and verified, a failed or
truncated download leaves no object and no open multipart upload, and memory stays flat."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.s3_server import S3Server

FAST = {"backoff": 0.01, "hook_params": {"backoff": 0.01, "max_backoff": 0.05}}
MIB = 1024 * 1024
#: s3fs's part size (its default block size): a result larger than this is a multipart upload
PART = 50 * MIB


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.clear_requests()
    return jobstatus_simulator


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"results-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def download(vendor: str, job_id: str, destination: str, **kw: Any) -> list[dict[str, Any]]:
    op = DownloadJobResultOperator(
        task_id=f"get_{vendor}",
        conn_id=f"{vendor}_default",
        job_id=job_id,
        destination=destination,
        destination_conn_id="aws_moto",
        **{**FAST, **kw},
    )
    result: list[dict[str, Any]] = op.execute(context={})
    json.dumps(result)  # XCom-ready
    return result


def sha256_of_object(s3: S3Server, bucket: str, key: str) -> tuple[int, str]:
    body = s3.client().get_object(Bucket=bucket, Key=key)["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(MIB):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


@pytest.mark.parametrize("vendor", ["nitro", "pdfco", "playment"])
def test_results_land_in_a_folder_whole(
    sim: Simulator, s3_server: S3Server, bucket: str, vendor: str
) -> None:
    job = sim.create_job(vendor, result_bytes=300_000)
    got = download(vendor, job["job_id"], f"s3://{bucket}/out/")
    assert len(got) == len(job["results"])
    for g, r in zip(got, job["results"], strict=True):
        assert g["destination"] == f"s3://{bucket}/out/{g['name']}", "the URL, no connection id in it"
        assert (
            sha256_of_object(s3_server, bucket, f"out/{g['name']}")
            == (300_000, r["sha256"])
            == (
                g["bytes"],
                g["sha256"],
            )
        )
    assert s3_server.keys(bucket) == sorted(f"out/{g['name']}" for g in got), "no temporary key"
    assert s3_server.open_uploads(bucket) == []


def test_a_single_key_destination_and_overwrite(sim: Simulator, s3_server: S3Server, bucket: str) -> None:
    first, second = sim.create_job("apidatatools", result_bytes=1_000), sim.create_job("apidatatools")
    (got,) = download("apidatatools", first["job_id"], f"s3://{bucket}/reports/today.csv")
    assert got["destination"] == f"s3://{bucket}/reports/today.csv"
    (kept,) = download("apidatatools", second["job_id"], f"s3://{bucket}/reports/today.csv", overwrite="skip")
    assert kept["skipped"] and kept["sha256"] == first["sha256"]
    with pytest.raises(AirflowException, match="already exist"):
        download("apidatatools", second["job_id"], f"s3://{bucket}/reports/today.csv", overwrite="fail")
    (replaced,) = download("apidatatools", second["job_id"], f"s3://{bucket}/reports/today.csv")
    assert (
        sha256_of_object(s3_server, bucket, "reports/today.csv")[1] == replaced["sha256"] == second["sha256"]
    )
    assert s3_server.keys(bucket) == ["reports/today.csv"]


class Watcher(threading.Thread):
    """Lists a bucket's objects (with their sizes) and open uploads over and over while a download
    runs."""

    def __init__(self, s3: S3Server, bucket: str) -> None:
        super().__init__(daemon=True)
        self.s3, self.bucket = s3, bucket
        self.stop = threading.Event()
        self.seen: list[tuple[dict[str, int], list[str]]] = []

    def run(self) -> None:
        client = self.s3.client()
        while not self.stop.is_set():
            listed = client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
            self.seen.append(({o["Key"]: o["Size"] for o in listed}, self.s3.open_uploads(self.bucket)))
            time.sleep(0.05)


def test_the_key_appears_only_when_complete(sim: Simulator, s3_server: S3Server, bucket: str) -> None:
    """A multipart result: while parts are uploaded no key exists (no temporary key either); the
    final key, once there, holds the whole object."""
    size = PART + 5 * MIB
    job = sim.create_job("pdfco", result_bytes=size)
    watcher = Watcher(s3_server, bucket)
    watcher.start()
    try:
        (got,) = download("pdfco", job["job_id"], f"s3://{bucket}/big/")
    finally:
        watcher.stop.set()
        watcher.join()
    key = f"big/{got['name']}"
    assert any(uploads == [key] for _, uploads in watcher.seen), "the watcher saw the upload in progress"
    for objects, uploads in watcher.seen:
        assert objects in ({}, {key: size}), f"only the whole object, under its own key: {objects}"
        assert not (objects and uploads), "the key appears when the upload completes, not before"
    assert s3_server.keys(bucket) == [key]
    assert sha256_of_object(s3_server, bucket, key) == (size, job["sha256"])
    assert s3_server.open_uploads(bucket) == []


def test_a_truncated_download_leaves_no_object_and_no_upload(
    sim: Simulator, s3_server: S3Server, bucket: str
) -> None:
    """The simulator cuts the body at half: past one part, so a multipart upload had begun."""
    job = sim.create_job("nitro", result_bytes=2 * PART + 4 * MIB)
    sim.set_faults("nitro", seed=1, truncate=1.0, paths=["result"])
    with pytest.raises(AirflowException, match="after 1 attempt"):
        download("nitro", job["job_id"], f"s3://{bucket}/cut/", download_attempts=1)
    assert [e["fault"] for e in sim.requests()["log"] if e["route"] == "result"] == ["truncate"]
    assert s3_server.keys(bucket) == []
    assert s3_server.open_uploads(bucket) == [], "every multipart upload aborted"


def test_a_failed_download_keeps_what_was_there(sim: Simulator, s3_server: S3Server, bucket: str) -> None:
    old = sim.create_job("pdfco", result_bytes=1_000)
    (before,) = download("pdfco", old["job_id"], f"s3://{bucket}/r.pdf")
    new = sim.create_job("pdfco", result_bytes=200_000)
    sim.set_faults("pdfco", seed=1, truncate=1.0, paths=["files"])
    with pytest.raises(AirflowException, match=r"truncated|incomplete|closed"):
        download("pdfco", new["job_id"], f"s3://{bucket}/r.pdf", download_attempts=1)
    assert sha256_of_object(s3_server, bucket, "r.pdf") == (1_000, before["sha256"])
    assert s3_server.open_uploads(bucket) == []


# -- batch listings -------------------------------------------------------------------------------
def listing(batch_id: str, output_path: str) -> Any:
    op = BatchJobsToXComOperator(
        task_id="batch",
        conn_id="playment_default",
        batch_id=batch_id,
        output_path=output_path,
        output_conn_id="aws_moto",
        hook_params={"backoff": 0.01, "max_backoff": 0.05},
    )
    return op.execute(context={})


def test_batch_rows_to_s3(sim: Simulator, s3_server: S3Server, bucket: str) -> None:
    batch = sim.create_batch(250)
    summary = listing(batch["batch_id"], f"s3://{bucket}/batches/")
    assert summary == {"path": f"s3://{bucket}/batches/jobs.jsonl", "count": 250, "pages": 3}
    body = s3_server.client().get_object(Bucket=bucket, Key="batches/jobs.jsonl")["Body"].read()
    assert [json.loads(line)["id"] for line in body.splitlines()] == batch["job_ids"]
    assert s3_server.keys(bucket) == ["batches/jobs.jsonl"]
    assert s3_server.open_uploads(bucket) == []


def test_a_failed_batch_listing_leaves_nothing(sim: Simulator, s3_server: S3Server, bucket: str) -> None:
    batch = sim.create_batch(250)
    sim.set_faults("playment", seed=1, error_5xx=1.0, paths=["batch"])
    with pytest.raises(AirflowException, match="after 0 pages"):
        listing(batch["batch_id"], f"s3://{bucket}/batches/jobs.jsonl")
    assert s3_server.keys(bucket) == []
    assert s3_server.open_uploads(bucket) == []


# -- memory ---------------------------------------------------------------------------------------
def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Linux resets VmHWM to the current RSS when "5" is written to clear_refs."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_512_mib_result_streams_to_s3_in_flat_memory(
    sim: Simulator, s3_server: S3Server, bucket: str
) -> None:
    if not _reset_peak_rss():
        pytest.skip("needs Linux's /proc/self/clear_refs to measure peak RSS")
    size = 512 * MIB
    warm = sim.create_job("pdfco", result_bytes=1_000)
    download("pdfco", warm["job_id"], f"s3://{bucket}/warm/")  # imports, clients, connection lookups
    big = sim.create_job("pdfco", result_bytes=size)
    _reset_peak_rss()
    before = _peak_rss_kib()
    (got,) = download("pdfco", big["job_id"], f"s3://{bucket}/big/")
    growth_mib = (_peak_rss_kib() - before) / 1024
    assert (got["bytes"], got["sha256"]) == (size, big["sha256"])
    assert s3_server.client().head_object(Bucket=bucket, Key=f"big/{got['name']}")["ContentLength"] == size
    # s3fs buffers one part (50 MiB) and copies it to send it: about three parts (~160 MiB measured),
    # whatever the file's size; half the file is the loose bound
    assert growth_mib < 256, f"peak RSS grew by {growth_mib:.1f} MiB for a {size >> 20} MiB download"
    print(f"512 MiB to s3: peak RSS grew by {growth_mib:.1f} MiB")
