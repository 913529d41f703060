"""What Airflow's connection form shows for one connection type, as its vendor module declares it.

Plain data (no Airflow): provider info turns it into Airflow's ``ui-field-behaviour`` and
``conn-fields``, and the hooks of Airflow < 3.2 read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConnectionForm:
    """The form of one vendor's connection type. The form hides ``login`` unless the vendor
    ``needs_login``; ``host`` shows the vendor's public URL as its placeholder."""

    #: the type's name in the form's list (the vendor's display name when None)
    title: str | None = None
    #: what ``password`` holds, and its placeholder
    password_label: str = "API key"
    password_placeholder: str = "API key"
    #: what ``login`` holds, for vendors that need a login
    login_label: str = "Client ID"
    #: show ``login`` although the vendor does not need it (a declared API's basic auth may)
    optional_login: bool = False
    #: the host placeholder for vendors without a public URL (self-hosted servers)
    host_placeholder: str | None = None
    #: extras the vendor reads, besides the client settings every connection has:
    #: name -> Airflow's conn-field (``label``, ``description``, ``schema``)
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def text_field(label: str, description: str, **schema: Any) -> dict[str, Any]:
    """A conn-field holding optional text (``default``, ``minLength``, ... go to its schema)."""
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], **schema}}
