"""Temporal's codec-server protocol, so an administrator can read cases in Temporal's UI or CLI.

Temporal stores every payload of this project encrypted (workflows/codec.py). The UI (or
`temporal workflow show --codec-endpoint …/codec --codec-auth 'Bearer …'`) sends the payloads it
shows here to be decrypted. Administrators only: their bearer token, or their portal session
cookie (the UI runs on another port of the same site and sends it with "include credentials").
CORS is open to the configured UI origins only (CODEC_CORS_ORIGINS), on the /codec paths only.
Encoding names the workflow the payloads are for (`?workflow_id=`, or the endpoint
`/codec/workflows/<id>` for `temporal … --codec-endpoint`): they are sealed for it alone.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Query, Request
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


WorkflowIdParam = Annotated[str, Query(
    min_length=1, max_length=200,
    description="The workflow (a case's tracking id) the payloads are for: they are sealed for it and are refused "
    "by any other (`--codec-endpoint …/codec/workflows/<id>` in Temporal's CLI names it in the path).",
)]
CODEC_RESPONSES = {401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 422: PROBLEM_RESPONSES[422]}


async def _decode(body: CodecPayloads, svc) -> CodecPayloads:
    codec = _codec(svc)
    return _dump([codec.decrypt_for_display(payload) for payload in _parse(body).payloads])


async def _encode(body: CodecPayloads, svc, admin: Caller, workflow_id: str) -> CodecPayloads:
    # Sealed for the named case only: the worker refuses an update or signal sealed for none or
    # for another (issue 24). Each use is on record, with who asked and for which case.
    payloads = list(_parse(body).payloads)
    log.info("codec encode", by=admin.token_id, workflow_id=workflow_id, payloads=len(payloads))
    return _dump(await EncryptionCodec(svc.settings.payload_keys, workflow_id=workflow_id).encode(payloads))


@router.post("/decode", response_model=CodecPayloads, responses=CODEC_RESPONSES,
             summary="Decrypt payloads for Temporal's UI/CLI (administrators)")
async def decode(body: CodecPayloads, svc: ServicesDep, _admin: CodecAdminDep) -> CodecPayloads:
    return await _decode(body, svc)


@router.post("/encode", response_model=CodecPayloads, responses=CODEC_RESPONSES,
             summary="Encrypt payloads for one workflow, for Temporal's UI/CLI (administrators)")
async def encode(body: CodecPayloads, svc: ServicesDep, admin: CodecAdminDep,
                 workflow_id: WorkflowIdParam) -> CodecPayloads:
    return await _encode(body, svc, admin, workflow_id)


@router.post("/workflows/{workflow_id}/decode", response_model=CodecPayloads, responses=CODEC_RESPONSES,
             summary="Decrypt payloads (the codec endpoint of one workflow, for Temporal's CLI)")
async def decode_for(workflow_id: str, body: CodecPayloads, svc: ServicesDep, _admin: CodecAdminDep) -> CodecPayloads:
    return await _decode(body, svc)


@router.post("/workflows/{workflow_id}/encode", response_model=CodecPayloads, responses=CODEC_RESPONSES,
             summary="Encrypt payloads for this workflow (the codec endpoint of one workflow, for Temporal's CLI)")
async def encode_for(workflow_id: str, body: CodecPayloads, svc: ServicesDep, admin: CodecAdminDep) -> CodecPayloads:
    return await _encode(body, svc, admin, workflow_id)


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
