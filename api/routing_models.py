"""The router's learned versions and the one routing service per database: shared by the JSON API
(api/routes/routing.py, api/routes/operations.py) and the portal's pages."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError
import structlog

from activities.routing import RoutingActivities
from activities.routing_learning import activate_version
from api.auth import Caller
from api.deps import Services
from api.problems import Problem
from db.models import RoutingExample, RoutingModelVersion

log = structlog.get_logger(__name__)


@functools.cache
def routing_service(sessions: sessionmaker[Session]) -> RoutingActivities:
    """One RoutingActivities per database: the text model is trained once, the directory cached."""
    return RoutingActivities(sessions)


class ModelVersionOut(BaseModel):
    version: int = Field(description="Suggestions name it as `m<version>` in their model_version.")
    created_at: datetime
    n_examples: int = Field(description="Labelled examples it learned from (decisions and imported history).")
    examples_upto: int
    active: bool
    pinned: bool = Field(description="Chosen by an administrator: newer versions are trained but not activated.")
    note: str | None
    sha256: str
    size_bytes: int


class ModelsOut(BaseModel):
    examples: int = Field(description="Labelled examples stored so far.")
    versions: list[ModelVersionOut]


def version_out(row: RoutingModelVersion) -> ModelVersionOut:
    return ModelVersionOut(version=row.version, created_at=row.created_at, n_examples=row.n_examples,
                           examples_upto=row.examples_upto, active=row.active, pinned=row.pinned, note=row.note,
                           sha256=row.sha256, size_bytes=len(row.artefact))


def models_overview(session: Session) -> ModelsOut:
    """The stored examples and the last hundred versions, newest first."""
    rows = session.scalars(select(RoutingModelVersion).order_by(RoutingModelVersion.version.desc()).limit(100))
    examples = session.scalar(select(func.count()).select_from(RoutingExample)) or 0
    return ModelsOut(examples=examples, versions=[version_out(row) for row in rows])


def activate_model(version: int, caller: Caller, svc: Services, session: Session) -> ModelVersionOut:
    row = activate_version(session, version)
    if row is None:
        raise Problem(404, f"Versi model {version} tidak ada.")
    row.note = f"{row.note or ''}; dipilih oleh {caller.name or caller.role}"[-300:].lstrip("; ")
    session.commit()
    routing_service(svc.sessions).refresh()  # this process at once; the others within a minute
    return version_out(row)


class HistoryImported(BaseModel):
    imported: int
    model_version: int | None = Field(default=None, description=(
        "The version trained from it at once (RoutingTrainingWorkflow): suggestions use it from now on "
        "when `active` (not when an administrator pinned an older one)."))
    active: bool = False
    note: str = "Dipelajari seketika: versi model baru dilatih dan diaktifkan."


TRAINING_WAIT_SECONDS = 120.0


async def learned_at_once(svc, imported: int) -> HistoryImported:
    """Train and activate a version from what was just imported, as a Temporal workflow (the worker
    trains), and use it in this process at once; the other processes see it within seconds."""
    import uuid

    from workflows.routing_training import train_now

    try:  # not the gateway's short timeout: training a city's history takes a while
        client = await svc.temporal.client()
        trained = await train_now(client, svc.temporal.task_queue, uuid.uuid4().hex, TRAINING_WAIT_SECONDS)
    except (Problem, TimeoutError, asyncio.TimeoutError, WorkflowFailureError, RPCError) as error:
        log.warning("routing training after an import did not finish", error=str(error))
        return HistoryImported(imported=imported, note="Tersimpan; pelatihan belum selesai: versi baru dipakai "
                                                       "begitu pelatihan terjadwal berikutnya selesai.")
    routing_service(svc.sessions).refresh()
    return HistoryImported(imported=imported, model_version=trained.version, active=trained.active)
