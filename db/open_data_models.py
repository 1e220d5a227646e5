"""Open data snapshots (issue 28): registered on db.models.Base.

Each generation that finds the published figures changed stores a new version: every file of the
data package (each dataset as CSV and JSON, and `datapackage.json`) as it is served, with its
SHA-256 (the HTTP ETag). Versions are kept, never rewritten: a figure published once can be cited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class OpenDataVersion(Base):
    """One generation of the data package: when, of what (the digest over its files)."""

    __tablename__ = "open_data_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generated_at: Mapped[datetime] = mapped_column(default=utc_now)
    digest: Mapped[str] = mapped_column(String(64))
    # Rows per dataset, for the index and the page without reading the files.
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OpenDataFile(Base):
    """One file of a version, e.g. `bodies.csv`, stored as served."""

    __tablename__ = "open_data_files"

    version: Mapped[int] = mapped_column(
        Integer, ForeignKey("open_data_versions.version", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
