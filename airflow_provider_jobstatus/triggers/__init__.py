"""Triggers run by Airflow's triggerer."""
