"""Workaround: Airflow 3.2+ does not set up the Task SDK's ``Stats`` in the triggerer.

Providers send metrics through ``airflow.providers.common.compat.sdk.Stats``, the Task SDK's copy
of the metrics module. The task runner initializes that copy from ``[metrics]``; the triggerer
initializes only airflow-core's copy (``airflow._shared``), so in its trigger runner every
provider metric goes to a ``NoStatsLogger`` (seen on 3.3.2; no upstream issue known yet). Here
the SDK's copy is initialized the way the task runner does it, once per process and only when
nobody did. Delete this module when the triggerer initializes the SDK's ``Stats`` itself.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_done = False


def ensure_sdk_stats() -> None:
    global _done
    if _done:
        return
    _done = True
    try:
        from airflow.sdk._shared.observability.metrics import stats as sdk_stats
        from airflow.sdk.configuration import conf
        from airflow.sdk.observability.metrics import stats_utils
    except ImportError:  # Airflow < 3.2: one Stats for core and providers
        return
    if getattr(sdk_stats, "_factory", True) is not None:
        return  # initialized (the task runner), or a layout this workaround does not know
    try:
        sdk_stats.initialize(
            factory=stats_utils.get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )
    except Exception:  # metrics never stop the provider
        log.debug("could not initialize the Task SDK's Stats", exc_info=True)
