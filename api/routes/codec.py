"""Temporal's codec-server protocol, so an administrator can read cases in Temporal's UI or CLI.

Temporal stores every payload of this project encrypted (workflows/codec.py). The UI (or
`temporal workflow show --codec-endpoint …/codec --codec-auth 'Bearer …'`) sends the payloads it
shows here to be decrypted. Administrators only: their bearer token, or their portal session
cookie (the UI runs on another port of the same site and sends it with "include credentials").
CORS is open to the configured UI origins only (CODEC_CORS_ORIGINS), on these two paths only.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from google.protobuf import json_format
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from api.auth import Caller
from api.deps import ServicesDep, current_caller
from api import sessions as security
from api.problems import PROBLEM_RESPONSES, Problem
from domain.enums import Role
from workflows.codec import EncryptionCodec

log = structlog.get_logger("sp4n.codec")
PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["operations"])


class CodecPayload(BaseModel):
    """One Temporal payload in protobuf JSON: metadata values and data are base64."""

    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class CodecPayloads(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"payloads": [
        {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJzdGF0dXMiOiAib3BlbiJ9"}
    ]}]}}

    payloads: list[CodecPayload]


async def codec_admin(request: Request, svc: ServicesDep) -> Caller:
    """An administrator by bearer token, or by the portal's session cookie (Temporal's UI)."""
    if request.headers.get("authorization"):
        def by_token() -> Caller:
            with svc.sessions() as session:
                return current_caller(request, svc, session)

        caller = await run_in_threadpool(by_token)
    else:
        def by_cookie() -> Caller | None:
            with svc.sessions() as session:
                account = security.signed_in_account(session, request.cookies.get(security.SESSION_COOKIE))
                return security.caller_of(account) if account is not None else None

        caller = await run_in_threadpool(by_cookie)
        if caller is None:
            raise Problem(401, "Diperlukan token administrator atau sesi portal administrator.",
                          headers={"WWW-Authenticate": "Bearer"})
    if caller.role != Role.ADMIN:
        raise Problem(403, "Hanya administrator yang boleh membuka data Temporal.")
    return caller


CodecAdminDep = Annotated[Caller, Depends(codec_admin)]


def _codec(svc) -> EncryptionCodec:
    return EncryptionCodec(svc.settings.payload_keys)


def _parse(body: CodecPayloads) -> Payloads:
    try:
        return json_format.ParseDict(body.model_dump(), Payloads())
    except json_format.ParseError as error:
        raise Problem(422, "Payload tidak berbentuk protobuf JSON Temporal (metadata dan data base64).") from error


def _dump(payloads: list) -> CodecPayloads:
    return CodecPayloads.model_validate(json_format.MessageToDict(Payloads(payloads=payloads)) or {"payloads": []})


@router.post(
    "/decode", response_model=CodecPayloads, summary="Decrypt payloads for Temporal's UI/CLI (administrators)",
    responses={401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 422: PROBLEM_RESPONSES[422]},
)
async def decode(body: CodecPayloads, svc: ServicesDep, _admin: CodecAdminDep) -> CodecPayloads:
    codec = _codec(svc)
    return _dump([codec.decrypt_for_display(payload) for payload in _parse(body).payloads])


@router.post(
    "/encode", response_model=CodecPayloads, summary="Encrypt payloads for Temporal's UI/CLI (administrators)",
    responses={401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 422: PROBLEM_RESPONSES[422]},
)
async def encode(body: CodecPayloads, svc: ServicesDep, admin: CodecAdminDep) -> CodecPayloads:
    # Encoded here, a payload is bound to no case: a worker reads it only where no case's id is
    # expected of it. Each use is on record, with who asked.
    payloads = list(_parse(body).payloads)
    log.info("codec encode", by=admin.token_id, payloads=len(payloads))
    return _dump(await _codec(svc).encode(payloads))


class CodecCORS:
    """Starlette's CORS middleware on the codec paths only: the rest of the API stays same-origin."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app, allow_origins=origins, allow_credentials=True, allow_methods=["POST"],
            allow_headers=["authorization", "content-type", "x-namespace"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
