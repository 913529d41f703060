"""Airflow provider for waiting on asynchronous jobs at outside services."""
