"""Settings every test process (and every Airflow process a test starts) inherits."""

from __future__ import annotations

import os

# The floor under a wait's pauses is 1 s in production; the tests script vendors that answer in
# tens of milliseconds. Tests of the floor itself set it back.
os.environ.setdefault("AIRFLOW__JOBSTATUS__MIN_POLL_INTERVAL", "0.01")
