"""Every endpoint × every kind of caller, with the status each must get.

Every operation of the committed openapi.json has a row in MATRIX or a reason in EXCLUDED
(`test_the_matrix_covers_every_operation`): a new endpoint cannot ship without deciding who may
call it. The excluded ones, which take no role's bearer token, get their own checks below.

The case under test is with agency X (`pemkot-62.71`); "other" agency staff are Y's
(`pemprov-51`). For the directory's edits the body under test is a throwaway one made by the test
(the seeded directory is shared by the tests of a PostgreSQL session), and "officer" and
"agency_admin" are that body's own staff. "admin" is the bootstrap administrator token.

An operation's refused callers all try one target first (a case, an agency, a webhook, ...), which
they must leave exactly as it was (its `state`); each caller who may change something then gets a
target of their own, the first of them the refused callers' one. Reads share one target. List
answers are also checked for what agency staff must not see (LEAKS).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from activities.routing_memory import DecisionMemory
from db.models import Agency, AgencyUnit, ApiToken, Complaint, RoutingExample, RoutingModelVersion
from db.notification_models import NotificationDelivery, NotificationPreference, Webhook
from db.portal_models import Attachment
from tests.api.conftest import OTHER_AGENCY, PROBLEM_JSON, WIB_AGENCY, ApiHarness, bearer
from tests.api.deadlines import instant

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "post", "put", "patch", "delete"}

ROLES = (
    "public", "client", "reporter", "other_reporter", "officer", "agency_admin",
    "other_officer", "other_agency_admin", "observer", "admin",
)

C = "/v1/complaints/{tracking_id}"
O311 = "/open311/v2"

#                                                       public client  rep  other  off  a.adm  Yoff Yadm  obs  admin
MATRIX: dict[str, tuple[int | None, ...]] = {
    "POST /v1/complaints":                                (201, 201, 401, 401, 201, 201, 201, 201, 201, 201),
    f"GET {C}":                                           (200, 200, 200, 401, 200, 200, 404, 404, 200, 200),
    "GET /v1/complaints":                                 (401, 403, 401, 401, 200, 200, 200, 200, 200, 200),
    f"POST {C}/verification":                             (401, 403, 403, 401, 404, 404, 404, 404, 403, 200),
    f"POST {C}/supplements":                              (401, 403, 200, 401, 404, 404, 404, 404, 403, 403),
    f"POST {C}/dispositions":                             (401, 403, 403, 401, 403, 200, 404, 404, 403, 403),
    f"POST {C}/follow-ups":                               (401, 403, 403, 401, 200, 200, 404, 404, 403, 403),
    f"POST {C}/reroute":                                  (401, 403, 403, 401, 403, 200, 404, 404, 403, 403),
    f"POST {C}/replies":                                  (401, 403, 200, 401, 403, 403, 404, 404, 403, 200),
    f"POST {C}/rating":                                   (401, 403, 200, 401, 403, 403, 404, 404, 403, 403),
    f"POST {C}/satisfaction":                             (401, 403, 200, 401, 403, 403, 404, 404, 403, 403),
    # A pin outside its region confirmed (issue 22): the verifier, an administrator, alone.
    f"POST {C}/pin-confirmation":                         (401, 403, 403, 401, 403, 403, 403, 403, 403, 200),
    # Similar open cases: staff who see the case, each within what they may see (api/similar.py).
    f"GET {C}/similar":                                   (401, 403, 403, 401, 200, 200, 404, 404, 200, 200),
    # What an Open311 client sent beside the report (media links, citizens' notes): the staff who
    # handle the case only, anonymous reporter or not (api/routes/open311/).
    f"GET {C}/open311":                                   (401, 403, 403, 401, 200, 200, 404, 404, 200, 200),
    # Files: whoever sees the case sees them (the public too: not a confidential case); the reporter
    # adds report files, the case's agency and administrators add evidence (domain/attachments.py).
    f"GET {C}/attachments":                               (200, 200, 200, 401, 200, 200, 404, 404, 200, 200),
    f"POST {C}/attachments":                              (401, 403, 201, 401, 201, 201, 404, 404, 403, 201),
    f"GET {C}/attachments/{{attachment_id}}":             (200, 200, 200, 401, 200, 200, 404, 404, 200, 200),
    # Only the case's own reporter; everyone else 403 before the case is even looked up (so no
    # one learns from it whether a case exists). Without a token too: 403, not 401.
    f"PUT {C}/notification-preferences":                  (403, 403, 200, 401, 403, 403, 403, 403, 403, 403),
    "GET /v1/notifications":                              (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/notifications/{delivery_id}/resend":        (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    # Issued staff tokens only: the bootstrap token has no address to be told at (403).
    "PUT /v1/notifications/preferences":                  (401, 403, 401, 401, 200, 200, 200, 200, 200, 403),
    # The webhook under test is agency X's: X's administrator and the administrator manage it; Y's
    # administrator may manage Y's only (X's is a 404 to them, and registering one for X a 403).
    "GET /v1/webhooks":                                   (401, 403, 401, 401, 403, 200, 403, 200, 403, 200),
    "POST /v1/webhooks":                                  (401, 403, 401, 401, 403, 201, 403, 403, 403, 201),
    "POST /v1/webhooks/{webhook_id}/enable":              (401, 403, 401, 401, 403, 200, 403, 404, 403, 200),
    "DELETE /v1/webhooks/{webhook_id}":                   (401, 403, 401, 401, 403, 204, 403, 404, 403, 204),
    "GET /v1/agencies":                                   (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /v1/agencies/{agency_id}":                       (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # The directory is the administrator's, even a body's own administrator only reads it.
    "POST /v1/agencies":                                  (401, 403, 401, 401, 403, 403, 403, 403, 403, 201),
    "PATCH /v1/agencies/{agency_id}":                     (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/agencies/{agency_id}/merge":                (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/agencies/{agency_id}/deactivate":           (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    # Units: the body's own agency admin and the administrator (issue 15); the body is a throwaway.
    "GET /v1/agencies/{agency_id}/units":                 (401, 403, 401, 401, 403, 200, 403, 403, 403, 200),
    "GET /v1/agencies/{agency_id}/routing-terms":         (401, 403, 401, 401, 403, 200, 403, 403, 403, 200),
    "POST /v1/agencies/{agency_id}/units":                (401, 403, 401, 401, 403, 201, 403, 403, 403, 201),
    "PATCH /v1/agencies/{agency_id}/units/{slug}":        (401, 403, 401, 401, 403, 200, 403, 403, 403, 200),
    "POST /v1/agencies/{agency_id}/units/{slug}/merge":   (401, 403, 401, 401, 403, 200, 403, 403, 403, 200),
    "POST /v1/agencies/{agency_id}/units/{slug}/deactivate": (401, 403, 401, 401, 403, 200, 403, 403, 403, 200),
    "POST /v1/agencies/{agency_id}/units/import":         (401, 403, 401, 401, 403, 200, 403, 403, 403, 200),
    "GET /v1/routing/suggestions":                        (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "GET /v1/routing/models":                             (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/routing/models/{version}/activate":         (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/routing/history":                           (401, 403, 401, 401, 403, 403, 403, 403, 403, 201),
    "GET /v1/stats":                                      (401, 403, 401, 401, 200, 200, 200, 200, 200, 200),
    "POST /v1/tokens":                                    (401, 403, 401, 401, 403, 403, 403, 403, 403, 201),
    "GET /v1/tokens":                                     (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "DELETE /v1/tokens/{token_id}":                       (401, 403, 401, 401, 403, 403, 403, 403, 403, 204),
    # The administrator's success needs workflow listing, which the time-skipping server lacks: it
    # answers a clear 503 here (tests/integration runs the broadcast on the dev server).
    # Stored, then 503 for the broadcast: send again to deliver it (nothing stored twice).
    "POST /v1/calendar/amendments":                       (401, 403, 401, 401, 403, 403, 403, 403, 403, 503),
    # The effective calendar is public (a reporter token is for its case's paths only); who declared
    # an amendment is shown to administrators and observers.
    "GET /v1/calendar":                                   (200, 200, 401, 401, 200, 200, 200, 200, 200, 200),
    "GET /healthz":                                       (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # Connected bodies (issue 27): their records and forwards are read by administrators and
    # observers, changed by administrators only; the body's system is at a loopback address no
    # test listens on (allow-listed below). The time-skipping server cannot trigger a schedule:
    # "sync now" answers a clear 503 there (the connected agencies' test runs it on dev servers).
    "GET /v1/connected":                                  (401, 403, 401, 401, 403, 403, 403, 403, 200, 200),
    "GET /v1/connected/forwards":                         (401, 403, 401, 401, 403, 403, 403, 403, 200, 200),
    "GET /v1/connected/{agency_id}":                      (401, 403, 401, 401, 403, 403, 403, 403, 200, 200),
    "PUT /v1/connected/{agency_id}":                      (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/connected/{agency_id}/test":                (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /v1/connected/{agency_id}/sync":                (401, 403, 401, 401, 403, 403, 403, 403, 403, 503),
    "DELETE /v1/connected/{agency_id}":                   (401, 403, 401, 401, 403, 403, 403, 403, 403, 204),
    "POST /v1/connected/forwards/{key}/manual":           (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    # Reconciliation visits every open case through workflow listing, like the calendar broadcast:
    # a clear 503 on the time-skipping server (tests/ops/test_operator_cli.py runs it for real).
    "POST /v1/operations/reconcile":                      (401, 403, 401, 401, 403, 403, 403, 403, 403, 503),
    # Personal data (issue 26, docs/privacy.md): the case's own reporter sees, corrects and stops;
    # the reporter or an administrator erases; administrators set and lift holds and audit.
    f"GET {C}/personal-data":                             (401, 403, 200, 401, 403, 403, 403, 403, 403, 403),
    f"PATCH {C}/personal-data":                           (401, 403, 200, 401, 403, 403, 403, 403, 403, 403),
    f"POST {C}/personal-data/withdrawal":                 (401, 403, 200, 401, 403, 403, 403, 403, 403, 403),
    f"POST {C}/personal-data/erasure":                    (401, 403, 200, 401, 403, 403, 403, 403, 403, 200),
    f"POST {C}/privacy-holds":                            (401, 403, 403, 401, 403, 403, 403, 403, 403, 201),
    f"POST {C}/privacy-holds/{{hold_id}}/lift":           (401, 403, 403, 401, 403, 403, 403, 403, 403, 200),
    "GET /v1/privacy/access-log":                         (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "GET /v1/privacy/erasures":                           (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    # Temporal's codec endpoint decrypts every case's payloads: administrators only.
    "POST /codec/decode":                                 (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /codec/encode":                                 (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /codec/workflows/{workflow_id}/decode":         (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "POST /codec/workflows/{workflow_id}/encode":         (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    # Open311's reads are public and ignore bearer tokens: everyone sees the public view (that a
    # staff token shows no more, e.g. no confidential case, is checked in the test further down).
    f"GET {O311}/discovery.{{fmt}}":                      (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    f"GET {O311}/services.{{fmt}}":                       (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    f"GET {O311}/services/{{service_code}}.{{fmt}}":      (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    f"GET {O311}/requests.{{fmt}}":                       (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    f"GET {O311}/requests/{{service_request_id}}.{{fmt}}": (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    f"GET {O311}/servicerequestupdates.{{fmt}}":          (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
}

# Operations without a row: none of them takes a role's bearer token, so a row of statuses per
# role says nothing about them. Each is checked against every caller's token in
# test_operations_with_their_own_scheme_take_no_role_token below, and further where named.
EXCLUDED: dict[str, str] = {
    # Every case of one contact (issue 26): a one-time code sent to that contact, then its access
    # token, never a role's (tests/api/test_personal_data.py: unknown contact, wrong code, no token).
    "POST /v1/personal-data/codes": "anyone; the code goes to the contact itself",
    "POST /v1/personal-data/access": "the one-time code",
    "GET /v1/personal-data": "the contact's access token",
    "POST /v1/personal-data/withdrawal": "the contact's access token",
    "POST /v1/personal-data/erasure": "the contact's access token",
    # The SMS gateway's webhook: authenticated by the gateway's own bearer token
    # (SMS_GATEWAY_INBOUND_TOKEN), never by a role (tests/sms/test_sms.py: no token, a wrong one,
    # none configured).
    "POST /v1/channels/sms": "SMS gateway token",
    # The chat doors' webhooks (issue 30): WhatsApp's signed POSTs (X-Hub-Signature-256 with the
    # app secret) and its verify-token handshake, Telegram's secret token header; never a role
    # (tests/chat: a forged signature or a wrong secret is refused, nothing recorded).
    "GET /v1/channels/whatsapp": "WhatsApp verify token (hub.verify_token)",
    "POST /v1/channels/whatsapp": "WhatsApp app secret signature (X-Hub-Signature-256)",
    "POST /v1/channels/telegram": "Telegram secret token (X-Telegram-Bot-Api-Secret-Token)",
    # Open311 submission: the client application's token as the form's `api_key` (GeoReport v2),
    # a bearer header is not read (tests/open311/test_georeport.py::test_post_errors).
    f"POST {O311}/requests.{{fmt}}": "Open311 api_key (client role)",
    # Open311's token lookup: the token of POST requests' answer needs no key (the spec); a
    # client's own Idempotency-Key needs its `api_key` (tests/open311/test_georeport.py: another
    # client's key 404, a wrong one 403).
    f"GET {O311}/tokens/{{token}}.{{fmt}}": "Open311 token, or api_key (the sending client)",
    # A citizen's comment from the client that sent the request: its `api_key`
    # (tests/open311/test_fixmystreet_flow.py: another client's key 404, a wrong one 403).
    f"POST {O311}/servicerequestupdates.{{fmt}}": "Open311 api_key (the sending client)",
    # Open data (issue 28) is public and reads no token: the same answer for everyone
    # (tests/api/test_open_data.py: the datasets, conditional requests, 404 before the first run).
    "GET /v1/open-data": "public datasets, no token read",
    "GET /v1/open-data/datapackage.json": "public datasets, no token read",
    "GET /v1/open-data/{file}": "public datasets, no token read",
    # A connected body's system fetches a report's files by a signed, expiring link, no token
    # (tests/open311/test_connected.py: the link works, then expires).
    "GET /v1/media/{tracking_id}/{attachment_id}": "signed expiring link (SECRET_KEY), no token",
}

# The status a case must be in for an action, and the action's body.
ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "verification": ("awaiting_verification", {"decision": "accept", "agency_id": WIB_AGENCY}),
    "supplements": ("on_hold", {"text": "Alamat lengkap: Jl. Tjilik Riwut km 5."}),
    "dispositions": ("awaiting_agency", {"unit_id": f"{WIB_AGENCY}/pupr"}),
    "follow-ups": ("awaiting_agency", {"message": "Sudah ditangani."}),
    "reroute": ("awaiting_agency", {"reason": "Jalan nasional, kewenangan Kementerian PU."}),
    "replies": ("awaiting_reporter", {"message": "Belum selesai."}),
    "rating": ("completed", {"score": 4}),
    "satisfaction": ("awaiting_reporter", {}),
}

PARAMS: dict[str, dict[str, str]] = {
    "GET /v1/routing/suggestions": {"text": "Kartu BPJS Kesehatan saya tidak aktif", "region_code": "62.71"},
    "GET /v1/agencies": {"q": "palangkaraya"},
    "GET /v1/calendar": {"year": "2026"},
    "GET /v1/complaints": {"limit": "200"},
    "GET /v1/privacy/erasures": {"month": "2026-12"},
}


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (4, 4), "green").save(out, "PNG")
    return out.getvalue()


PNG = png()


@dataclass
class Case:
    tracking_id: str
    reporter: dict[str, str]


@dataclass
class Target:
    """One request's subject: the path, its body, whose reporter token "reporter" holds (`case`),
    whose staff "officer" and "agency_admin" are (`agency`), and what refusals must leave as it was."""

    path: str
    case: Case | None = None
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    agency: str = WIB_AGENCY
    state: Callable[[], Awaitable[Any]] | None = None


class World:
    """The cases, bodies and tokens the rows need, made through the API as far as it goes."""

    def __init__(self, api: ApiHarness) -> None:
        self.api = api
        self.completed: Case
        self.other_case: Case
        self._attached: tuple[Case, str] | None = None

    async def start(self, completed: bool = True) -> None:
        # The completed case first: getting there takes ten working days, which must not run out
        # the clocks of the cases made afterwards.
        if completed:
            self.completed = await self.new_case("completed")
        self.other_case = await self.new_case("awaiting_verification")

    async def headers(self, role: str, target: Target) -> dict[str, str]:
        api = self.api
        if role == "public":
            return {}
        if role == "reporter":
            return (target.case or self.completed).reporter
        if role == "other_reporter":
            return self.other_case.reporter
        if role == "admin":
            return api.admin
        if role in ("officer", "agency_admin"):
            return await api.headers(role, target.agency)
        if role in ("other_officer", "other_agency_admin"):
            return await api.headers(role.removeprefix("other_"), OTHER_AGENCY)
        return await api.headers(role)  # client, observer

    async def db(self, work: Callable[[Session], T]) -> T:
        """Read or write the read model directly (what the API does not show or cannot do)."""

        def run() -> T:
            with self.api.sessions() as session:
                result = work(session)
                session.commit()
                return result

        return await asyncio.to_thread(run)

    # --- cases ---

    async def new_case(self, status: str) -> Case:
        api = self.api
        receipt = await api.submit(region_code="62.71", title="Jalan berlubang",
                                   description="Lubang besar di Jl. Tjilik Riwut.")
        case = Case(receipt["tracking_id"], bearer(receipt["reporter_token"]))
        if status == "on_hold":
            await api.act_ok(case.tracking_id, "verification", {"decision": "hold", "note": "Lengkapi alamat."},
                             api.admin)
        if status in ("awaiting_agency", "awaiting_reporter", "completed"):
            await api.accept(case.tracking_id, WIB_AGENCY)
        if status in ("awaiting_reporter", "completed"):
            await api.follow_up(case.tracking_id, WIB_AGENCY)
        if status == "completed":
            silence_ends = instant((await api.case(case.tracking_id))["deadlines"]["silence_ends"])
            await api.sleep_until(silence_ends + timedelta(seconds=1))
            await api.eventually(lambda: api.case(case.tracking_id), lambda c: c["status"] == "completed", timeout=10)
        assert (await api.case(case.tracking_id))["status"] == status
        return case

    async def projected(self, case: Case) -> Case:
        """The case, once the read model has it."""
        def row_exists(session: Session) -> bool:
            return session.get(Complaint, case.tracking_id) is not None

        assert await self.api.eventually(lambda: self.db(row_exists), bool), case
        return case

    async def fingerprint(self, case: Case) -> tuple:
        seen = await self.api.case(case.tracking_id)
        return (seen["status"], seen.get("agency_id"), seen.get("unit_id"), len(seen["timeline"]),
                seen.get("rating"), json.dumps(seen.get("deadlines"), sort_keys=True))

    async def attachments(self, case: Case) -> list[str]:
        return await self.db(lambda s: sorted(s.scalars(
            select(Attachment.id).where(Attachment.tracking_id == case.tracking_id))))

    async def attached(self) -> tuple[Case, str]:
        """A case of agency X with one file (the reporter's), shared by the reading rows."""
        if self._attached is None:
            case = await self.new_case("awaiting_agency")
            response = await self.api.http.post(f"/v1/complaints/{case.tracking_id}/attachments",
                                                files={"file": ("foto.png", PNG, "image/png")}, headers=case.reporter)
            assert response.status_code == 201, response.text
            self._attached = (case, response.json()["id"])
        return self._attached

    # --- the directory ---

    async def agency(self) -> str:
        """A throwaway body, active, with no case, unit or token."""
        agency_id = f"uji-matriks-{uuid.uuid4().hex[:8]}"
        body = {"id": agency_id, "name": f"Badan Uji Matriks {agency_id[-8:]}", "kind": "agency"}
        response = await self.api.http.post("/v1/agencies", json=body, headers=self.api.admin)
        assert response.status_code == 201, response.text
        return agency_id

    async def agency_state(self, *agency_ids: str) -> list[tuple]:
        def read(session: Session) -> list[tuple]:
            rows = [session.get(Agency, agency_id) for agency_id in agency_ids]
            return [(r.name, tuple(r.aliases or ()), r.timezone, r.active, r.parent_id, len(r.units)) if r else None
                    for r in rows]

        return await self.db(read)

    # --- notifications ---

    async def webhook(self, agency_id: str, disabled: bool = False) -> str:
        response = await self.api.http.post("/v1/webhooks", headers=self.api.admin, json={
            "url": "https://sistem.palangkaraya.go.id/lapor/hook", "agency_id": agency_id})
        assert response.status_code == 201, response.text
        webhook_id = response.json()["id"]
        if disabled:  # as the deliveries leave it after too many failures
            await self.db(lambda s: s.execute(update(Webhook).where(Webhook.id == webhook_id).values(
                active=False, consecutive_failures=10, disabled_count=1, disabled_at=datetime.now(UTC))))
        return webhook_id

    async def webhook_state(self, webhook_id: str) -> tuple | None:
        def read(session: Session) -> tuple | None:
            row = session.get(Webhook, webhook_id)
            return None if row is None else (row.active, row.consecutive_failures, row.disabled_at, row.url)

        return await self.db(read)

    async def dead_letter(self) -> str:
        """A delivery that ran out of attempts (no delivery worker runs in these tests)."""
        delivery_id = uuid.uuid4().hex
        tracking_id = self.completed.tracking_id
        await self.db(lambda s: s.add(NotificationDelivery(
            id=delivery_id, key=f"{tracking_id}:matrix:{delivery_id}", outbox_key=f"{tracking_id}:matrix",
            tracking_id=tracking_id, event_seq=1, event="submit", party="reporter", recipient_ref="reporter",
            channel="email", address="pelapor@example.id", subject="Laporan diterima", body_text="Laporan diterima.",
            status="failed", attempts=6, last_error="550 mailbox unavailable")))
        return delivery_id

    async def delivery_state(self, delivery_id: str) -> tuple | None:
        def read(session: Session) -> tuple | None:
            row = session.get(NotificationDelivery, delivery_id)
            return None if row is None else (row.status, row.attempts, row.resends, row.next_attempt_at)

        return await self.db(read)

    async def preferences(self) -> list[tuple]:
        return await self.db(lambda s: sorted(
            (r.subject, r.language, r.updated_at) for r in s.scalars(select(NotificationPreference))))


# --- each operation's target ---------------------------------------------------------------------

Maker = Callable[[World], Awaitable[Target]]


def action(name: str) -> Maker:
    async def make(w: World) -> Target:
        status, body = ACTIONS[name]
        case = w.completed if status == "completed" else await w.new_case(status)
        return Target(f"/v1/complaints/{case.tracking_id}/{name}", case, json=body,
                      state=lambda: w.fingerprint(case))

    return make


def fixed(path: str, body: Any = None, state: Callable[[World], Awaitable[Any]] | None = None) -> Maker:
    async def make(w: World) -> Target:
        return Target(path, json=body, state=(lambda: state(w)) if state else None)

    return make


async def read_case(w: World) -> Target:
    case, _ = await w.attached()
    return Target(f"/v1/complaints/{case.tracking_id}", case)


async def similar_cases(w: World) -> Target:
    case, _ = await w.attached()
    return Target(f"/v1/complaints/{case.tracking_id}/similar", case)


async def confirm_pin(w: World) -> Target:
    case, _ = await w.attached()
    return Target(f"/v1/complaints/{case.tracking_id}/pin-confirmation", case,
                  state=lambda: w.db(lambda s: s.get(Complaint, case.tracking_id).pin_confirmed_at))


async def list_files(w: World) -> Target:
    case, _ = await w.attached()
    return Target(f"/v1/complaints/{case.tracking_id}/attachments", case)


async def open311_extras(w: World) -> Target:
    case, _ = await w.attached()
    return Target(f"/v1/complaints/{case.tracking_id}/open311", case)


async def read_file(w: World) -> Target:
    case, attachment_id = await w.attached()
    return Target(f"/v1/complaints/{case.tracking_id}/attachments/{attachment_id}", case)


async def add_file(w: World) -> Target:
    case = await w.new_case("awaiting_agency")

    async def state() -> tuple:
        return await w.fingerprint(case), await w.attachments(case)

    return Target(f"/v1/complaints/{case.tracking_id}/attachments", case,
                  files={"file": ("foto.png", PNG, "image/png")}, state=state)


async def reporter_preferences(w: World) -> Target:
    case = await w.projected(await w.new_case("awaiting_verification"))
    return Target(f"/v1/complaints/{case.tracking_id}/notification-preferences", case,
                  json={"language": "en", "opt_out_non_essential": True}, state=w.preferences)


async def resend(w: World) -> Target:
    delivery_id = await w.dead_letter()
    return Target(f"/v1/notifications/{delivery_id}/resend", state=lambda: w.delivery_state(delivery_id))


async def list_webhooks(w: World) -> Target:
    await w.webhook(WIB_AGENCY)  # something Y's administrator must not be shown
    return Target("/v1/webhooks")


async def webhook_ids(w: World) -> list[str]:
    return await w.db(lambda s: sorted(s.scalars(select(Webhook.id))))


async def enable_webhook(w: World) -> Target:
    webhook_id = await w.webhook(WIB_AGENCY, disabled=True)
    return Target(f"/v1/webhooks/{webhook_id}/enable", state=lambda: w.webhook_state(webhook_id))


async def delete_webhook(w: World) -> Target:
    webhook_id = await w.webhook(WIB_AGENCY)
    return Target(f"/v1/webhooks/{webhook_id}", state=lambda: w.webhook_state(webhook_id))


async def create_agency(w: World) -> Target:
    agency_id = f"uji-matriks-{uuid.uuid4().hex[:8]}"
    return Target("/v1/agencies", json={"id": agency_id, "name": "Badan Baru Uji Matriks", "kind": "agency"},
                  state=lambda: w.agency_state(agency_id))


async def update_agency(w: World) -> Target:
    agency_id = await w.agency()
    return Target(f"/v1/agencies/{agency_id}", agency=agency_id,
                  json={"name": "Badan Berganti Nama", "aliases": ["BBN"], "timezone": "Asia/Jayapura"},
                  state=lambda: w.agency_state(agency_id))


async def merge_agency(w: World) -> Target:
    agency_id, into = await w.agency(), await w.agency()
    return Target(f"/v1/agencies/{agency_id}/merge", agency=agency_id, json={"into": into},
                  state=lambda: w.agency_state(agency_id, into))


async def deactivate_agency(w: World) -> Target:
    agency_id = await w.agency()
    return Target(f"/v1/agencies/{agency_id}/deactivate", agency=agency_id, state=lambda: w.agency_state(agency_id))


async def agency_with_units(w: World, *slugs: str) -> str:
    agency_id = await w.agency()
    for slug in slugs:
        response = await w.api.http.post(f"/v1/agencies/{agency_id}/units", headers=w.api.admin,
                                         json={"slug": slug, "name": f"Bidang {slug}", "kind": "bidang"})
        assert response.status_code == 201, response.text
    return agency_id


async def unit_state(w: World, agency_id: str) -> list[tuple]:
    return await w.db(lambda s: sorted((u.id, u.name, u.active, u.merged_into) for u in s.scalars(
        select(AgencyUnit).where(AgencyUnit.agency_id == agency_id))))


async def list_units(w: World) -> Target:
    agency_id = await agency_with_units(w, "umum")
    return Target(f"/v1/agencies/{agency_id}/units", agency=agency_id)


async def routing_terms(w: World) -> Target:
    return Target(f"/v1/agencies/{WIB_AGENCY}/routing-terms")


async def create_unit(w: World) -> Target:
    agency_id = await w.agency()
    return Target(f"/v1/agencies/{agency_id}/units", agency=agency_id,
                  json={"slug": "kel-baru", "name": "Kelurahan Baru", "kind": "kelurahan"},
                  state=lambda: unit_state(w, agency_id))


async def rename_unit(w: World) -> Target:
    agency_id = await agency_with_units(w, "umum")
    return Target(f"/v1/agencies/{agency_id}/units/umum", agency=agency_id, json={"name": "Bidang Umum Baru"},
                  state=lambda: unit_state(w, agency_id))


async def merge_unit(w: World) -> Target:
    agency_id = await agency_with_units(w, "umum", "teknis")
    return Target(f"/v1/agencies/{agency_id}/units/umum/merge", agency=agency_id, json={"into": "teknis"},
                  state=lambda: unit_state(w, agency_id))


async def deactivate_unit(w: World) -> Target:
    agency_id = await agency_with_units(w, "umum")
    return Target(f"/v1/agencies/{agency_id}/units/umum/deactivate", agency=agency_id,
                  state=lambda: unit_state(w, agency_id))


async def import_units(w: World) -> Target:
    agency_id = await w.agency()
    return Target(f"/v1/agencies/{agency_id}/units/import", agency=agency_id,
                  json={"units": [{"slug": "kec-satu", "name": "Kecamatan Satu", "kind": "kecamatan"}]},
                  state=lambda: unit_state(w, agency_id))


async def routing_state(w: World) -> tuple:
    return await w.db(lambda s: (s.scalar(select(func.count()).select_from(RoutingExample)),
                                 s.scalar(select(RoutingModelVersion.version).where(RoutingModelVersion.active))))


async def activate_model(w: World) -> Target:
    def add(session: Session) -> int:
        # Below every real version's (examples_upto < 0): training later in the session is not blocked.
        lowest = session.scalar(select(func.min(RoutingModelVersion.examples_upto))) or 0
        blob = DecisionMemory().to_bytes()
        row = RoutingModelVersion(examples_upto=min(lowest, 0) - 1, n_examples=0, artefact=blob,
                                  sha256=hashlib.sha256(blob).hexdigest(), active=False, pinned=False, note="uji matriks")
        session.add(row)
        session.flush()
        return row.version

    version = await w.db(add)
    return Target(f"/v1/routing/models/{version}/activate", state=lambda: routing_state(w))


async def revoke_token(w: World) -> Target:
    token_id = (await w.api.issue("observer", name="Dicabut nanti"))["id"]

    async def state() -> Any:
        return await w.db(lambda s: s.get(ApiToken, token_id).revoked_at)

    return Target(f"/v1/tokens/{token_id}", state=state)


async def token_ids(w: World) -> list[str]:
    return await w.db(lambda s: sorted(s.scalars(select(ApiToken.id))))


async def amend_calendar(w: World) -> Target:
    case = await w.new_case("awaiting_agency")  # its deadlines must not move for a refused caller
    return Target("/v1/calendar/amendments", case,
                  json={"holidays": [{"date": "2030-01-02", "name": "Cuti bersama"}], "decree": "SKB uji"},
                  state=lambda: w.fingerprint(case))


async def connected(w: World) -> str:
    """A body connected to its own system at a loopback address no test listens on."""
    from db.connected_models import ConnectedBody
    from domain.sealed import seal
    from activities.connected import API_KEY_PURPOSE

    def connect(session: Session) -> None:
        if session.get(ConnectedBody, WIB_AGENCY) is None:
            session.add(ConnectedBody(
                agency_id=WIB_AGENCY, endpoint="https://127.0.0.1:9/open311/v2/", default_service_code="lainnya",
                api_key_sealed=seal(w.api.settings.secret_keyring, API_KEY_PURPOSE, WIB_AGENCY, "kunci-uji"),
                consecutive_failures=0, sync_failures=0))

    await w.db(connect)
    return WIB_AGENCY


async def connection_state(w: World) -> Any:
    from db.connected_models import ConnectedBody

    return await w.db(lambda s: [(r.endpoint, r.active, r.api_key_sealed, r.last_test_at)
                                 for r in s.scalars(select(ConnectedBody))])


async def connected_body(w: World) -> Target:
    agency_id = await connected(w)
    return Target(f"/v1/connected/{agency_id}", state=lambda: connection_state(w))


async def connect_body(w: World) -> Target:
    return Target(f"/v1/connected/{WIB_AGENCY}", json={
        "endpoint": "https://127.0.0.1:9/open311/v2/", "api_key": "kunci-uji",
        "default_service_code": "lainnya"}, state=lambda: connection_state(w))


async def connection_test(w: World) -> Target:
    agency_id = await connected(w)
    return Target(f"/v1/connected/{agency_id}/test", state=lambda: connection_state(w))


async def connected_sync(w: World) -> Target:
    agency_id = await connected(w)
    return Target(f"/v1/connected/{agency_id}/sync", state=lambda: connection_state(w))


async def forward_by_hand(w: World) -> Target:
    from db.connected_models import ConnectedForward

    agency_id = await connected(w)
    key = f"LAP-UJI{uuid.uuid4().hex[:6].upper()}:3"
    await w.db(lambda s: s.add(ConnectedForward(key=key, tracking_id=key.split(":")[0], event_seq=3,
                                                agency_id=agency_id, kind="request", status="failed", attempts=5)))
    return Target(f"/v1/connected/forwards/{key}/manual", json={"service_request_id": "PKY-2026-0042"},
                  state=lambda: w.db(lambda s: (lambda r: (r.status, r.service_request_id))(s.get(ConnectedForward, key))))


async def personal_data(w: World) -> Target:
    return Target(f"/v1/complaints/{w.completed.tracking_id}/personal-data", w.completed)


def privacy_change(suffix: str, body: Any = None) -> Maker:
    """A case of its own (an erasure or a correction cannot be done twice to one case)."""
    async def make(w: World) -> Target:
        case = await w.new_case("awaiting_verification")

        async def state() -> Any:
            from db.privacy_models import CasePrivacy, PrivacyHold

            def read(session: Session) -> Any:
                privacy = session.get(CasePrivacy, case.tracking_id)
                holds = session.scalars(select(PrivacyHold.lifted_at).where(PrivacyHold.tracking_id == case.tracking_id))
                return (privacy and (privacy.erased_at, privacy.contact_withdrawn_at), list(holds))

            return (await w.fingerprint(case), await w.db(read))

        return Target(f"/v1/complaints/{case.tracking_id}/{suffix}", case, json=body, state=state)

    return make


async def lift_hold(w: World) -> Target:
    made = await privacy_change("privacy-holds")(w)
    response = await w.api.http.post(made.path, json={"kind": "legal_hold", "reason": "Uji matriks"},
                                     headers=w.api.admin)
    assert response.status_code == 201, response.text
    return Target(f"{made.path}/{response.json()['id']}/lift", made.case, json={"reason": "Selesai diuji"},
                  state=made.state)


async def open311_request(w: World) -> Target:
    case, _ = await w.attached()
    return Target(f"{O311}/requests/{case.tracking_id}.json", case)


TARGETS: dict[str, Maker] = {
    "POST /v1/complaints": fixed("/v1/complaints", {"title": "Lampu jalan padam",
                                                    "description": "Sudah seminggu padam."}),
    f"GET {C}": read_case,
    "GET /v1/complaints": fixed("/v1/complaints"),
    **{f"POST {C}/{name}": action(name) for name in ACTIONS},
    f"GET {C}/similar": similar_cases,
    f"POST {C}/pin-confirmation": confirm_pin,
    f"GET {C}/attachments": list_files,
    f"GET {C}/open311": open311_extras,
    f"POST {C}/attachments": add_file,
    f"GET {C}/attachments/{{attachment_id}}": read_file,
    f"PUT {C}/notification-preferences": reporter_preferences,
    "GET /v1/notifications": fixed("/v1/notifications"),
    "POST /v1/notifications/{delivery_id}/resend": resend,
    "PUT /v1/notifications/preferences": fixed("/v1/notifications/preferences", {"language": "en"},
                                               state=World.preferences),
    "GET /v1/webhooks": list_webhooks,
    "POST /v1/webhooks": fixed("/v1/webhooks", {"url": "https://sistem.palangkaraya.go.id/lapor/hook",
                                                "agency_id": WIB_AGENCY}, state=webhook_ids),
    "POST /v1/webhooks/{webhook_id}/enable": enable_webhook,
    "DELETE /v1/webhooks/{webhook_id}": delete_webhook,
    "GET /v1/agencies": fixed("/v1/agencies"),
    "GET /v1/agencies/{agency_id}": fixed(f"/v1/agencies/{WIB_AGENCY}"),
    "POST /v1/agencies": create_agency,
    "PATCH /v1/agencies/{agency_id}": update_agency,
    "POST /v1/agencies/{agency_id}/merge": merge_agency,
    "POST /v1/agencies/{agency_id}/deactivate": deactivate_agency,
    "GET /v1/agencies/{agency_id}/units": list_units,
    "GET /v1/agencies/{agency_id}/routing-terms": routing_terms,
    "POST /v1/agencies/{agency_id}/units": create_unit,
    "PATCH /v1/agencies/{agency_id}/units/{slug}": rename_unit,
    "POST /v1/agencies/{agency_id}/units/{slug}/merge": merge_unit,
    "POST /v1/agencies/{agency_id}/units/{slug}/deactivate": deactivate_unit,
    "POST /v1/agencies/{agency_id}/units/import": import_units,
    "GET /v1/routing/suggestions": fixed("/v1/routing/suggestions"),
    "GET /v1/routing/models": fixed("/v1/routing/models"),
    "POST /v1/routing/models/{version}/activate": activate_model,
    "POST /v1/routing/history": fixed("/v1/routing/history", {"items": [
        {"text": "Lampu jalan padam di depan sekolah", "region_code": "62.71", "agency_id": WIB_AGENCY,
         "unit_id": "dishub", "date": "2025-06-01"}]}, state=routing_state),
    "GET /v1/stats": fixed("/v1/stats"),
    "GET /v1/calendar": fixed("/v1/calendar"),
    "POST /v1/tokens": fixed("/v1/tokens", {"role": "observer", "name": "Pengamat uji"}, state=token_ids),
    "GET /v1/tokens": fixed("/v1/tokens"),
    "DELETE /v1/tokens/{token_id}": revoke_token,
    "POST /v1/calendar/amendments": amend_calendar,
    "GET /healthz": fixed("/healthz"),
    "GET /v1/connected": fixed("/v1/connected"),
    "GET /v1/connected/forwards": fixed("/v1/connected/forwards"),
    "GET /v1/connected/{agency_id}": connected_body,
    "PUT /v1/connected/{agency_id}": connect_body,
    "POST /v1/connected/{agency_id}/test": connection_test,
    "POST /v1/connected/{agency_id}/sync": connected_sync,
    "DELETE /v1/connected/{agency_id}": connected_body,
    "POST /v1/connected/forwards/{key}/manual": forward_by_hand,
    "POST /v1/operations/reconcile": fixed("/v1/operations/reconcile"),
    f"GET {C}/personal-data": personal_data,
    f"PATCH {C}/personal-data": privacy_change("personal-data", {"name": "Nama Perbaikan"}),
    f"POST {C}/personal-data/withdrawal": privacy_change("personal-data/withdrawal"),
    f"POST {C}/personal-data/erasure": privacy_change("personal-data/erasure"),
    f"POST {C}/privacy-holds": privacy_change("privacy-holds", {"kind": "legal_hold", "reason": "Uji matriks"}),
    f"POST {C}/privacy-holds/{{hold_id}}/lift": lift_hold,
    "GET /v1/privacy/access-log": fixed("/v1/privacy/access-log"),
    "GET /v1/privacy/erasures": fixed("/v1/privacy/erasures"),
    "POST /codec/decode": fixed("/codec/decode", {"payloads": []}),
    "POST /codec/encode": fixed("/codec/encode?workflow_id=LAP-0000000000", {"payloads": []}),
    "POST /codec/workflows/{workflow_id}/decode": fixed("/codec/workflows/LAP-0000000000/decode", {"payloads": []}),
    "POST /codec/workflows/{workflow_id}/encode": fixed("/codec/workflows/LAP-0000000000/encode", {"payloads": []}),
    f"GET {O311}/discovery.{{fmt}}": fixed(f"{O311}/discovery.json"),
    f"GET {O311}/services.{{fmt}}": fixed(f"{O311}/services.json"),
    f"GET {O311}/services/{{service_code}}.{{fmt}}": fixed(f"{O311}/services/jalan-jembatan.json"),
    f"GET {O311}/requests.{{fmt}}": fixed(f"{O311}/requests.json"),
    f"GET {O311}/requests/{{service_request_id}}.{{fmt}}": open311_request,
    f"GET {O311}/servicerequestupdates.{{fmt}}": fixed(f"{O311}/servicerequestupdates.json"),
}


# --- what agency staff must not be shown -----------------------------------------------------------

AGENCY_STAFF = {"officer", "agency_admin", "other_officer", "other_agency_admin"}


def own_agency(role: str, target: Target) -> str:
    return OTHER_AGENCY if role.startswith("other_") else target.agency


def agencies_in(endpoint: str, body: Any) -> set[str | None]:
    if endpoint == "GET /v1/complaints":
        return {item.get("agency_id") for item in body["items"]}
    if endpoint == "GET /v1/stats":
        return {item["agency_id"] for item in body["by_agency"]}
    return {item["agency_id"] for item in body}  # GET /v1/webhooks


LEAKS = ("GET /v1/complaints", "GET /v1/stats", "GET /v1/webhooks")


def leak(endpoint: str, role: str, target: Target, body: Any) -> str | None:
    """Agency staff are shown their own agency's cases, counts and webhooks only; the
    administrator is shown agency X's (so that the check above is not empty)."""
    shown = agencies_in(endpoint, body)
    if role in AGENCY_STAFF and not shown <= {own_agency(role, target)}:
        return f"{endpoint} as {role}: shows agencies {sorted(map(str, shown))}"
    if role == "admin" and WIB_AGENCY not in shown:
        return f"{endpoint} as admin: agency {WIB_AGENCY} not shown, the leak check is empty"
    return None


# --- the tests -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def attachment_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The `api` fixture's app stores attachments here (its settings read the environment)."""
    directory = tmp_path / "attachments"
    monkeypatch.setenv("ATTACHMENT_DIR", str(directory))
    return directory


def documented_operations() -> set[str]:
    spec = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_the_matrix_covers_every_operation() -> None:
    documented = documented_operations()
    listed = MATRIX.keys() | EXCLUDED.keys()
    problems = [f"{op}: neither in MATRIX nor in EXCLUDED" for op in sorted(documented - listed)]
    problems += [f"{op}: not in openapi.json (renamed or removed?)" for op in sorted(listed - documented)]
    problems += [f"{op}: both in MATRIX and in EXCLUDED" for op in sorted(MATRIX.keys() & EXCLUDED.keys())]
    problems += [f"{op}: {len(row)} statuses for {len(ROLES)} callers"
                 for op, row in MATRIX.items() if len(row) != len(ROLES)]
    problems += [f"{op}: no target in TARGETS" for op in sorted(MATRIX.keys() - TARGETS.keys())]
    problems += [f"{op}: a target but no row" for op in sorted(TARGETS.keys() - MATRIX.keys())]
    assert not problems, "\n" + "\n".join(problems)


@pytest.mark.api_settings(connected_allowed_hosts=["127.0.0.1"])  # a connected body at loopback
async def test_every_endpoint_for_every_caller(api: ApiHarness) -> None:
    w = World(api)
    await w.start()
    results: dict[str, list[int | None]] = {}
    problems: list[str] = []

    async def call(endpoint: str, role: str, target: Target, headers: dict[str, str]) -> int:
        response = await api.http.request(
            endpoint.split()[0], target.path, json=target.json, files=target.files,
            params=PARAMS.get(endpoint), headers=headers,
        )
        content_type = response.headers.get("content-type", "").split(";")[0]
        if response.status_code >= 400 and not endpoint.startswith(f"GET {O311}") and content_type != PROBLEM_JSON:
            problems.append(f"{endpoint} as {role}: {response.status_code} without problem+json")
        if endpoint in LEAKS and response.status_code == 200:
            if found := leak(endpoint, role, target, response.json()):
                problems.append(found)
        return response.status_code

    for endpoint, expected in MATRIX.items():
        make = TARGETS[endpoint]
        reads = endpoint.startswith("GET ")
        got: list[int | None] = [None] * len(ROLES)
        shared = await make(w)
        # Every token issued before the snapshot: issuing one on first use is a change too.
        headers = {role: await w.headers(role, shared) for role in ROLES}
        before = await shared.state() if shared.state else None
        for i, role in enumerate(ROLES):
            if expected[i] is not None and expected[i] >= 400:
                got[i] = await call(endpoint, role, shared, headers[role])
        if shared.state and (after := await shared.state()) != before:
            problems.append(f"{endpoint}: refused callers changed it: {before} -> {after}")
        target: Target | None = shared
        for i, role in enumerate(ROLES):
            if expected[i] is not None and expected[i] < 400:
                target = target or await make(w)
                got[i] = await call(endpoint, role, target, await w.headers(role, target))
                if not reads:
                    target = None  # the next caller gets a target of their own
        results[endpoint] = got

    width = max(map(len, MATRIX))
    mismatches = [
        f"{endpoint:{width}} {role:19} expected {want}, got {have}"
        for endpoint, expected in MATRIX.items()
        for role, want, have in zip(ROLES, expected, results[endpoint])
        if want != have
    ]
    assert not mismatches + problems, "\n" + "\n".join(mismatches + problems)


GATEWAY = "gateway-secret-for-the-matrix"


@pytest.mark.api_settings(sms_gateway_inbound_token=GATEWAY)
async def test_operations_with_their_own_scheme_take_no_role_token(api: ApiHarness) -> None:
    """The EXCLUDED operations against every caller's token: the SMS gateway's webhook only takes
    the gateway's token, Open311 only a client application's `api_key` (never a bearer header),
    and no staff token shows Open311 more than the public sees."""
    w = World(api)
    w.completed = await w.new_case("awaiting_verification")  # whose token "reporter" holds
    await w.start(completed=False)
    target = Target("", w.completed)  # only for the callers' headers
    tokens = {role: (await w.headers(role, target)).get("Authorization", "").removeprefix("Bearer ") for role in ROLES}
    problems: list[str] = []

    def check(what: str, role: str, response: httpx.Response, want: int) -> None:
        if response.status_code != want:
            problems.append(f"{what} as {role}: expected {want}, got {response.status_code}: {response.text[:200]}")

    sms = {"from": "+6281234567890", "text": "STATUS LAP-0000000000"}
    for role in ROLES:
        headers = await w.headers(role, target)
        check("POST /v1/channels/sms", role, await api.http.post("/v1/channels/sms", json=sms, headers=headers), 401)
    check("POST /v1/channels/sms", "the gateway",
          await api.http.post("/v1/channels/sms", json=sms, headers=bearer(GATEWAY)), 200)

    form = {"service_code": "jalan-jembatan", "description": "Jalan berlubang besar di depan pasar.",
            "attribute[region]": "62.71", "lat": "-2.2096", "long": "113.9213"}
    sent: dict[str, str] = {}  # role -> Idempotency-Key of an accepted request
    sent_id = ""
    for role in ROLES:
        key = f"matriks-{role}"
        data = form | ({"api_key": tokens[role]} if tokens[role] else {})
        response = await api.http.post(f"{O311}/requests.json", data=data, headers={"Idempotency-Key": key})
        check(f"POST {O311}/requests.json with api_key", role, response, 200 if role == "client" else 403)
        if response.status_code == 200:
            sent[role], sent_id = key, response.json()[0]["service_request_id"]
        # The bearer header is not Open311's scheme, not even the administrator's.
        response = await api.http.post(f"{O311}/requests.json", data=form, headers=await w.headers(role, target))
        check(f"POST {O311}/requests.json with a bearer header", role, response, 403)
    assert sent.keys() == {"client"}, problems
    for role in ROLES:
        params = {"api_key": tokens[role]} if tokens[role] else {}
        response = await api.http.get(f"{O311}/tokens/{sent['client']}.json", params=params)
        check(f"GET {O311}/tokens/{{token}}.json", role, response,
              200 if role == "client" else 403 if tokens[role] else 404)
        comment = {"service_request_id": sent_id, "update_id": f"matriks-{role}", "description": "Masih rusak."}
        response = await api.http.post(f"{O311}/servicerequestupdates.json",
                                       data=comment | ({"api_key": tokens[role]} if tokens[role] else {}))
        check(f"POST {O311}/servicerequestupdates.json with api_key", role, response, 200 if role == "client" else 403)
        response = await api.http.post(f"{O311}/servicerequestupdates.json", data=comment,
                                       headers=await w.headers(role, target))
        check(f"POST {O311}/servicerequestupdates.json with a bearer header", role, response, 403)

    confidential = (await api.submit(region_code="62.71", confidential=True))["tracking_id"]
    for role in ROLES:
        headers = await w.headers(role, target)
        response = await api.http.get(f"{O311}/requests/{confidential}.json", headers=headers)
        check(f"GET {O311}/requests/{{confidential}}.json", role, response, 404)
    assert not problems, "\n" + "\n".join(problems)
