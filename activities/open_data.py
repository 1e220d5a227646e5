"""Generates the open data package (issue 28) from the read model and stores it as a new version.

Read from each case's timeline (and its escalations): who had it when, and what happened while
they had it. The rules of what may be published are domain/open_data.py's; here only the reading,
the rendering (CSV and JSON) and the storing. A generation that finds every dataset unchanged
stores nothing: the latest version stays current (and so do the HTTP ETags).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from db.models import Agency, Complaint, EscalationRow, TimelineEventRow
from db.open_data_models import OpenDataFile, OpenDataVersion
from domain.enums import Action, ClockKind, EscalationKind, Status
from domain.open_data import (
    BODY_COLUMNS,
    DATASETS,
    FORMATS,
    PUBLIC_CASE_COLUMNS,
    REGION_COLUMNS,
    Stint,
    body_month_rows,
    datapackage,
    file_name,
    month_of,
    public_case_row,
    publish_case_rows,
    region_month_rows,
    withheld_places,
)
from workflows.open_data import GenerateOpenData, OpenDataGenerated

DESCRIPTOR = "datapackage.json"
DESCRIPTOR_MEDIA_TYPE = "application/json"
SOURCE = "/v1/open-data"
# Clocks a body answers for: a breach of these while it holds the case counts against it.
_BODY_CLOCKS = frozenset({ClockKind.RESPONSE.value, ClockKind.RESOLUTION.value})
_BATCH = 1000


def published_case_ids(session: Session) -> Any:
    """Who is counted: not confidential, and forwarded at least once (verified)."""
    forwarded = exists().where(TimelineEventRow.tracking_id == Complaint.tracking_id,
                               TimelineEventRow.action == Action.ACCEPT.value)
    return select(Complaint.tracking_id).where(Complaint.confidential.is_(False), forwarded)


def _chunks(session: Session) -> Iterator[list[Complaint]]:
    ids = list(session.scalars(published_case_ids(session).order_by(Complaint.tracking_id)))
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        yield list(session.scalars(select(Complaint).where(Complaint.tracking_id.in_(batch))
                                   .order_by(Complaint.submitted_at, Complaint.tracking_id)))


def stints_of(case: Complaint, events: list[TimelineEventRow], escalations: list[EscalationRow]) -> list[Stint]:
    """The case's times with a body: each forwarding (accept) to the next forwarding or return."""
    stints: list[Stint] = []
    current: dict[str, Any] | None = None

    def close(until: datetime | None) -> None:
        nonlocal current
        if current is None:
            return
        start = current.pop("start")
        breached = [e for e in escalations if e.clock in _BODY_CLOCKS and e.at >= start and (until is None or e.at < until)]
        current["overdue"] = any(e.kind == EscalationKind.OVERDUE.value for e in breached)
        current["ombudsman"] = any(e.kind == EscalationKind.OMBUDSMAN.value for e in breached)
        current["rating"] = case.rating if current["completed"] and until is None else None
        stints.append(Stint(**current))
        current = None

    for event in events:
        if event.action == Action.ACCEPT.value and event.agency_id:
            close(event.at)
            current = {
                "agency_id": event.agency_id, "month": month_of(event.at), "start": event.at,
                "forwarded_in_time": event.deadline_met is not None and event.at <= event.deadline_met,
                "first_response_in_time": False, "first_response_hours": None,
                "completed": False, "returned": False,
            }
        elif current is None:
            continue
        elif event.action == Action.FOLLOW_UP.value and current["first_response_hours"] is None:
            current["first_response_hours"] = (event.at - current["start"]).total_seconds() / 3600
            current["first_response_in_time"] = event.deadline_met is not None and event.at <= event.deadline_met
        elif event.action == Action.REROUTE.value:
            current["returned"] = True
            close(event.at)
        elif event.status_to == Status.COMPLETED.value and event.status_from != Status.COMPLETED.value:
            current["completed"] = True
        elif event.action == Action.REOPEN.value:
            current["completed"] = False
    close(None)
    return stints


