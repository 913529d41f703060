"""The secret values a simulator run puts in play, for tests that search outputs for leaks."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator

SIGNATURE = re.compile(r"X-Sim-Signature=([0-9a-f]+)")


class Secrets:
    """Every secret value in play; :meth:`found_in` says which of them a text contains."""

    def __init__(self, sim: Simulator) -> None:
        self.values: dict[str, str] = {}
        for vendor, creds in sim.credentials.items():
            for field in ("api_key", "client_secret"):
                if field in creds:
                    self.add(f"{vendor}.{field}", creds[field])
            if "client_id" in creds:
                basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
                self.add(f"{vendor}.basic", basic)
        self.tokens: list[str] = []
        self.signatures: list[str] = []

    def add(self, name: str, value: str) -> None:
        self.values[name] = value

    def token(self, token: str) -> None:
        self.tokens.append(token)
        self.add(f"token{len(self.tokens)}", token)

    def signed(self, url: str) -> None:
        for sig in SIGNATURE.findall(url):
            self.signatures.append(sig)
            self.add(f"signature{len(self.signatures)}", sig)

    def found_in(self, text: str) -> list[str]:
        return sorted(name for name, value in self.values.items() if value and value in text)


def capture_secrets(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Secrets:
    """The simulator's credentials, plus every token and signed URL it hands out from now on."""
    found = Secrets(sim)
    state = sim.state
    issue, sign = state.issue_token, state.signed_url

    def issue_token(vendor: str) -> tuple[str, float]:
        token, ttl = issue(vendor)
        found.token(token)
        return token, ttl

    def signed_url(rf: Any, expires: int) -> str:
        url = sign(rf, expires)
        found.signed(url)
        return url

    monkeypatch.setattr(state, "issue_token", issue_token)
    monkeypatch.setattr(state, "signed_url", signed_url)
    return found
