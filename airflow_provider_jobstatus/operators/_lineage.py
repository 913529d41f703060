"""OpenLineage for the operators: the vendor job (or batch) read as an input dataset, each file or
object written as an output dataset, named by OpenLineage's naming conventions.

Operators record plain :class:`DatasetRef` values while they run; the OpenLineage provider (when
installed: it is optional) asks ``get_openlineage_facets_on_complete`` for them afterwards, so
nothing here imports OpenLineage unless it is in use. Names carry no query string and no
credentials: the vendor namespace is the API's origin only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_jobstatus.hooks import JobStatusHook

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class DatasetRef:
    """One OpenLineage dataset; ``size`` (bytes) and ``rows`` are output statistics."""

    namespace: str
    name: str
    size: int | None = None
    rows: int | None = None


def vendor_namespace(base_url: str) -> str:
    """The API's origin (``https://api.pdf.co``): scheme, host and a non-default port; no user
    info, path or query."""
    parts = urlsplit(base_url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS.get(scheme) else "")


def vendor_job(hook: JobStatusHook, job_id: str) -> DatasetRef:
    return DatasetRef(vendor_namespace(hook.settings().base_url), f"jobs/{job_id}")


def vendor_batch(hook: JobStatusHook, batch_id: str) -> DatasetRef:
    return DatasetRef(vendor_namespace(hook.settings().base_url), f"batches/{batch_id}")


def stored(location: str, size: int | None = None, rows: int | None = None) -> DatasetRef:
    """A written file or object: ``file`` + absolute path for local files, ``<scheme>://<bucket>``
    + key for object storage (``s3://bucket``, ``gs://bucket``)."""
    parts = urlsplit(location)
    if parts.scheme in ("", "file") or len(parts.scheme) == 1:  # a path, a file: URL, C:\...
        path = unquote(parts.path) if parts.scheme == "file" else location
        return DatasetRef("file", str(Path(path).absolute()), size, rows)
    bucket = parts.netloc.rpartition("@")[2]  # ObjectStoragePath's conn_id@ is not the bucket's
    namespace = f"{parts.scheme}://{bucket}" if bucket else parts.scheme
    return DatasetRef(namespace, unquote(parts.path).lstrip("/") or "/", size, rows)


class ReportsLineage:
    """Mixin for operators: call :meth:`record_lineage` in ``execute`` (or ``execute_complete``);
    OpenLineage's default extractor then finds ``get_openlineage_facets_on_complete``."""

    _lineage_inputs: tuple[DatasetRef, ...] = ()
    _lineage_outputs: tuple[DatasetRef, ...] = ()

    def record_lineage(self, inputs: Iterable[DatasetRef], outputs: Iterable[DatasetRef] = ()) -> None:
        self._lineage_inputs = tuple(inputs)
        self._lineage_outputs = tuple(outputs)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """An ``OperatorLineage`` of what this run recorded (empty if it recorded nothing)."""
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        def output(ref: DatasetRef) -> Any:
            if ref.size is None and ref.rows is None:
                return OutputDataset(namespace=ref.namespace, name=ref.name)
            stats = OutputStatisticsOutputDatasetFacet(rowCount=ref.rows, size=ref.size)
            return OutputDataset(
                namespace=ref.namespace, name=ref.name, outputFacets={"outputStatistics": stats}
            )

        return OperatorLineage(
            inputs=[Dataset(namespace=ref.namespace, name=ref.name) for ref in self._lineage_inputs],
            outputs=[output(ref) for ref in self._lineage_outputs],
        )
