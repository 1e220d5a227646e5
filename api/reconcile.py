"""Reconciliation: every open case's workflow (the source of truth, asked by query) against its
read-model rows (a projection), completing what the projection lost. The record is append-only
(ARCHITECTURE.md §5): reconciliation never deletes or rewrites a recorded event.

For each running ComplaintWorkflow: the case row (every column the projection writes), its
timeline events and its escalations are compared with what the workflow's state projects to
(`CaseMachine.record_since(0)`, the same record the workflow's `record_case` writes), and the
workflow's first run id with the run the row recorded.

- A different run than the recorded one (`run`): reported, nothing written. A case id is started
  once, so that run is not the recorded case (a revival under an old id); a human decides.
- A recorded event or escalation that the workflow has otherwise, or not at all (`timeline_conflict`,
  `escalations_conflict`): reported, nothing written.
- Otherwise what is missing is added (a lost row, lost events or escalations) and the case row,
  a projection of the state, is written again (forced to the workflow's `seq`: a corrupted row with
  a higher seq would otherwise refuse the projection).

The notification outbox is not replayed: those messages were sent (or are queued) already, and a
restored database would send them twice. Closed cases are not visited (their workflows may be gone).

`python -m ops reconcile` and `POST /v1/operations/reconcile` (administrators) run it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.records import _escalation_row, _event_row, complaint_row, personal_data_of, write_record
from db.models import Complaint, EscalationRow, TimelineEventRow, utc_now
from db.privacy import CaseKeyring
from domain.lifecycle import CaseMachine
from domain.models import CaseRecord, CaseState
from workflows.complaint import ComplaintWorkflow

OPEN_CASES_QUERY = "WorkflowType = 'ComplaintWorkflow' AND ExecutionStatus = 'Running'"
# The projection's clock; the administrators' flag; the run (compared on its own, never rewritten).
IGNORED_COLUMNS = {"updated_at", "needs_rerouting", "run_id"}
# What reconciliation reports and never writes over (see the module doc).
UNREPAIRABLE = {"run", "timeline_conflict", "escalations_conflict"}


class ReconcileReport(BaseModel):
    checked: int = Field(0, description="Laporan terbuka yang workflow-nya ditanya")
    in_sync: int = Field(0, description="Sama dengan read model")
    repaired: int = Field(0, description="Berbeda, lalu diproyeksikan ulang")
    differing: int = Field(0, description="Berbeda (dry run: tidak diperbaiki)")
    missing_rows: int = Field(0, description="Tidak ada di read model sama sekali (termasuk dalam repaired/differing)")
    unanswered: int = Field(0, description="Workflow tidak menjawab query (coba lagi)")
    run_mismatches: int = Field(
        0, description="Run workflow yang ditemukan bukan run yang tercatat: dilaporkan, tidak diubah")
    conflicts: int = Field(
        0, description="Peristiwa tercatat berbeda dengan workflow: dilaporkan, tidak ditimpa (termasuk dalam differing)")
    differences: dict[str, list[str]] = Field(
        default_factory=dict, description="Per nomor laporan: kolom atau bagian yang berbeda (paling banyak 100 laporan)"
    )


def projection_of(state: CaseState) -> CaseRecord:
    """What the read model must hold for this state (no notifications: see the module doc)."""
    record = CaseMachine(state.model_copy(deep=True)).record_since(0)
    return record.model_copy(update={"notifications": []})


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9 or a == b
    return a == b


def _rows(session: Session, model: type, tracking_id: str) -> dict[int, dict[str, Any]]:
    columns = model.__table__.columns
    found = session.execute(select(model).where(model.tracking_id == tracking_id)).scalars()
    return {row.seq: {c.key: getattr(row, c.key) for c in columns} for row in found}


def differences(session: Session, record: CaseRecord, run_id: str | None = None,
                keyring: CaseKeyring | None = None) -> list[str]:
    """What of the read model differs from the record: `run`, column names, `missing`, `timeline`
    and `escalations` (something to add), `timeline_conflict` and `escalations_conflict` (a
    recorded one that differs: never rewritten)."""
    row = session.get(Complaint, record.tracking_id, populate_existing=True)
    if row is None:
        return ["missing"]
    if run_id and row.run_id and row.run_id != run_id:
        return ["run"]
    expected = complaint_row(record, utc_now(), personal_data_of(session, record, keyring))
    differing = [name for name, value in expected.items()
                 if name not in IGNORED_COLUMNS and not _same(getattr(row, name), value)]
    for part, model, wanted in (
        ("timeline", TimelineEventRow, [_event_row(record.tracking_id, e) for e in record.new_events]),
        ("escalations", EscalationRow, [_escalation_row(record.tracking_id, e) for e in record.new_escalations]),
    ):
        stored = _rows(session, model, record.tracking_id)
        wanted_by_seq = {w["seq"]: w for w in wanted}
        if set(stored) - set(wanted_by_seq) or any(
            not _same(stored[seq].get(k), v) for seq, w in wanted_by_seq.items() if seq in stored for k, v in w.items()
        ):
            differing.append(f"{part}_conflict")
        elif set(wanted_by_seq) - set(stored):
            differing.append(part)
    return differing


def complete(session: Session, record: CaseRecord, keyring: CaseKeyring | None = None) -> None:
    """Add what the read model lost and write the case row again (in the caller's transaction);
    recorded events and escalations are kept as they are (write_record inserts only new keys)."""
    session.execute(update(Complaint).where(Complaint.tracking_id == record.tracking_id,
                                            Complaint.seq > record.seq).values(seq=record.seq))
    write_record(session, record, keyring)


@dataclass
class _Tally:
    report: ReconcileReport = field(default_factory=ReconcileReport)

    def note(self, tracking_id: str, differing: list[str], repaired: bool) -> None:
        report = self.report
        report.checked += 1
        if not differing:
            report.in_sync += 1
            return
        if "run" in differing:
            report.run_mismatches += 1
        if UNREPAIRABLE & set(differing):
            repaired = False
            report.conflicts += "run" not in differing
        if repaired:
            report.repaired += 1
        else:
            report.differing += 1
        if "missing" in differing:
            report.missing_rows += 1
        if len(report.differences) < 100:
            report.differences[tracking_id] = differing


def check_and_repair(sessions: sessionmaker[Session], state: CaseState, repair: bool,
                     run_id: str | None = None, keyring: CaseKeyring | None = None) -> list[str]:
    record = projection_of(state).model_copy(update={"run_id": run_id})
    with sessions.begin() as session:
        differing = differences(session, record, run_id, keyring)
        if differing and repair and not UNREPAIRABLE & set(differing):
            complete(session, record, keyring)
    return differing


async def reconcile(
    client: Client, sessions: sessionmaker[Session], *, repair: bool = True, concurrency: int = 8,
    query_timeout: float = 10.0, keyring: CaseKeyring | None = None,
) -> ReconcileReport:
    """Visit every open case (at most `concurrency` at a time); see the module doc."""
    tally = _Tally()
    limit = asyncio.Semaphore(concurrency)

    async def visit(workflow_id: str) -> None:
        async with limit:
            try:
                handle = client.get_workflow_handle(workflow_id)
                state = await asyncio.wait_for(handle.query(ComplaintWorkflow.state), query_timeout)
                # The first run of the chain (continue-as-new keeps it): the list does not carry it.
                described = await asyncio.wait_for(handle.describe(), query_timeout)
                run_id = described.raw_description.workflow_execution_info.first_run_id or None
            except (asyncio.TimeoutError, RPCError) as error:
                if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
                    return  # closed meanwhile
                tally.report.unanswered += 1
                return
            differing = await asyncio.to_thread(check_and_repair, sessions, state, repair, run_id, keyring)
            tally.note(workflow_id, differing, repair)

    pending: set[asyncio.Task[None]] = set()
    async for execution in client.list_workflows(OPEN_CASES_QUERY):
        pending.add(asyncio.create_task(visit(execution.id)))
        if len(pending) >= concurrency * 4:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a database error stops the run (and says why)
    if pending:
        await asyncio.gather(*pending)
    return tally.report
