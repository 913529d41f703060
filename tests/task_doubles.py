"""What tasks use of Airflow's task instance and task state store, for tests that run a task's
``execute`` outside a worker."""

from __future__ import annotations

import json
from typing import Any


class FakeTI:
    """XCom pushes, in order, and the run of tries (``max_tries``: Airflow's retries keep it, a
    Clear raises it; ``try_number``: reschedules keep it)."""

    def __init__(self, max_tries: int = 1, try_number: int = 1) -> None:
        self.pushed: list[tuple[str, Any]] = []
        self.max_tries = max_tries
        self.try_number = try_number

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed.append((key, value))


class FakeStore:
    """Airflow 3.3's task state store as a task sees it (get/set/delete), values kept as JSON."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
