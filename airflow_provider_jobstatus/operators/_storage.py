"""Where results land: a local path or any Airflow object storage URL, never half-written.

Bytes go to a temporary name beside the target (on S3: an uncommitted multipart upload) and reach
the final name only once the download is complete and verified, so no reader ever sees a partial
file there.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol
from urllib.parse import unquote, urlsplit

Overwrite = Literal["replace", "skip", "fail"]

#: Bytes per read and write: big enough for throughput, small enough that memory stays flat.
CHUNK = 1024 * 1024


class Target(Protocol):
    """One place to write one result."""

    def exists(self) -> bool: ...
    def describe(self) -> str: ...
    def open_read(self) -> BinaryIO: ...
    def writing(self) -> AbstractContextManager[BinaryIO]:
        """A stream for the new content. Raise inside the block to abandon it (nothing of it is
        left anywhere); a clean exit puts it under the final name in one step."""
        ...


_TEMP_MARK = ".part-"


def _temp_name(name: str) -> str:
    """Hidden and unique, so concurrent tasks and globbing readers skip it."""
    return f".{name}{_TEMP_MARK}{uuid.uuid4().hex[:12]}"


@dataclass
class LocalTarget:
    path: Path

    def exists(self) -> bool:
        return self.path.exists()

    def describe(self) -> str:
        return str(self.path)

    def open_read(self) -> BinaryIO:
        return open(self.path, "rb")

    @contextmanager
    def writing(self) -> Iterator[BinaryIO]:
        """A temporary name beside the target, flushed to disk before the rename, so a crash never
        leaves an empty file under the final name."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(_temp_name(self.path.name))
        try:
            with open(temp, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


#: Object stores whose fsspec files honour ``autocommit=False`` (tested against a real S3 API): the
#: object appears only on ``commit()`` (S3: CompleteMultipartUpload), ``discard()`` aborts the upload.
_TRANSACTIONAL_PROTOCOLS = frozenset({"s3", "s3a"})


@dataclass
class ObjectTarget:
    """S3 writes the final key as a multipart upload completed only once the bytes are verified
    (no copy, no temporary object). Other stores have no such upload: they get a temporary key,
    moved under the final key when verified (a server-side copy) and deleted on any failure."""

    path: Any  # airflow.sdk.ObjectStoragePath
    #: the URL in the form the destination was written (ObjectStoragePath's own string differs
    #: between Airflow lines, and carries the ``conn_id@``)
    url: str

    def exists(self) -> bool:
        return bool(self.path.exists())

    def describe(self) -> str:
        return self.url

    def open_read(self) -> BinaryIO:
        return self.path.open("rb")  # type: ignore[no-any-return]

    def writing(self) -> AbstractContextManager[BinaryIO]:
        protocol = self.path.fs.protocol
        protocols = {protocol} if isinstance(protocol, str) else set(protocol)
        if protocols & _TRANSACTIONAL_PROTOCOLS:
            return self._uncommitted_upload()
        return self._temporary_key()

    @contextmanager
    def _uncommitted_upload(self) -> Iterator[BinaryIO]:
        out = self.path.open("wb", autocommit=False)
        try:
            yield out
            out.close()  # uploads the last part; with autocommit=False nothing is visible yet
            out.commit()
        except BaseException:
            with suppress(Exception):  # the upload may be what failed: abort it all the same
                out.close()
            out.discard()  # aborts the multipart upload: no orphan parts
            raise

    @contextmanager
    def _temporary_key(self) -> Iterator[BinaryIO]:
        temp = self.path.parent / _temp_name(self.path.name)
        try:
            with temp.open("wb") as out:
                yield out
            temp.fs.mv(temp.path, self.path.path)
        except BaseException:
            with suppress(OSError):
                if temp.exists():
                    temp.unlink()
            raise


def is_local(destination: str) -> bool:
    scheme = urlsplit(destination).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


#: the provider each object storage scheme comes with (Airflow's object storage finds its
#: filesystem there); the extras name what the filesystem itself needs
STORAGE_PROVIDERS = {
    "s3": "apache-airflow-providers-amazon[s3fs]",
    "s3a": "apache-airflow-providers-amazon[s3fs]",
    "s3n": "apache-airflow-providers-amazon[s3fs]",
    "gs": "apache-airflow-providers-google",
    "gcs": "apache-airflow-providers-google",
    "abfs": "apache-airflow-providers-microsoft-azure",
    "abfss": "apache-airflow-providers-microsoft-azure",
    "adl": "apache-airflow-providers-microsoft-azure",
    "az": "apache-airflow-providers-microsoft-azure",
    "wasb": "apache-airflow-providers-microsoft-azure",
}

#: the rule ``targets_for`` applies, as error messages state it
DESTINATION_RULE = (
    "a folder ends with '/' (or already exists as a folder); a file has an extension in its last "
    "part (report.pdf)"
)


def targets_for(destination: str, names: list[str], conn_id: str | None) -> list[Target]:
    """One target per result. A destination ending in ``/`` (or an existing folder) is a folder
    holding each result under its name (one segment from ``safe_file_name``); one whose last part
    has an extension is the file for a single result; anything else is refused (ValueError): a
    silent guess would write a file named like the folder that was meant."""
    if is_local(destination):
        raw = unquote(urlsplit(destination).path) if destination.startswith("file:") else destination
        root = Path(raw).expanduser().absolute()
        if destination.endswith(("/", os.sep)) or root.is_dir():
            return [LocalTarget(root / name) for name in names]
        _single(destination, root.name, names)
        return [LocalTarget(root)]
    base = object_path(destination, conn_id)
    url = _plain_url(destination)
    if destination.endswith("/") or (base.exists() and base.is_dir()):
        folder = url if url.endswith("/") else f"{url}/"
        return [ObjectTarget(base / name, f"{folder}{name}") for name in names]
    _single(destination, url.rstrip("/").rsplit("/", 1)[-1], names)
    return [ObjectTarget(base, url)]


def object_path(destination: str, conn_id: str | None) -> Any:
    """Airflow's ObjectStoragePath for ``destination``, its filesystem loaded now: a scheme whose
    provider (or filesystem library) is not installed is a ValueError naming what to install."""
    from airflow.sdk import ObjectStoragePath

    try:
        path = ObjectStoragePath(destination, conn_id=conn_id)
        path.fs  # noqa: B018 (loads the scheme's filesystem)
    except (ImportError, ValueError) as exc:
        scheme = urlsplit(destination).scheme.lower()
        package = STORAGE_PROVIDERS.get(scheme)
        todo = (
            f"install {package} where the task runs (pip install '{package}')"
            if package
            else f"install the Airflow provider (or fsspec filesystem) for {scheme}:// where the task runs"
        )
        raise ValueError(
            f"{_plain_url(destination)!r} cannot be opened: no object storage for {scheme}:// is "
            f"installed ({type(exc).__name__}: {exc}); {todo}"
        ) from exc
    return path


def _plain_url(destination: str) -> str:
    """The destination without a ``conn_id@`` (not part of where objects are), query or fragment."""
    url = re.split(r"[?#]", destination, maxsplit=1)[0]
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", url)


def _single(destination: str, last_part: str, names: list[str]) -> None:
    if "." not in last_part.strip("."):
        raise ValueError(
            f"{destination!r} is ambiguous: {DESTINATION_RULE}. End it with '/' to write into a "
            "folder, or name the file with its extension"
        )
    if len(names) != 1:
        raise ValueError(
            f"{destination!r} is a single file but the job has {len(names)} results; "
            "end it with '/' to write them into a folder, or pick one with result="
        )


@dataclass(frozen=True)
class Written:
    """What one download left behind (returned to XCom)."""

    destination: str
    name: str
    bytes: int
    sha256: str
    content_type: str | None
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "name": self.name,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "skipped": self.skipped,
        }


def sha256_of_target(target: Target) -> tuple[int, str]:
    """Size and checksum of what already sits at a target (for overwrite='skip')."""
    digest = hashlib.sha256()
    size = 0
    with target.open_read() as stream:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def unwritable(what: str, destination: str, exc: OSError) -> str:
    """Why ``destination`` cannot be written and what to do about it, for the task's error."""
    why = exc.strerror or str(exc) or type(exc).__name__
    where = str(exc.filename or "")
    if _TEMP_MARK in os.path.basename(where):  # our temporary name: the folder is what to fix
        where = os.path.dirname(where)
    at = f" ({where})" if where else ""
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        todo = (
            "give the user the task runs as (on the worker) write access there, or choose another one"
            if is_local(destination)
            else "give the storage connection's credentials write access there, or choose another one"
        )
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        todo = "free space there, or choose another one"
    elif isinstance(exc, (NotADirectoryError, IsADirectoryError, FileExistsError)):
        todo = "a file or folder of that name is in the way: remove it, or choose another one"
    else:
        todo = "check that the destination exists and can be written from the worker"
    return f"{what} {destination!r} cannot be written: {why}{at}; {todo} (no partly written file is left)"
