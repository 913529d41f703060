# Point Airflow's default connections at a simulator started with --port 8700 (in the shell that
# runs Airflow). The simulator's command line prints these lines for its own port;
# tests/docs/test_examples.py checks that they are what it prints.
export AIRFLOW_CONN_ALTERYX_DEFAULT='{"conn_type": "alteryx", "host": "http://127.0.0.1:8700/alteryx/webapi", "login": "sim-alteryx-client", "password": "sim-alteryx-secret"}'
export AIRFLOW_CONN_APIDATATOOLS_DEFAULT='{"conn_type": "apidatatools", "host": "http://127.0.0.1:8700/apidatatools", "password": "sim-apidatatools-key"}'
export AIRFLOW_CONN_NITRO_DEFAULT='{"conn_type": "nitro", "host": "http://127.0.0.1:8700/nitro", "login": "sim-nitro-client", "password": "sim-nitro-secret"}'
export AIRFLOW_CONN_PDFCO_DEFAULT='{"conn_type": "pdfco", "host": "http://127.0.0.1:8700/pdfco", "password": "sim-pdfco-key"}'
export AIRFLOW_CONN_PLAYMENT_DEFAULT='{"conn_type": "playment", "host": "http://127.0.0.1:8700/playment", "password": "sim-playment-key", "extra": {"project_id": "sim-project"}}'
