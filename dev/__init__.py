"""Tools only this repository uses (not shipped in the wheel): the local-Airflow runner behind
the e2e tests, ``make demo`` and the real-triggerer benchmark. Run them from a checkout."""
