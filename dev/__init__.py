"""Tools only this repository uses (not shipped in the wheel): the local-Airflow runner behind
the e2e tests, ``make demo``, the production drill (``make drill``) and the real-triggerer
benchmarks. Run them from a checkout."""
