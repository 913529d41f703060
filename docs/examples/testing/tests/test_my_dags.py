"""The user's DAGs run with ``dag.test()`` against the vendor simulator (the ``jobstatus_simulator``
fixture points ``pdfco_default`` and the other default connections at it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from airflow_provider_jobstatus.testing.simulator import Simulator


# [START run_and_download]
def test_the_result_is_downloaded(jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    from my_pipeline import dag

    # the job the DAG starts succeeds after two status answers, with one result of 2,048 bytes
    jobstatus_simulator.plan_starts("pdfco", {"outcome": "succeeded", "polls": 2, "result_bytes": 2048})
    run = dag.test(run_conf={"output_root": str(tmp_path)})

    assert run.state == "success"
    (written,) = tmp_path.iterdir()
    assert written.stat().st_size == 2048
    job_id = run.get_task_instance("run").xcom_pull(task_ids="run", key="job_id")
    assert hashlib.sha256(written.read_bytes()).hexdigest() == jobstatus_simulator.job(job_id)["sha256"]
    # [END run_and_download]


# [START failure]
def test_a_failed_job_fails_the_run(jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    from my_pipeline import dag

    jobstatus_simulator.plan_starts("pdfco", {"outcome": "failed", "polls": 1})
    jobstatus_simulator.set_faults("pdfco", seed=1, rate_429=0.2, retry_after=0)  # and a bumpy API
    run = dag.test(run_conf={"output_root": str(tmp_path)})

    assert run.state == "failed"
    assert run.get_task_instance("run").state == "failed"
    assert list(tmp_path.iterdir()) == []  # nothing downloaded
    # [END failure]


# [START reset]
def test_the_next_test_starts_clean(jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    """The fixture cleared the faults and start plans the test before left: the default job
    (succeeds after two polls) and no faults."""
    from my_pipeline import dag

    assert jobstatus_simulator.starts()["queued"]["pdfco"] == 0
    assert httpx.get(f"{jobstatus_simulator.url}/_sim/faults").json() == {"faults": {}}
    assert dag.test(run_conf={"output_root": str(tmp_path)}).state == "success"
    # [END reset]


# [START batch]
def test_a_batch_made_over_http_is_listed(jobstatus_simulator: Simulator) -> None:
    from my_batch import dag

    # the control API's documented call: 250 jobs, done at once, listed 100 a page
    made = httpx.post(f"{jobstatus_simulator.url}/_sim/batches", json={"jobs": 250}).json()
    run = dag.test(run_conf={"batch_id": made["batch_id"]})

    assert run.state == "success"
    rows = run.get_task_instance("jobs").xcom_pull(task_ids="jobs")
    assert [row["id"] for row in rows] == made["job_ids"]
    assert run.get_task_instance("count").xcom_pull(task_ids="count") == 250
    # [END batch]
