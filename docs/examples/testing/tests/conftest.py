"""Airflow runs a DAG only with a home that has a database: make one in a temporary folder, once
per test session, before anything imports Airflow (it reads AIRFLOW_HOME when first imported)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

# [START airflow_home]
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
migrated = subprocess.run(
    [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
)
assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
sys.path.insert(0, str(PROJECT / "dags"))  # import the DAG files as Airflow's DAG processor would
# [END airflow_home]
