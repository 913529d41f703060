"""Task arguments: the defaults read from Airflow's configuration, and what a rendered argument must
be (checked when the task runs, before any request, so a mistake fails the task at once, without a
retry that cannot fix it, naming the task and the argument)."""

from __future__ import annotations

import os
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException, conf

#: the variable that sets ``[operators] default_deferrable``
DEFAULT_DEFERRABLE_ENV = "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` where the user has set it, else True (these tasks are made
    for the triggerer). Only its environment variable can be told from Airflow's own default
    (false): Airflow writes ``default_deferrable = false`` into every airflow.cfg it generates."""
    if DEFAULT_DEFERRABLE_ENV not in os.environ:
        return True
    return bool(conf.getboolean("operators", "default_deferrable", fallback=True))


#: how much of a wrong value a message quotes
_SHOWN = 120
_HINTS = {
    "job_id": '. After a run operator, pull its id with ti.xcom_pull(task_ids="<run task>", key="job_id") '
    "(the run task's return value is a dict)",
}


def require_id(task: Any, argument: str, value: Any) -> None:
    """Fail the task at once unless ``value`` can be a vendor id. Vendor ids are short tokens, so a value that
    is empty, not text, ``None`` or a rendered dict or list (``{'vendor': ...}``) is a mistake: most
    often the run operator's return value pulled instead of its ``job_id`` XCom."""
    text = value.strip() if isinstance(value, str) else None
    if text and text != "None" and text[0] not in "{[(":
        return
    shown = repr(value)
    shown = shown if len(shown) <= _SHOWN else f"{shown[:_SHOWN]}…"
    raise AirflowFailException(
        f"{type(task).__name__} {task.task_id!r}: argument {argument!r} rendered to {shown} "
        f"({type(value).__name__}), which is not a {argument.replace('_', ' ')}: it must be a non-empty "
        f"string{_HINTS.get(argument, '')}"
    )
