"""api/storage.py: the local store and the S3-compatible one (against moto's in-process S3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.storage import LocalStorage, S3Storage, new_storage_key, storage_from_settings
from config import Settings


def round_trip(storage) -> None:
    key = new_storage_key()
    storage.put(key, b"%PDF-1.7 first", "application/pdf")
    assert storage.get(key) == b"%PDF-1.7 first"
    storage.put(key, b"%PDF-1.7 second", "application/pdf")  # replaced whole
    assert storage.get(key) == b"%PDF-1.7 second"
    storage.delete(key)
    with pytest.raises(FileNotFoundError):
        storage.get(key)
    storage.delete(key)  # deleting what is gone is no error


def test_keys_are_generated_and_nothing_else_is_a_key(tmp_path: Path) -> None:
    key = new_storage_key("0123456789abcdef0123456789abcdef")
    assert key == "01/0123456789abcdef0123456789abcdef"
    assert new_storage_key() != new_storage_key()
    storage = LocalStorage(tmp_path / "store")
    for bad in ("../../etc/passwd", "/etc/passwd", "01/../../x", "photo.jpg", "01/0123456789abcdef0123456789abcdeg"):
        with pytest.raises(ValueError):
            storage.put(bad, b"x", "image/jpeg")
        with pytest.raises(ValueError):
            storage.get(bad)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*"))


def test_local_storage_round_trip_leaves_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    round_trip(storage)
    key = new_storage_key()
    storage.put(key, b"\x89PNG\r\n\x1a\n", "image/png")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [key.split("/")[1]]


def test_s3_storage_round_trip() -> None:
    from moto import mock_aws

    with mock_aws():
        storage = S3Storage("sp4n-attachments", region="us-east-1", access_key_id="test", secret_access_key="test")
        storage.client.create_bucket(Bucket="sp4n-attachments")
        round_trip(storage)
        key = new_storage_key()
        storage.put(key, b"\xff\xd8\xff", "image/jpeg")
        stored = storage.client.head_object(Bucket="sp4n-attachments", Key=key)
        assert stored["ContentType"] == "image/jpeg"


def test_storage_from_settings() -> None:
    local = storage_from_settings(Settings(_env_file=None, attachment_dir="/tmp/sp4n-x"))
    assert isinstance(local, LocalStorage) and local.root == Path("/tmp/sp4n-x")
    with pytest.raises(ValueError, match="S3_BUCKET"):
        Settings(_env_file=None, attachment_storage="s3")
    s3 = storage_from_settings(Settings(
        _env_file=None, attachment_storage="s3", s3_bucket="b", s3_endpoint_url="http://127.0.0.1:9000",
        s3_region="id-jkt-1", s3_access_key_id="k", s3_secret_access_key="s",
    ))
    assert isinstance(s3, S3Storage) and s3.bucket == "b"
    assert s3.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert s3.client.meta.region_name == "id-jkt-1"
