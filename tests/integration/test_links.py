"""The "Job at vendor" extra link: declared by the run operators and the sensor, built on the worker
from what is known before the task defers (the ``job_id`` XCom, or the sensor's argument) and the
connection; empty where the vendor has no page for a job (none of the five built in has one)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_jobstatus.operators import links
from airflow_provider_jobstatus.operators.links import JobAtVendorLink, job_page
from airflow_provider_jobstatus.operators.run import PdfCoRunJobOperator, RunJobOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.vendors import pdfco

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]


def test_run_operators_and_the_sensor_declare_the_link() -> None:
    for cls in (RunJobOperator, PdfCoRunJobOperator, JobStatusSensor):
        assert [link.name for link in cls.operator_extra_links] == ["Job at vendor"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_page_for_the_built_in_vendors(vendor: str, jobstatus_simulator: Simulator) -> None:
    job = jobstatus_simulator.create_job(vendor)
    assert job_page(f"{vendor}_default", job["job_id"]) is None


class _XCom:
    """Stands for Airflow's XCom store as a worker sees it when the try defers."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get_value(self, *, ti_key: Any, key: str) -> Any:
        return self.values.get(key)


@pytest.fixture
def vendor_with_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A vendor that has a page per job (as a declared API's profile ``job_url`` gives one)."""
    monkeypatch.setattr(
        pdfco.PdfCoApi, "job_url", lambda self, base, job_id: f"{base}/app/jobs/{job_id}", raising=False
    )


def test_the_link_comes_from_the_job_id_xcom_and_the_connection(
    jobstatus_simulator: Simulator, vendor_with_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(links, "XCom", _XCom({"job_id": "J-run"}))
    run = PdfCoRunJobOperator(task_id="run", conn_id="pdfco_default", endpoint="/e", payload={})
    url = JobAtVendorLink().get_link(run, ti_key=None)
    assert url == f"{jobstatus_simulator.base_url('pdfco')}/app/jobs/J-run"


def test_the_sensor_link_comes_from_its_job_id(
    jobstatus_simulator: Simulator, vendor_with_pages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(links, "XCom", _XCom({}))
    sensor = JobStatusSensor(task_id="wait", conn_id="pdfco_default", job_id="J-sensor")
    assert JobAtVendorLink().get_link(sensor, ti_key=None).endswith("/app/jobs/J-sensor")


def test_no_link_rather_than_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "XCom", _XCom({"job_id": "J1"}))
    sensor = JobStatusSensor(task_id="wait", conn_id="no_such_connection", job_id="J1")
    assert JobAtVendorLink().get_link(sensor, ti_key=None) == ""
