"""Where uploaded files live: a small storage interface and its local-disk backend.

Keys are relative, slash-separated paths such as ``<account_id>/<uuid>.png``; the storage never
decides names itself. `get_storage()` returns the backend named by the ``STORAGE_BACKEND`` setting
(``local``, the default, stores under ``ASSETS_DIR``).

An S3-compatible backend (AWS S3, Cloudflare R2, MinIO, Backblaze B2...) implements the same
methods with boto3 against one bucket, the key being the object key:

- ``save(key, data)``   -> ``put_object(Bucket=..., Key=prefix + key, Body=data, ContentType=...)``
  (an object PUT is atomic: readers see the old object or the new one, never half of it);
- ``open(key)``         -> ``get_object(...)["Body"].read()``, turning ``NoSuchKey`` into
  ``FileNotFoundError``;
- ``delete(key)``       -> ``delete_object(...)`` (no error when the object is already gone);
- ``exists(key)``       -> ``head_object(...)``, ``False`` on a 404;
- ``path(key)``         -> ``None`` (there is no local file; callers then use ``open``).

It must call `check_key` on every key like `LocalStorage` does, and is selected with
``STORAGE_BACKEND=s3`` in `get_storage` (bucket, endpoint and credentials from the environment).
"""
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from flask import current_app

MAX_KEY_LENGTH = 200  # Asset.storage_key is a String(200)
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InvalidKey(ValueError):
    """A key that is not a plain relative path inside the storage (``..``, absolute, odd characters)."""


def check_key(key: str) -> str:
    """The key itself when it is a relative path of plain segments; InvalidKey otherwise.

    Refused: empty, absolute (``/x``, ``C:x``), backslashes, ``.`` or ``..`` segments, empty segments,
    segments starting with a dot or a dash, anything but letters, digits, ``.``, ``_`` and ``-``."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey("A storage key is a non-empty relative path of at most 200 characters.")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise InvalidKey(f"Not a valid storage key: {key!r}.")
    return key


class Storage(ABC):
    """The four operations the app needs from a file store (plus `path` when files are local)."""

    @abstractmethod
    def save(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there, atomically."""

    @abstractmethod
    def open(self, key: str) -> bytes:
        """The bytes stored under `key`; FileNotFoundError when there are none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens when it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""

    def path(self, key: str) -> Path | None:
        """The local file of `key`, for backends that have one (None otherwise)."""
        return None


class LocalStorage(Storage):
    """Files under a root folder on the local disk (``ASSETS_DIR``)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _file(self, key: str) -> Path:
        check_key(key)
        root = self.root.resolve()
        target = (root / key).resolve()
        # A symlink inside the root must not lead out of it either.
        if root not in target.parents:
            raise InvalidKey(f"Not a valid storage key: {key!r}.")
        return target

    def save(self, key: str, data: bytes) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file in the same folder, then rename it over the target: a reader sees the
        # old file or the whole new one, never a half-written one, even if the process dies mid-way.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> bytes:
        target = self._file(key)
        if not target.is_file():
            raise FileNotFoundError(key)
        return target.read_bytes()

    def delete(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._file(key).is_file()

    def path(self, key: str) -> Path | None:
        return self._file(key)


def get_storage() -> Storage:
    """The storage configured for this app (``STORAGE_BACKEND``, default ``local`` under ``ASSETS_DIR``)."""
    backend = (current_app.config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend == "local":
        return LocalStorage(current_app.config["ASSETS_DIR"])
    raise RuntimeError(f"STORAGE_BACKEND={backend!r} is not available; this installation supports 'local'.")
