# Proxy and TLS settings of a connection (extras), as environment variables.
# tests/docs/test_examples.py reads every connection below with Airflow and the provider's hooks.
# [START proxy]
export AIRFLOW_CONN_PDFCO_DEFAULT='{"conn_type": "pdfco", "password": "<x-api-key>", "extra": {"proxy": "http://svc-airflow:<password>@proxy.corp.example:3128"}}'
# [END proxy]
# [START env_proxy]
export HTTPS_PROXY=http://proxy.corp.example:3128 HTTP_PROXY=http://proxy.corp.example:3128
export NO_PROXY=alteryx.corp.example,.internal
# [END env_proxy]
# [START private_ca]
export AIRFLOW_CONN_ALTERYX_DEFAULT='{"conn_type": "alteryx", "host": "https://alteryx.corp.example/webapi", "login": "<API access key>", "password": "<API access secret>", "extra": {"verify": "/etc/ssl/corp/root-ca.pem"}}'
# [END private_ca]
# [START no_verify]
export AIRFLOW_CONN_ALTERYX_TEST='{"conn_type": "alteryx", "host": "https://alteryx-test.example/webapi", "login": "<key>", "password": "<secret>", "extra": {"verify": false}}'
# [END no_verify]
# [START mtls]
export AIRFLOW_CONN_ALTERYX_DEFAULT='{"conn_type": "alteryx", "host": "https://alteryx.corp.example/webapi", "login": "<API access key>", "password": "<API access secret>", "extra": {"cert": "/opt/airflow/tls/client.crt", "key": "/opt/airflow/tls/client.key", "verify": "/etc/ssl/corp/root-ca.pem"}}'
# [END mtls]
