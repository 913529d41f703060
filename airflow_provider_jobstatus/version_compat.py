"""Which Airflow line runs the provider. Airflow asks each provider to keep its own copy of these
checks instead of importing another provider's: apache-airflow-providers-common-compat 1.14, what
Airflow 3.1.8's constraints file installs, has no ``AIRFLOW_V_3_3_PLUS``."""

from __future__ import annotations


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """(major, minor, micro) of the running Airflow, pre-release and local parts dropped."""
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)
#: ``start_from_trigger`` works from here on
AIRFLOW_V_3_3_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 0)
#: a trigger's task-failed event goes through the task's retries from here on (apache/airflow#69821)
AIRFLOW_V_3_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 1)
