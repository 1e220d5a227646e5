"""Reading the stored open data package (activities/open_data.py writes it): for the API
(api/routes/open_data.py) and the public page (portal/open_data.py)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.open_data_models import OpenDataFile, OpenDataVersion


def snapshot(session: Session, version: int | None = None) -> OpenDataVersion | None:
    """The version asked for, else the latest; None when there is none (yet)."""
    if version is not None:
        return session.get(OpenDataVersion, version)
    return session.scalars(select(OpenDataVersion).order_by(OpenDataVersion.version.desc()).limit(1)).first()


def snapshot_file(session: Session, version: int, name: str) -> OpenDataFile | None:
    return session.get(OpenDataFile, (version, name))


def dataset_rows(session: Session, version: int, dataset: str) -> list[dict[str, Any]]:
    """A dataset's rows as published (its JSON file)."""
    stored = snapshot_file(session, version, f"{dataset}.json")
    return json.loads(stored.content) if stored is not None else []
