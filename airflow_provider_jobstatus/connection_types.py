"""What Airflow's connection form shows for each vendor: one table, read by provider info and hooks."""

from __future__ import annotations

from typing import Any

_TIMEOUT_FIELD = {
    "label": "HTTP timeout (seconds)",
    "description": "Per-request timeout for status and download calls.",
    "schema": {"type": ["number", "null"], "minimum": 1, "default": 30},
}


#: The HTTP client settings every vendor's connection takes, alike on the sync and async paths.
_CLIENT_FIELDS: dict[str, Any] = {
    "timeout": _TIMEOUT_FIELD,
    "verify": {
        "label": "Verify TLS",
        "description": "true (default), false (not recommended), or the path of a CA bundle that "
        "replaces the default trust store for this connection's own host.",
        "schema": {"type": ["string", "null"], "default": "true"},
    },
    "cert": {
        "label": "Client certificate",
        "description": "Path of a PEM client certificate for mutual TLS (on every worker and triggerer).",
        "schema": {"type": ["string", "null"]},
    },
    "key": {
        "label": "Client certificate key",
        "description": "Path of the certificate's private key, when it is not in the certificate file.",
        "schema": {"type": ["string", "null"]},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": "http(s)://[user:password@]host:port for every request of this connection.",
        "schema": {"type": ["string", "null"]},
    },
    "trust_env": {
        "label": "Use proxy and CA environment variables",
        "description": "Honour HTTP_PROXY, HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE and SSL_CERT_DIR.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
}


def _ui(host_placeholder: str, login: str | None, password: str, password_hint: str) -> dict[str, Any]:
    hidden = ["schema", "port"] + ([] if login else ["login"])
    relabel = {"host": "API base URL", "password": password}
    placeholders = {"host": host_placeholder, "password": password_hint}
    if login:
        relabel["login"] = login
        placeholders["login"] = f"{login} from the vendor's console"
    return {"hidden-fields": hidden, "relabeling": relabel, "placeholders": placeholders}


CONNECTION_TYPES: dict[str, dict[str, Any]] = {
    "nitro": {
        "hook-class-name": "airflow_provider_jobstatus.hooks.nitro.NitroHook",
        "hook-name": "Nitro PDF Services",
        "ui-field-behaviour": _ui("https://api.gonitro.dev", "Client ID", "Client secret", "clientSecret"),
        "conn-fields": _CLIENT_FIELDS,
    },
    "pdfco": {
        "hook-class-name": "airflow_provider_jobstatus.hooks.pdfco.PdfCoHook",
        "hook-name": "PDF.co",
        "ui-field-behaviour": _ui(
            "https://api.pdf.co", None, "API key", "x-api-key from the PDF.co dashboard"
        ),
        "conn-fields": _CLIENT_FIELDS,
    },
    "alteryx": {
        "hook-class-name": "airflow_provider_jobstatus.hooks.alteryx.AlteryxHook",
        "hook-name": "Alteryx Server",
        "ui-field-behaviour": _ui(
            "https://alteryx.example.com/webapi", "API access key", "API access secret", "API access secret"
        ),
        "conn-fields": _CLIENT_FIELDS,
    },
    "apidatatools": {
        "hook-class-name": "airflow_provider_jobstatus.hooks.apidatatools.ApiDataToolsHook",
        "hook-name": "APIDataTools",
        "ui-field-behaviour": _ui("https://api.apidatatools.com", None, "API key", "x-api-key"),
        "conn-fields": {
            "status_path": {
                "label": "Status path",
                "description": "Path of the job status endpoint; {job_id} is replaced by the job id.",
                "schema": {"type": ["string", "null"], "default": "/jobs/{job_id}"},
            },
            **_CLIENT_FIELDS,
        },
    },
    "playment": {
        "hook-class-name": "airflow_provider_jobstatus.hooks.playment.PlaymentHook",
        "hook-name": "Playment (GT Studio)",
        "ui-field-behaviour": _ui(
            "https://api.playment.io", None, "API key", "x-api-key from the GT Studio dashboard"
        ),
        "conn-fields": {
            "project_id": {
                "label": "Project ID",
                "description": "The GT Studio project the jobs belong to.",
                "schema": {"type": ["string", "null"], "minLength": 1},
            },
            **_CLIENT_FIELDS,
        },
    },
    "jobapi": {
        "hook-class-name": "airflow_provider_jobstatus.hooks.jobapi.JobApiHook",
        "hook-name": "Job API (declared)",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": "API base URL", "login": "User name or client id", "password": "Secret"},
            "placeholders": {
                "host": "https://api.example.com",
                "login": "only for auth scheme 'basic'",
                "password": "the API key or token",
                "extra": '{"profile": {"name": "...", "auth": {...}, "status": {...}}}',
            },
        },
        "conn-fields": _CLIENT_FIELDS,
    },
}


def provider_connection_types() -> list[dict[str, Any]]:
    return [{"connection-type": name, **spec} for name, spec in CONNECTION_TYPES.items()]