def build_datasets(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every dataset's published rows, from the read model as it is now."""
    stints: list[Stint] = []
    case_rows: list[dict[str, Any]] = []
    for cases in _chunks(session):
        ids = [case.tracking_id for case in cases]
        events: dict[str, list[TimelineEventRow]] = {i: [] for i in ids}
        for event in session.scalars(select(TimelineEventRow).where(TimelineEventRow.tracking_id.in_(ids))
                                     .order_by(TimelineEventRow.tracking_id, TimelineEventRow.seq)):
            events[event.tracking_id].append(event)
        escalations: dict[str, list[EscalationRow]] = {i: [] for i in ids}
        for escalation in session.scalars(select(EscalationRow).where(EscalationRow.tracking_id.in_(ids))):
            escalations[escalation.tracking_id].append(escalation)
        for case in cases:
            stints += stints_of(case, events[case.tracking_id], escalations[case.tracking_id])
            case_rows.append(public_case_row({column: getattr(case, column) for column in PUBLIC_CASE_COLUMNS}))
        session.expunge_all()
    bodies = {stint.agency_id for stint in stints} | {row["agency_id"] for row in case_rows if row["agency_id"]}
    directory = session.execute(select(Agency.id, Agency.name, Agency.region_code).where(Agency.id.in_(bodies))).all()
    names = {agency: name for agency, name, _ in directory}
    regions = {agency: region for agency, _, region in directory}
    received: Counter[tuple[str, str, str]] = Counter()
    completed: Counter[tuple[str, str, str]] = Counter()
    for row in case_rows:
        region = row["region_code"] or ""
        received[(region, row["submitted_at"][:7], row["category"])] += 1
        if row["completed_at"]:
            completed[(region, row["completed_at"][:7], row["category"])] += 1
    region_rows = region_month_rows(received, completed)
    return {
        "bodies": body_month_rows(stints, names),
        "regions": region_rows,
        "cases": publish_case_rows(case_rows, regions, withheld_places(region_rows)),
    }


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def render(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([{c: row[c] for c in columns} for row in rows], ensure_ascii=False, indent=0) + "\n"
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_value(row[c]) for c in columns] for row in rows)
    return output.getvalue()


COLUMNS_OF = {"bodies": BODY_COLUMNS, "regions": REGION_COLUMNS, "cases": PUBLIC_CASE_COLUMNS}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def generate(session: Session, now: datetime) -> OpenDataGenerated:
    """Build every dataset and store them as a new version, unless they are what the latest holds."""
    datasets = build_datasets(session)
    files = {file_name(dataset.name, fmt): render(datasets[dataset.name], COLUMNS_OF[dataset.name], fmt)
             for dataset in DATASETS for fmt in FORMATS}
    rows = {name: len(found) for name, found in datasets.items()}
    digest = _sha256("".join(f"{name}\0{_sha256(content)}\0" for name, content in sorted(files.items())))
    latest = session.scalars(select(OpenDataVersion).order_by(OpenDataVersion.version.desc()).limit(1)).first()
    if latest is not None and latest.digest == digest:
        return OpenDataGenerated(version=latest.version, created=False, rows=rows)
    version = OpenDataVersion(generated_at=now, digest=digest, summary={"rows": rows})
    session.add(version)
    session.flush()
    files[DESCRIPTOR] = json.dumps(datapackage(version.version, now, rows, SOURCE), ensure_ascii=False, indent=2) + "\n"
    for name, content in files.items():
        media_type = DESCRIPTOR_MEDIA_TYPE if name == DESCRIPTOR else FORMATS[name.rsplit(".", 1)[1]]
        session.add(OpenDataFile(version=version.version, name=name, media_type=media_type,
                                 sha256=_sha256(content), content=content))
    session.commit()
    return OpenDataGenerated(version=version.version, created=True, rows=rows)


class OpenDataActivities:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="generate_open_data")
    def generate_open_data(self, request: GenerateOpenData) -> OpenDataGenerated:
        """Regenerate the data package (a Temporal Schedule runs it daily). Safe to retry: a
        retry after a committed version finds nothing changed."""
        with self._sessions() as session:
            return generate(session, request.now or datetime.now(UTC))
