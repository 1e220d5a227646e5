"""Every endpoint × every kind of caller, with the status each must get.

The case under test is with agency X (`pemkot-62.71`); "other" agency staff are Y's
(`pemprov-51`). An action's failing callers all try one case first (and must leave it exactly as
it was); each caller who may act then gets a case of their own in the status the action needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tests.api.conftest import OTHER_AGENCY, PROBLEM_JSON, WIB_AGENCY, ApiHarness, bearer
from tests.api.deadlines import instant

ROLES = (
    "public", "client", "reporter", "other_reporter", "officer", "agency_admin",
    "other_officer", "other_agency_admin", "observer", "admin",
)

#                                         public client  rep  other  off  a.adm  Yoff Yadm  obs  admin
MATRIX: dict[str, tuple[int | None, ...]] = {
    "POST /v1/complaints":                  (201, 201, 401, 401, 201, 201, 201, 201, 201, 201),
    "GET /v1/complaints/{id}":              (200, 200, 200, 401, 200, 200, 404, 404, 200, 200),
    "GET /v1/complaints":                   (401, 403, 401, 401, 200, 200, 200, 200, 200, 200),
    "POST /v1/complaints/{id}/verification": (401, 403, 403, 401, 404, 404, 404, 404, 403, 200),
    "POST /v1/complaints/{id}/supplements": (401, 403, 200, 401, 404, 404, 404, 404, 403, 403),
    "POST /v1/complaints/{id}/dispositions": (401, 403, 403, 401, 403, 200, 404, 404, 403, 403),
    "POST /v1/complaints/{id}/follow-ups":  (401, 403, 403, 401, 200, 200, 404, 404, 403, 403),
    "POST /v1/complaints/{id}/reroute":     (401, 403, 403, 401, 403, 200, 404, 404, 403, 403),
    "POST /v1/complaints/{id}/replies":     (401, 403, 200, 401, 403, 403, 404, 404, 403, 200),
    "POST /v1/complaints/{id}/rating":      (401, 403, 200, 401, 403, 403, 404, 404, 403, 403),
    "GET /v1/agencies":                     (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /v1/agencies/{agency}":            (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /v1/routing/suggestions":          (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "GET /v1/stats":                        (401, 403, 401, 401, 200, 200, 200, 200, 200, 200),
    "POST /v1/tokens":                      (401, 403, 401, 401, 403, 403, 403, 403, 403, 201),
    "GET /v1/tokens":                       (401, 403, 401, 401, 403, 403, 403, 403, 403, 200),
    "DELETE /v1/tokens/{token}":            (401, 403, 401, 401, 403, 403, 403, 403, 403, 204),
    # The administrator's success needs workflow listing, which the time-skipping server lacks: it
    # answers a clear 503 here (tests/integration runs the broadcast on the dev server).
    "POST /v1/calendar/amendments":         (401, 403, 401, 401, 403, 403, 403, 403, 403, 503),
    "GET /healthz":                         (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
}

# The status a case must be in for the action, and the action's body.
ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "verification": ("awaiting_verification", {"decision": "accept", "agency_id": WIB_AGENCY}),
    "supplements": ("on_hold", {"text": "Alamat lengkap: Jl. Tjilik Riwut km 5."}),
    "dispositions": ("awaiting_agency", {"unit_id": f"{WIB_AGENCY}/pupr"}),
    "follow-ups": ("awaiting_agency", {"message": "Sudah ditangani."}),
    "reroute": ("awaiting_agency", {"reason": "Jalan nasional, kewenangan Kementerian PU."}),
    "replies": ("awaiting_reporter", {"message": "Belum selesai."}),
    "rating": ("completed", {"score": 4}),
}

BODIES: dict[str, Any] = {
    "POST /v1/complaints": {"title": "Lampu jalan padam", "description": "Sudah seminggu padam."},
    "POST /v1/tokens": {"role": "observer", "name": "Pengamat uji"},
    "POST /v1/calendar/amendments": {"holidays": [{"date": "2030-01-02", "name": "Cuti bersama"}]},
}
PARAMS: dict[str, dict[str, str]] = {
    "GET /v1/routing/suggestions": {"text": "Kartu BPJS Kesehatan saya tidak aktif", "region_code": "62.71"},
    "GET /v1/agencies": {"q": "palangkaraya"},
}


@dataclass
class Case:
    tracking_id: str
    reporter: dict[str, str]


class Callers:
    """Headers for each role; `reporter` is the case's own token, bound per case."""

    def __init__(self, api: ApiHarness, other_case: Case) -> None:
        self.api, self.other_case = api, other_case
        self.staff: dict[str, dict[str, str]] = {}

    async def load(self) -> None:
        api = self.api
        self.staff = {
            "public": {},
            "client": await api.headers("client"),
            "officer": await api.headers("officer", WIB_AGENCY),
            "agency_admin": await api.headers("agency_admin", WIB_AGENCY),
            "other_officer": await api.headers("officer", OTHER_AGENCY),
            "other_agency_admin": await api.headers("agency_admin", OTHER_AGENCY),
            "observer": await api.headers("observer"),
            "admin": api.admin,
        }

    def __call__(self, role: str, case: Case) -> dict[str, str]:
        if role == "reporter":
            return case.reporter
        if role == "other_reporter":
            return self.other_case.reporter
        return self.staff[role]


