"""Default credentials the simulator accepts (override them with ``Simulator(credentials=...)``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

NITRO_CLIENT_ID = "sim-nitro-client"
NITRO_CLIENT_SECRET = "sim-nitro-secret"
ALTERYX_CLIENT_ID = "sim-alteryx-client"
ALTERYX_CLIENT_SECRET = "sim-alteryx-secret"
PDFCO_API_KEY = "sim-pdfco-key"
APIDATATOOLS_API_KEY = "sim-apidatatools-key"
PLAYMENT_API_KEY = "sim-playment-key"
PLAYMENT_PROJECT_ID = "sim-project"
JOBAPI_LOGIN = "sim-jobapi-user"
JOBAPI_SECRET = "sim-jobapi-secret"

#: vendor -> its credential fields. Token vendors (Nitro, Alteryx) have ``client_id`` and
#: ``client_secret``; key vendors have ``api_key``; Playment also has ``project_id``; the
#: declared API has ``login`` and ``api_key`` (its profile's auth scheme says which it checks).
DEFAULT_CREDENTIALS: Mapping[str, Mapping[str, str]] = {
    "nitro": {"client_id": NITRO_CLIENT_ID, "client_secret": NITRO_CLIENT_SECRET},
    "pdfco": {"api_key": PDFCO_API_KEY},
    "alteryx": {"client_id": ALTERYX_CLIENT_ID, "client_secret": ALTERYX_CLIENT_SECRET},
    "apidatatools": {"api_key": APIDATATOOLS_API_KEY},
    "playment": {"api_key": PLAYMENT_API_KEY, "project_id": PLAYMENT_PROJECT_ID},
    "jobapi": {"login": JOBAPI_LOGIN, "api_key": JOBAPI_SECRET},
}


def merge_credentials(
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """The defaults, with the fields given in ``overrides`` (per vendor) replaced."""
    merged = {vendor: dict(fields) for vendor, fields in copy.deepcopy(dict(DEFAULT_CREDENTIALS)).items()}
    for vendor, fields in (overrides or {}).items():
        if vendor not in merged:
            raise ValueError(f"unknown vendor {vendor!r} in credentials; known: {sorted(merged)}")
        unknown = set(fields) - set(merged[vendor])
        if unknown:
            raise ValueError(f"unknown credential fields for {vendor}: {sorted(unknown)}")
        merged[vendor].update({k: str(v) for k, v in fields.items()})
    return merged
