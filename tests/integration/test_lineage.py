"""OpenLineage facets of the download and batch operators, read the way the OpenLineage provider
reads them (its extractor manager picks the default extractor, which calls
``get_openlineage_facets_on_complete``), for local files and objects on a real S3 API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow.providers.openlineage.extractors.base import DefaultExtractor
from airflow.providers.openlineage.extractors.manager import ExtractorManager
from openlineage.client.serde import Serde

from airflow_provider_jobstatus.hooks import JobStatusHook
from airflow_provider_jobstatus.operators._lineage import DatasetRef, stored, vendor_job, vendor_namespace
from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.s3_server import S3Server

FAST: dict[str, Any] = {"backoff": 0.01, "hook_params": {"backoff": 0.01, "max_backoff": 0.05}}


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    return jobstatus_simulator


def lineage(op: Any) -> dict[str, Any]:
    """What the OpenLineage provider would send, as the JSON it sends."""
    assert ExtractorManager().get_extractor_class(op) is DefaultExtractor
    got = DefaultExtractor(op).extract_on_complete(task_instance=None)
    assert got is not None
    as_json = lambda datasets: [json.loads(Serde.to_json(d)) for d in datasets]  # noqa: E731
    return {"inputs": as_json(got.inputs), "outputs": as_json(got.outputs)}


def origin(sim: Simulator, vendor: str) -> str:
    parts = urlsplit(sim.base_url(vendor))
    return f"{parts.scheme}://{parts.netloc}"


def test_download_to_local_files(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("nitro", result_bytes=2_000, results=2)
    op = DownloadJobResultOperator(
        task_id="get", conn_id="nitro_default", job_id=job["job_id"], destination=f"{tmp_path}/", **FAST
    )
    written = op.execute(context={})
    facets = lineage(op)
    assert facets["inputs"] == [
        {"namespace": origin(sim, "nitro"), "name": f"jobs/{job['job_id']}", "facets": {}}
    ]
    assert [(o["namespace"], o["name"]) for o in facets["outputs"]] == [
        ("file", str(tmp_path / w["name"])) for w in written
    ]
    assert [o["outputFacets"]["outputStatistics"]["size"] for o in facets["outputs"]] == [2_000, 2_000]


def test_a_kept_file_is_not_an_output(sim: Simulator, tmp_path: Path) -> None:
    job = sim.create_job("pdfco", result_bytes=100)
    kw: dict[str, Any] = {"conn_id": "pdfco_default", "job_id": job["job_id"], "destination": f"{tmp_path}/"}
    DownloadJobResultOperator(task_id="first", **kw, **FAST).execute(context={})
    again = DownloadJobResultOperator(task_id="again", overwrite="skip", **kw, **FAST)
    again.execute(context={})
    assert lineage(again)["outputs"] == []
    assert [i["name"] for i in lineage(again)["inputs"]] == [f"jobs/{job['job_id']}"]


def test_download_to_s3(sim: Simulator, s3_server: S3Server, tmp_path: Path) -> None:
    s3_server.client().create_bucket(Bucket="lineage-results")
    job = sim.create_job("pdfco", result_bytes=500)
    op = DownloadJobResultOperator(
        task_id="get",
        conn_id="pdfco_default",
        job_id=job["job_id"],
        destination="s3://lineage-results/in/",
        destination_conn_id="aws_moto",
        **FAST,
    )
    (written,) = op.execute(context={})
    (out,) = lineage(op)["outputs"]
    assert (out["namespace"], out["name"]) == ("s3://lineage-results", f"in/{written['name']}")


def test_batch_to_s3_and_to_xcom(sim: Simulator, s3_server: S3Server) -> None:
    s3_server.client().create_bucket(Bucket="lineage-batches")
    batch = sim.create_batch(120)
    kw: dict[str, Any] = {"conn_id": "playment_default", "batch_id": batch["batch_id"]}
    to_s3 = BatchJobsToXComOperator(
        task_id="to_s3", output_path="s3://lineage-batches/b/", output_conn_id="aws_moto", **kw
    )
    to_s3.execute(context={})
    facets = lineage(to_s3)
    assert [(i["namespace"], i["name"]) for i in facets["inputs"]] == [
        (origin(sim, "playment"), f"batches/{batch['batch_id']}")
    ]
    (out,) = facets["outputs"]
    assert (out["namespace"], out["name"]) == ("s3://lineage-batches", "b/jobs.jsonl")
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 120
    to_xcom = BatchJobsToXComOperator(task_id="to_xcom", **kw)
    to_xcom.execute(context={})
    assert lineage(to_xcom)["outputs"] == [] and len(lineage(to_xcom)["inputs"]) == 1


def test_nothing_recorded_before_a_run() -> None:
    op = DownloadJobResultOperator(task_id="get", conn_id="pdfco_default", job_id="J", destination="/tmp/x")
    assert lineage(op) == {"inputs": [], "outputs": []}


# -- naming ---------------------------------------------------------------------------------------
def test_the_vendors_public_api_is_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PDFCO_PUBLIC", json.dumps({"conn_type": "pdfco", "password": "k"}))
    hook = JobStatusHook.for_connection("pdfco_public")
    assert vendor_job(hook, "abc-1") == DatasetRef("https://api.pdf.co", "jobs/abc-1")


@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://api.pdf.co", "https://api.pdf.co"),
        ("https://API.Example.com:443/v1/", "https://api.example.com"),
        ("http://127.0.0.1:8700/pdfco", "http://127.0.0.1:8700"),
        ("https://user:secret@alteryx.corp:8443/webapi?x=1", "https://alteryx.corp:8443"),
        ("https://[::1]:9000/x", "https://[::1]:9000"),
    ],
)
def test_vendor_namespace_is_the_origin_only(base_url: str, namespace: str) -> None:
    assert vendor_namespace(base_url) == namespace


@pytest.mark.parametrize(
    ("location", "namespace", "name"),
    [
        ("/data/out/a.pdf", "file", "/data/out/a.pdf"),
        ("file:///data/out/a%20b.pdf", "file", "/data/out/a b.pdf"),
        ("s3://bucket/k/a.pdf", "s3://bucket", "k/a.pdf"),
        ("s3://aws_conn@bucket/k/a.pdf", "s3://bucket", "k/a.pdf"),
        ("gs://b/a.json", "gs://b", "a.json"),
        ("memory:///bucket/x", "memory", "bucket/x"),
    ],
)
def test_stored_names_follow_openlineage_conventions(location: str, namespace: str, name: str) -> None:
    assert (stored(location).namespace, stored(location).name) == (namespace, name)