async def new_case(api: ApiHarness, status: str) -> Case:
    receipt = await api.submit(region_code="62.71", title="Jalan berlubang", description="Lubang besar di Jl. Tjilik Riwut.")
    case = Case(receipt["tracking_id"], bearer(receipt["reporter_token"]))
    if status == "on_hold":
        await api.act_ok(case.tracking_id, "verification", {"decision": "hold", "note": "Lengkapi alamat."}, api.admin)
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


def fingerprint(case: dict[str, Any]) -> tuple:
    return (case["status"], case.get("agency_id"), case.get("unit_id"), len(case["timeline"]), case.get("rating"))


async def test_every_endpoint_for_every_caller(api: ApiHarness) -> None:
    # The completed case first: getting there takes ten working days, which must not run out
    # the clocks of the cases made afterwards.
    completed = await new_case(api, "completed")
    other_case = await new_case(api, "awaiting_verification")
    callers = Callers(api, other_case)
    await callers.load()
    results: dict[str, list[int | None]] = {}
    problems: list[str] = []

    async def call(endpoint: str, role: str, case: Case, path: str, body: Any = None) -> int:
        response = await api.http.request(
            endpoint.split()[0], path, json=body, params=PARAMS.get(endpoint), headers=callers(role, case)
        )
        if response.status_code >= 400 and response.headers.get("content-type", "").split(";")[0] != PROBLEM_JSON:
            problems.append(f"{endpoint} as {role}: {response.status_code} without problem+json")
        return response.status_code

    for endpoint, expected in MATRIX.items():
        template = endpoint.split()[1]
        got: list[int | None] = [None] * len(ROLES)
        action = template.rsplit("/", 1)[-1] if template.startswith("/v1/complaints/{id}/") else None

        if action:
            status, body = ACTIONS[action]
            shared = completed if status == "completed" else await new_case(api, status)
            before = fingerprint(await api.case(shared.tracking_id))
            path = template.replace("{id}", shared.tracking_id)
            for i, role in enumerate(ROLES):
                if expected[i] is not None and expected[i] >= 400:
                    got[i] = await call(endpoint, role, shared, path, body)
            after = fingerprint(await api.case(shared.tracking_id))
            if after != before:
                problems.append(f"{endpoint}: refused callers changed the case: {before} -> {after}")
            fresh = shared
            for i, role in enumerate(ROLES):
                if expected[i] is not None and expected[i] < 400:
                    case = fresh or await new_case(api, status)
                    fresh = None
                    got[i] = await call(endpoint, role, case, template.replace("{id}", case.tracking_id), body)
        else:
            case = await new_case(api, "awaiting_agency")
            token = await api.issue("observer", name="Dicabut nanti") if "{token}" in template else None
            path = (template.replace("{id}", case.tracking_id).replace("{agency}", WIB_AGENCY)
                    .replace("{token}", token["id"] if token else ""))
            # Refusals first, so that a success (e.g. revoking the token) cannot hide one.
            order = sorted(range(len(ROLES)), key=lambda i: (expected[i] or 0) < 400)
            for i in order:
                if expected[i] is not None:
                    got[i] = await call(endpoint, ROLES[i], case, path, BODIES.get(endpoint))
                    if token and expected[i] >= 400:
                        still = await api.http.get("/v1/stats", headers=bearer(token["token"]))
                        if still.status_code != 200:
                            problems.append(f"{endpoint} as {ROLES[i]} (refused) revoked the token anyway")
        results[endpoint] = got

    mismatches = [
        f"{endpoint:40} {role:19} expected {want}, got {have}"
        for endpoint, expected in MATRIX.items()
        for role, want, have in zip(ROLES, expected, results[endpoint])
        if want != have
    ]
    assert not mismatches + problems, "\n" + "\n".join(mismatches + problems)
