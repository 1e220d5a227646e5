"""/v1/tokens: administrators issue and revoke bearer tokens."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.auth import hash_token, new_issued_token
from api.deps import AdminDep, SessionDep
from api.problems import Problem, problem_responses
from api.schemas import TokenCreate, TokenInfo, TokenIssued
from db.directory import get_agency
from db.models import ApiToken
from domain.enums import Role
from domain.visibility import AGENCY_ROLES

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenIssued, summary="Terbitkan token (admin)",
             responses=problem_responses(401, 403, 422))
def issue_token(body: TokenCreate, caller: AdminDep, session: SessionDep) -> TokenIssued:
    role = Role(body.role)
    if role in AGENCY_ROLES:
        if not body.agency_id:
            raise Problem(422, f"agency_id wajib untuk peran {role}")
        agency = get_agency(session, body.agency_id)
        if agency is None or not agency.active:
            raise Problem(422, f"Instansi {body.agency_id} tidak ada di direktori atau tidak aktif.")
    elif body.agency_id:
        raise Problem(422, f"Peran {role} tidak terikat pada instansi: hapus agency_id")
    token = new_issued_token()
    row = ApiToken(
        id=secrets.token_hex(8), token_hash=hash_token(token), role=role.value, agency_id=body.agency_id,
        name=body.name, email=body.email,
    )
    session.add(row)
    session.commit()
    return TokenIssued(id=row.id, token=token, role=role, agency_id=row.agency_id, name=row.name)


@router.get("", response_model=list[TokenInfo], summary="Daftar token (tanpa rahasianya)",
            responses=problem_responses(401, 403))
def list_tokens(caller: AdminDep, session: SessionDep) -> list[TokenInfo]:
    rows = session.scalars(select(ApiToken).order_by(ApiToken.created_at))
    return [TokenInfo(id=r.id, role=Role(r.role), agency_id=r.agency_id, name=r.name, created_at=r.created_at,
                      revoked_at=r.revoked_at) for r in rows]


@router.delete("/{token_id}", status_code=204, summary="Cabut token (admin)", responses=problem_responses(401, 403, 404))
def revoke_token(token_id: str, caller: AdminDep, session: SessionDep) -> Response:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise Problem(404, "Token tidak ditemukan")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
        session.commit()
    return Response(status_code=204)
