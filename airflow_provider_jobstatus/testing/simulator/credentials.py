"""The credentials the simulator accepts: each vendor's defaults (its ``SimVendor.credentials``),
which ``Simulator(credentials=...)`` overrides field by field."""

from __future__ import annotations

from collections.abc import Mapping

from .catalog import VendorFacts

#: vendor -> its default credential fields. Token vendors (Nitro, Alteryx) have ``client_id`` and
#: ``client_secret``; key vendors have ``api_key``; other fields are connection extras.
DEFAULT_CREDENTIALS: Mapping[str, Mapping[str, str]] = VendorFacts(lambda sim: sim.credentials)


def merge_credentials(
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """The defaults, with the fields given in ``overrides`` (per vendor) replaced."""
    merged = {vendor: dict(fields) for vendor, fields in DEFAULT_CREDENTIALS.items()}
    for vendor, fields in (overrides or {}).items():
        if vendor not in merged:
            raise ValueError(f"unknown vendor {vendor!r} in credentials; known: {sorted(merged)}")
        unknown = set(fields) - set(merged[vendor])
        if unknown:
            raise ValueError(f"unknown credential fields for {vendor}: {sorted(unknown)}")
        merged[vendor].update({k: str(v) for k, v in fields.items()})
    return merged
