"""For the staff handling a case: what its Open311 client sent beside the report (notes, media links)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, SessionDep, StaffDep
from api.problems import problem_responses
from api.cases import current_view
from db.models import ApiToken
from db.open311_models import Open311ClientUpdate, Open311MediaLink, Open311Request

# --- for the staff handling a case: what its Open311 client sent beside the report ----------------

staff_router = APIRouter(prefix="/v1/complaints", tags=["open311"])


class ClientNote(BaseModel):
    update_id: str
    text: str
    created_at: AwareDatetime


class Open311Extras(BaseModel):
    """What came with a case through Open311 and is not in the case itself."""

    tracking_id: str
    client: str | None = Field(description="The application (client token's name) that sent it; null for other doors")
    media_links: list[str] = Field(description="Every media_url, in order; links are shown, never fetched")
    client_notes: list[ClientNote] = Field(
        description="Citizens' comments the client posted while the case waited for nobody's reply (notes for staff)")


def _extras(session: Session, tracking_id: str) -> Open311Extras:
    sent = session.get(Open311Request, tracking_id)
    token = session.get(ApiToken, sent.client_token_id) if sent is not None else None
    links = session.scalars(select(Open311MediaLink.url).where(Open311MediaLink.tracking_id == tracking_id)
                            .order_by(Open311MediaLink.position)).all()
    notes = session.scalars(select(Open311ClientUpdate).where(
        Open311ClientUpdate.tracking_id == tracking_id, Open311ClientUpdate.recorded_as == "note")
        .order_by(Open311ClientUpdate.created_at)).all()
    return Open311Extras(
        tracking_id=tracking_id, client=token.name if token is not None else None, media_links=list(links),
        client_notes=[ClientNote(update_id=n.update_id, text=n.note or "", created_at=n.created_at) for n in notes],
    )


@staff_router.get(
    "/{tracking_id}/open311",
    response_model=Open311Extras,
    summary="Tautan media dan catatan dari aplikasi Open311 (petugas)",
    description="Untuk petugas yang menangani laporan (admin, pengamat, petugas instansi laporan), juga bila "
    "pelapor anonim: setiap media_url (tautan, tidak diunduh server) dan komentar warga yang dikirim aplikasi "
    "ketika laporan tidak sedang menunggu pelapor. Publik tidak pernah melihatnya di sini; GET requests "
    "hanya menampilkan tautan pertama laporan yang pelapornya tidak anonim.",
    responses=problem_responses(401, 403, 404, 503),
)
async def open311_extras(tracking_id: str, caller: StaffDep, svc: ServicesDep, session: SessionDep) -> Open311Extras:
    await current_view(tracking_id, caller, svc, session)  # 404 unless the caller sees the case
    return await run_in_threadpool(_extras, session, tracking_id)
