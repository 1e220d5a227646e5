"""Where attachments' bytes live: the local filesystem by default, S3-compatible storage in production.

Keys are made here (`new_storage_key`), never taken from a request, and every store refuses a key
of another shape, so no key can name a path outside the store. Calls block: the API makes them on
the thread pool.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from config import Settings

KEY_PATTERN = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


def new_storage_key(object_id: str | None = None) -> str:
    """A fresh key: `ab/abcdef…` (two-character fan-out keeps local directories small)."""
    object_id = object_id or secrets.token_hex(16)
    return check_key(f"{object_id[:2]}/{object_id}")


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class StorageUnavailable(OSError):
    """The store could not be reached or refused the operation (the API answers 503)."""


class AttachmentStorage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store the bytes under the key (replacing any); OSError when the store fails."""
        ...

    def get(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError when nothing is stored under the key."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        ...

    def free_bytes(self) -> int | None:
        """Room left where the bytes go, or None when the store cannot tell (object storage)."""
        ...


class LocalStorage:
    """Files under `root`; each written to a temporary file first and renamed into place, so a
    reader never sees half a file."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def free_bytes(self) -> int | None:
        directory = self.root
        while not directory.exists() and directory != directory.parent:  # before the first file
            directory = directory.parent
        return shutil.disk_usage(directory).free


class S3Storage:
    """Objects in an S3 bucket, or any S3-compatible store (MinIO, Ceph, Garage…) at `endpoint_url`.

    Credentials left unset come from boto3's usual chain (environment, instance role).
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        if client is None:
            import boto3  # noqa: PLC0415 - only installed with the `s3` extra
            from botocore.config import Config  # noqa: PLC0415

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                # Path-style addressing: what S3-compatible servers accept without wildcard DNS.
                config=Config(s3={"addressing_style": "path"}) if endpoint_url else None,
            )
        self.client = client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with _s3_errors(key):
            self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        with _s3_errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"].read()

    def delete(self, key: str) -> None:
        with _s3_errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def free_bytes(self) -> int | None:
        return None  # a bucket has no free space to read: ATTACHMENT_TOTAL_MAX_BYTES bounds it


@contextmanager
def _s3_errors(key: str) -> Iterator[None]:
    """boto3's failures as the protocol's: FileNotFoundError for a missing key, else StorageUnavailable."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(key) from error
        raise StorageUnavailable(f"S3: {error}") from error
    except BotoCoreError as error:
        raise StorageUnavailable(f"S3: {error}") from error


def storage_from_settings(settings: Settings) -> AttachmentStorage:
    if settings.attachment_storage == "s3":
        assert settings.s3_bucket  # config.Settings refuses s3 without a bucket
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return LocalStorage(settings.attachment_dir)
