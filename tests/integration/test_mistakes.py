"""Mistakes found when a task runs, through the public API: each fails at once (AirflowFailException,
no retry) or, for an unreachable proxy, says it is the proxy, naming the task or connection and
the argument, before any vendor request that could not succeed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_jobstatus.errors import ConfigurationError, TransientVendorError
from airflow_provider_jobstatus.hooks.pdfco import PdfCoHook
from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.airflow_versions import AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA

#: what a sensor's job_id renders to when it pulls a run operator's return value
RENDERED_DICT = str({"vendor": "pdfco", "job_id": "J1"})
HINT = 'After a run operator, pull its id with ti.xcom_pull(task_ids="<run task>", key="job_id")'


def requests_made(sim: Simulator) -> int:
    return int(sim.requests(include_log=False)["total"])


# -- a rendered id that is not one -------------------------------------------------------------------
def test_sensor_job_id_that_is_a_rendered_dict(jobstatus_simulator: Simulator) -> None:
    sensor = JobStatusSensor(task_id="wait", conn_id="pdfco_default", job_id=RENDERED_DICT)
    before = requests_made(jobstatus_simulator)
    with pytest.raises(AirflowFailException) as info:
        sensor.pre_execute(context={})  # what Airflow calls before execute and on resumption
    assert str(info.value) == (
        "JobStatusSensor 'wait': argument 'job_id' rendered to \"{'vendor': 'pdfco', 'job_id': 'J1'}\" "
        "(str), which is not a job id: it must be a non-empty string. After a run operator, pull its "
        'id with ti.xcom_pull(task_ids="<run task>", key="job_id") (the run task\'s return value is a dict)'
    )
    assert requests_made(jobstatus_simulator) == before


@pytest.mark.parametrize("value", ["", "  ", "None", None, {"job_id": "J1"}, ["J1"], "[J1]"])
def test_download_job_id_that_is_not_one(value: Any, jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    get = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=value, destination=f"{tmp_path}/"
    )
    with pytest.raises(
        AirflowFailException, match=r"^DownloadJobResultOperator 'get': argument 'job_id'"
    ) as info:
        get.execute(context={})
    assert HINT in str(info.value)


def test_batch_id_that_is_not_one(jobstatus_simulator: Simulator) -> None:
    jobs = BatchJobsToXComOperator(task_id="jobs", conn_id="playment_default", batch_id="None")
    with pytest.raises(AirflowFailException) as info:
        jobs.execute(context={})
    assert str(info.value) == (
        "BatchJobsToXComOperator 'jobs': argument 'batch_id' rendered to 'None' (str), which is not a "
        "batch id: it must be a non-empty string"
    )


def test_a_real_id_passes(jobstatus_simulator: Simulator) -> None:
    job = jobstatus_simulator.create_job("pdfco")
    JobStatusSensor(task_id="wait", conn_id="pdfco_default", job_id=job["job_id"]).pre_execute(context={})


# -- destinations ----------------------------------------------------------------------------------
def test_ambiguous_destination_is_refused_with_the_rule(
    jobstatus_simulator: Simulator, tmp_path: Path
) -> None:
    job = jobstatus_simulator.create_job("pdfco")
    meant = tmp_path / "pdfco"
    get = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=job["job_id"], destination=str(meant)
    )
    with pytest.raises(AirflowFailException) as info:
        get.execute(context={})
    assert str(info.value) == (
        f"PDF.co job {job['job_id']!r}: destination {str(meant)!r} is ambiguous: a folder ends with '/' "
        "(or already exists as a folder); a file has an extension in its last part (report.pdf). End it "
        "with '/' to write into a folder, or name the file with its extension"
    )
    assert not meant.exists()


def test_folder_and_file_destinations(jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    job = jobstatus_simulator.create_job("pdfco")
    (into_folder,) = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=job["job_id"], destination=f"{tmp_path}/new/"
    ).execute(context={})
    assert Path(into_folder["destination"]).parent == tmp_path / "new"
    existing = tmp_path / "existing"
    existing.mkdir()
    (into_existing,) = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=job["job_id"], destination=str(existing)
    ).execute(context={})
    assert Path(into_existing["destination"]).parent == existing
    (as_file,) = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=job["job_id"], destination=f"{tmp_path}/text.txt"
    ).execute(context={})
    assert as_file["destination"] == f"{tmp_path}/text.txt"


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("gs://bucket/out/", "apache-airflow-providers-google"),
        ("abfs://container/out/", "apache-airflow-providers-microsoft-azure"),
    ],
)
def test_storage_without_its_provider_names_the_package(
    url: str, package: str, jobstatus_simulator: Simulator
) -> None:
    job = jobstatus_simulator.create_job("pdfco")
    get = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=job["job_id"], destination=url
    )
    with pytest.raises(AirflowFailException) as info:
        get.execute(context={})
    text = str(info.value)
    assert text.startswith(
        f"PDF.co job {job['job_id']!r}: destination {url!r} cannot be opened: no object storage"
    )
    assert text.endswith(f"install {package} where the task runs (pip install '{package}')")


def test_s3_without_the_amazon_provider_names_it() -> None:
    """The Amazon provider is installed here: a process where its s3 filesystem cannot be imported
    stands for a worker without it."""
    script = """
