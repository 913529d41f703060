# Airflow connections for the five vendors as environment variables (JSON form).
# tests/docs/test_examples.py reads every line below with Airflow and the provider's hooks.
export AIRFLOW_CONN_NITRO_DEFAULT='{"conn_type": "nitro", "login": "<clientID>", "password": "<clientSecret>"}'
export AIRFLOW_CONN_PDFCO_DEFAULT='{"conn_type": "pdfco", "password": "<x-api-key>"}'
export AIRFLOW_CONN_ALTERYX_DEFAULT='{"conn_type": "alteryx", "host": "https://alteryx.example.com/webapi", "login": "<API access key>", "password": "<API access secret>"}'
export AIRFLOW_CONN_APIDATATOOLS_DEFAULT='{"conn_type": "apidatatools", "password": "<x-api-key>"}'
export AIRFLOW_CONN_PLAYMENT_DEFAULT='{"conn_type": "playment", "password": "<x-api-key>", "extra": {"project_id": "<project uuid>"}}'
