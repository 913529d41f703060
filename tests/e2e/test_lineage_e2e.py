"""OpenLineage in a real Airflow run: `airflow dags test` with the OpenLineage provider's file
transport; the download task's COMPLETE event names the vendor job and the file it wrote."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.e2e.conftest import AirflowEnv

pytestmark = pytest.mark.e2e

DAG = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator

with DAG("e2e_lineage", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    DownloadJobResultOperator(
        task_id="get",
        conn_id="pdfco_default",
        job_id="{{ dag_run.conf['job_id'] }}",
        destination="{{ dag_run.conf['destination'] }}",
    )
"""


def test_the_complete_event_carries_the_job_and_the_file(
    airflow_env: AirflowEnv, jobstatus_simulator: Simulator, tmp_path: Path
) -> None:
    dags, events, out = tmp_path / "dags", tmp_path / "events.jsonl", tmp_path / "out"
    dags.mkdir()
    (dags / "e2e_lineage.py").write_text(textwrap.dedent(DAG))
    job = jobstatus_simulator.create_job("pdfco", result_bytes=4_096)
    conf = {"job_id": job["job_id"], "destination": f"{out}/"}
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    proc = airflow_env.run(
        "dags",
        "test",
        "e2e_lineage",
        "-c",
        json.dumps(conf),
        dags_folder=dags,
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport),
        AIRFLOW__OPENLINEAGE__NAMESPACE="e2e",
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert airflow_env.task_states("e2e_lineage") == {"get": "success"}
    sent = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    complete = [e for e in sent if e.get("eventType") == "COMPLETE" and e["job"]["name"] == "e2e_lineage.get"]
    assert len(complete) == 1, [(e.get("eventType"), e["job"]["name"]) for e in sent]
    event = complete[0]
    base = urlsplit(jobstatus_simulator.base_url("pdfco"))
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        (f"{base.scheme}://{base.netloc}", f"jobs/{job['job_id']}")
    ]
    (output,) = event["outputs"]
    (name,) = [p.name for p in out.iterdir()]
    assert (output["namespace"], output["name"]) == ("file", str(out / name))
    assert output["outputFacets"]["outputStatistics"]["size"] == 4_096
