"""Cases as CSV for open data: no personal data, no confidential case.

A row per case: when and through which door it came, what kind, where (region code only), who
handled it and how it went (status, deadlines met or missed, times to first response and to
completion, rating). Never: the reporter (name, email, phone, even whether anonymous), the title
and description (free text names people), the location or address, notes, or anything of a
confidential case (left out entirely).

The public datasets (activities/open_data.py, GET /v1/open-data) publish the same columns with the
rules of domain/open_data.py (verified cases only, rare places generalised, days only).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Complaint
from domain.open_data import CASE_COLUMNS as COLUMNS


def open_data_rows(session: Session, submitted_from: datetime | None = None,
                   submitted_to: datetime | None = None) -> Iterator[dict[str, object]]:
    query = select(Complaint).where(Complaint.confidential.is_(False)).order_by(Complaint.submitted_at,
                                                                                Complaint.tracking_id)
    if submitted_from is not None:
        query = query.where(Complaint.submitted_at >= submitted_from)
    if submitted_to is not None:
        query = query.where(Complaint.submitted_at < submitted_to)
    for case in session.execute(query.execution_options(yield_per=1000)).scalars():
        row = {column: getattr(case, column) for column in COLUMNS}
        yield {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def write_open_data_csv(session: Session, output: IO[str], submitted_from: datetime | None = None,
                        submitted_to: datetime | None = None) -> int:
    """Write the CSV (header first); returns the number of cases written."""
    writer = csv.DictWriter(output, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in open_data_rows(session, submitted_from, submitted_to):
        writer.writerow(row)
        count += 1
    return count
