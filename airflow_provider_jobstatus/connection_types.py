"""What Airflow's connection form shows for each vendor, made from the vendor registry: read by
provider info (Airflow 3.2+) and by the hooks (Airflow < 3.2)."""

from __future__ import annotations

from typing import Any

from airflow_provider_jobstatus.vendors import VENDORS, VendorApi

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


def connection_type(api: VendorApi) -> dict[str, Any]:
    """Provider info's entry for one vendor's connection type, made from its declaration."""
    form = api.form
    login = api.needs_login or form.optional_login
    hidden = ["schema", "port"] + ([] if login else ["login"])
    relabel = {"host": "API base URL", "password": form.password_label}
    placeholders = {
        "host": form.host_placeholder or api.default_base_url or "https://",
        "password": form.password_placeholder,
    }
    if login:
        relabel["login"] = form.login_label
        placeholders["login"] = f"{form.login_label} from the vendor's console"
    return {
        "connection-type": api.name,
        "hook-class-name": f"airflow_provider_jobstatus.hooks.{api.hook_class_name}",
        "hook-name": api.hook_name,
        "ui-field-behaviour": {"hidden-fields": hidden, "relabeling": relabel, "placeholders": placeholders},
        "conn-fields": {**form.fields, **_CLIENT_FIELDS},
    }


def provider_connection_types() -> list[dict[str, Any]]:
    """Every registered vendor's connection type."""
    return [connection_type(api) for api in VENDORS.values()]