import os, sys
sys.modules["airflow.providers.amazon.aws.fs.s3"] = None  # as if the provider were not installed
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
with Simulator() as sim:
    os.environ.update(connection_env(sim))
    job = sim.create_job("pdfco")["job_id"]
    get = DownloadJobResultOperator(task_id="get", conn_id="pdfco_default", job_id=job, destination="s3://b/out/")
    try:
        get.execute(context={})
    except Exception as exc:
        print(type(exc).__name__, exc.args[0].replace(job, "<job>"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    said = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    # the middle quotes Airflow's own words, which differ between its lines
    assert said.startswith(
        "AirflowFailException PDF.co job '<job>': destination 's3://b/out/' cannot be opened: no object "
        "storage for s3:// is installed ("
    ), said
    assert said.endswith(
        "); install apache-airflow-providers-amazon[s3fs] where the task runs (pip install "
        "'apache-airflow-providers-amazon[s3fs]')"
    ), said


# -- connections -----------------------------------------------------------------------------------
@pytest.mark.skipif(
    not AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA,
    reason="Airflow 3.1 itself reports such a connection as not defined",
)
def test_extra_that_is_not_json_names_the_position(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "pdfco", "password": "k", "extra": "{timeout: 30}"}
    monkeypatch.setenv("AIRFLOW_CONN_PDFCO_BADEXTRA", json.dumps(conn))
    sensor = JobStatusSensor(task_id="wait", conn_id="pdfco_badextra", job_id="J1", deferrable=False)
    with pytest.raises(AirflowFailException) as info:
        sensor.execute(context={})
    assert str(info.value) == (
        "PDF.co: connection 'pdfco_badextra': field 'extra' is not valid JSON: Expecting property name "
        "enclosed in double quotes at line 1, column 2 (character 1); write it as a JSON object, e.g. "
        '{"timeout": 30}'
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_unreachable_proxy_is_named(
    mode: str, jobstatus_simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://user:proxy-secret@127.0.0.1:{closed_port()}"
    conn_id = f"proxied_{uuid.uuid4().hex[:8]}"
    conn = {
        "conn_type": "pdfco",
        "host": jobstatus_simulator.base_url("pdfco"),
        "password": "sim-pdfco-key",
        "extra": {"proxy": proxy},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    hook = PdfCoHook(conn_id, retries=0, backoff=0.01, max_backoff=0.02)
    with pytest.raises(TransientVendorError) as info:
        if mode == "sync":
            hook.get_job_status("J1")
        else:

            async def ask() -> None:
                async with hook:
                    await hook.aget_job_status("J1")

            asyncio.run(ask())
    text = str(info.value)
    port = proxy.rsplit(":", 1)[1]
    assert f"the proxy http://127.0.0.1:{port} refused or could not be reached" in text, text
    assert "proxy-secret" not in text and "user" not in text
    assert info.value.sent is False


def test_configuration_error_is_not_transient() -> None:
    assert ConfigurationError("PDF.co", None, "x").transient is False


# -- default_deferrable ----------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [(None, True), ("false", False), ("true", True)])
def test_default_deferrable_from_the_environment(value: str | None, expected: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"}
    if value is not None:
        env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] = value
    script = (
        "from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor\n"
        "from airflow_provider_jobstatus.operators.run import PdfCoRunJobOperator\n"
        "s = JobStatusSensor(task_id='s', conn_id='c', job_id='j')\n"
        "r = PdfCoRunJobOperator(task_id='r', conn_id='c', endpoint='/e', payload={})\n"
        "print(s.deferrable, r.deferrable)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.split()[-2:] == [str(expected)] * 2, done.stdout + done.stderr[-2000:]
