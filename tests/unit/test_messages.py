"""What messages call things: the vendor's display name (never the connection type), "batch" for
a batch id."""

from __future__ import annotations

import pytest

from airflow_provider_jobstatus.errors import TransientVendorError, about_batch
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.triggers.events import timeout_event
from airflow_provider_jobstatus.vendors import VENDORS, describe_status


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_status_is_described_with_the_display_name(vendor: str) -> None:
    status = JobStatus(vendor=vendor, job_id="j1", state=JobState.RUNNING, raw_status="x", message="m")
    name = VENDORS[vendor].display_name
    assert describe_status(status) == f"{name} job 'j1' is running (vendor status 'x'): m"
    seen = timeout_event("timeout", name, "j1", status)["message"]
    assert seen == f"{name} job 'j1': the task's timeout was reached; last seen: {describe_status(status)}"
    if name.lower() != vendor:
        assert f"{vendor} job" not in seen


def test_errors_about_a_batch_say_batch() -> None:
    with pytest.raises(TransientVendorError) as err, about_batch():
        raise TransientVendorError("Playment", "b1", "HTTP 503", status_code=503)
    assert str(err.value) == "Playment batch 'b1': HTTP 503"
    assert err.value.args == ("Playment batch 'b1': HTTP 503",) and err.value.transient
