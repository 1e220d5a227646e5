"""Every error of the contract, each as RFC 9457 problem+json with type, title, status and detail."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from server import create_app
from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem, bearer, settings_for

VALID = {"title": "Jalan berlubang", "description": "Lubang besar di depan pasar.", "region_code": "62.71"}


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- 400 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        cursor_of(["not a date", "LAP-0000000000"]),
        cursor_of(["2026-12-01T00:00:00", "LAP-0000000000"]),  # no offset
        cursor_of({"submitted_at": "2026-12-01T00:00:00+00:00"}),
        cursor_of([1, 2]),
    ],
    ids=["not-base64-json", "not-a-date", "naive-instant", "object", "numbers"],
)
async def test_bad_cursor_is_400(api: ApiHarness, cursor: str) -> None:
    response = await api.http.get("/v1/complaints", params={"cursor": cursor}, headers=api.admin)
    assert_problem(response, 400)


# --- 401 / 403 / 404 ----------------------------------------------------------------------------


async def test_bad_and_revoked_tokens_are_401(api: ApiHarness) -> None:
    for header in ("Bearer nonsense", "Bearer sp4n_unknown", "Basic YWRtaW46YWRtaW4=", "Bearer ", "Bearer rt_forged"):
        response = await api.http.get("/v1/stats", headers={"Authorization": header})
        assert_problem(response, 401)
        assert response.headers.get("www-authenticate") == "Bearer", header

    issued = await api.issue("observer", name="Auditor sementara")
    observer = bearer(issued["token"])
    assert (await api.http.get("/v1/stats", headers=observer)).status_code == 200
    revoked = await api.http.delete(f"/v1/tokens/{issued['id']}", headers=api.admin)
    assert revoked.status_code == 204
    assert_problem(await api.http.get("/v1/stats", headers=observer), 401)
    listed = {t["id"]: t for t in (await api.http.get("/v1/tokens", headers=api.admin)).json()}
    assert listed[issued["id"]]["revoked_at"] is not None
    assert "token" not in listed[issued["id"]]
    # Revoking twice is harmless; an unknown id is 404.
    assert (await api.http.delete(f"/v1/tokens/{issued['id']}", headers=api.admin)).status_code == 204
    assert_problem(await api.http.delete("/v1/tokens/no-such-token", headers=api.admin), 404)


async def test_403_and_404(api: ApiHarness) -> None:
    assert_problem(await api.http.get("/v1/stats", headers=await api.headers("client")), 403)
    assert_problem(
        await api.http.post("/v1/tokens", json={"role": "admin", "name": "x"},
                           headers=await api.headers("agency_admin", WIB_AGENCY)),
        403,
    )
    assert_problem(
        await api.http.post("/v1/complaints", json=VALID | {"channel": "walk_in"}), 403
    )  # walk-in is recorded by staff
    assert_problem(await api.get("LAP-0000000000"), 404)
    assert_problem(await api.get("LAP-0000000000", api.admin), 404)
    assert_problem(await api.act("LAP-0000000000", "replies", {"message": "x"}, api.admin), 404)
    assert_problem(await api.http.get("/v1/agencies/no-such-agency"), 404)
    assert_problem(await api.http.get("/v1/no-such-route"), 404)
    assert_problem(await api.http.put("/v1/stats", headers=api.admin), 405)


# --- 409 -----------------------------------------------------------------------------------------


async def test_actions_invalid_in_the_current_status_are_409(api: ApiHarness) -> None:
    receipt = await api.submit(**VALID)
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    assert_problem(await api.act(tracking_id, "supplements", {"text": "x"}, reporter), 409)  # not on hold
    await api.accept(tracking_id)
    second = assert_problem(
        await api.act(tracking_id, "verification", {"decision": "accept", "agency_id": WIB_AGENCY}, api.admin), 409
    )
    assert second["type"] == "urn:sp4n:conflict"
    assert_problem(await api.act(tracking_id, "replies", {"message": "x"}, reporter), 409)  # nothing to reply to
    assert_problem(await api.act(tracking_id, "rating", {"score": 5}, reporter), 409)  # not completed
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_agency" and len(case["timeline"]) == 2  # nothing happened

    # An archived case takes no action at all (its workflow has finished).
    rejected = await api.submit(**VALID)
    archived = await api.act_ok(
        rejected["tracking_id"], "verification", {"decision": "reject", "reason": "not_a_complaint"}, api.admin
    )
    assert archived["status"] == "archived" and archived["archive_reason"] == "not_a_complaint"
    await api.settle()
    assert_problem(
        await api.act(rejected["tracking_id"], "verification", {"decision": "hold"}, api.admin), 409
    )


# --- 413 -----------------------------------------------------------------------------------------


async def test_body_over_the_limit_is_413(api: ApiHarness) -> None:
    limit = api.settings.max_body_bytes
    big = VALID | {"category": "x", "location": {"lat": 0, "lon": 0, "address": "y" * (limit + 10)}}
    assert_problem(await api.http.post("/v1/complaints", json=big), 413)

    async def chunks() -> AsyncIterator[bytes]:
        payload = json.dumps(big).encode()
        for start in range(0, len(payload), 4096):
            yield payload[start:start + 4096]

    # Streamed (chunked, no Content-Length): the limit still holds.
    streamed = await api.http.post("/v1/complaints", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413)
    # Nothing was submitted.
    assert await api.listed_ids() == []


# --- 422 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (VALID | {"title": "   "}, "title"),
        (VALID | {"title": "J" * 201}, "title"),
        (VALID | {"description": "d" * 20_001}, "description"),
        (VALID | {"description": ""}, "description"),
        ({"title": "Tanpa uraian"}, "description"),
        (VALID | {"region_code": "99.01"}, "region_code"),
        (VALID | {"region_code": "62-71"}, "region_code"),
        (VALID | {"region_code": "20"}, "region_code"),
        (VALID | {"region_code": "97.01"}, "region_code"),
        (VALID | {"report_type": "keluhan"}, "report_type"),
        (VALID | {"anonymous": "mungkin"}, "anonymous"),
        (VALID | {"location": {"lat": 91, "lon": 0}}, "location"),
        (VALID | {"reporter": {"name": "Siti", "ktp": "6271..."}}, "reporter"),
        (VALID | {"priority": "tinggi"}, "priority"),
    ],
    ids=[
        "blank-title", "title-201", "description-20001", "empty-description", "missing-description",
        "unknown-province", "malformed-region", "code-20-between-provinces", "code-97-after-papua",
        "unknown-report-type", "not-a-boolean", "latitude-91",
        "unknown-reporter-field", "unknown-field",
    ],
)
async def test_invalid_submissions_are_422(api: ApiHarness, body: dict, where: str) -> None:
    problem = assert_problem(await api.http.post("/v1/complaints", json=body), 422)
    assert any(where in [str(part) for part in error["loc"]] for error in problem.get("errors", [])), problem


@pytest.mark.parametrize("code", ["62.99", "62.71.99", "11.99.01.1001"])
async def test_a_regency_or_district_not_in_its_province_is_422(api: ApiHarness, code: str) -> None:
    problem = assert_problem(await api.http.post("/v1/complaints", json=VALID | {"region_code": code}), 422)
    assert code.split(".")[0] in problem["detail"] and problem["type"] == "urn:sp4n:unknown-region"


async def test_limits_are_exact(api: ApiHarness) -> None:
    receipt = await api.submit(title="J" * 200, description="d" * 20_000, region_code="63.71")
    case = await api.case(receipt["tracking_id"])
    assert len(case["title"]) == 200 and len(case["description"]) == 20_000
    # Titles are trimmed, not refused, when they have text.
    receipt = await api.submit(title="  Lampu padam  ")
    assert (await api.case(receipt["tracking_id"]))["title"] == "Lampu padam"


async def test_invalid_actions_and_queries_are_422(api: ApiHarness) -> None:
    receipt = await api.submit(**VALID)
    tracking_id = receipt["tracking_id"]
    cases = [
        ("verification", {"decision": "accept", "agency_id": "no-such-agency"}),
        ("verification", {"decision": "accept"}),
        ("verification", {"decision": "reject"}),  # a reason is required
        ("verification", {"decision": "reject", "reason": "duplicate"}),  # which original?
        ("verification", {"decision": "approve", "agency_id": WIB_AGENCY}),
        ("verification", {"decision": "accept", "agency_id": WIB_AGENCY, "extra": 1}),
    ]
    for action, body in cases:
        assert_problem(await api.act(tracking_id, action, body, api.admin), 422)
    assert (await api.case(tracking_id))["status"] == "awaiting_verification"

    await api.accept(tracking_id)
    agency_admin = await api.headers("agency_admin", WIB_AGENCY)
    assert_problem(await api.act(tracking_id, "dispositions", {"unit_id": "pemprov-51/pupr"}, agency_admin), 422)
    assert_problem(await api.act(tracking_id, "follow-ups", {"message": "   "}, agency_admin), 422)
    assert_problem(await api.act(tracking_id, "follow-ups", {}, agency_admin), 422)

    for params in ({"limit": 0}, {"limit": 201}, {"status": "open"}, {"overdue": "maybe"},
                   {"submitted_from": "2026-12-01T00:00:00"}, {"submitted_to": "kemarin"}):
        assert_problem(await api.http.get("/v1/complaints", params=params, headers=api.admin), 422)
    assert_problem(await api.http.get("/v1/agencies", params={"region_code": "Kalteng"}), 422)
    assert_problem(await api.http.get("/v1/routing/suggestions", params={"text": ""}, headers=api.admin), 422)
    for body in ({"role": "officer", "name": "Tanpa instansi"},
                 {"role": "officer", "agency_id": "no-such-agency", "name": "x"},
                 {"role": "observer", "agency_id": WIB_AGENCY, "name": "x"},
                 {"role": "superuser", "name": "x"},
                 {"role": "observer", "name": ""}):
        assert_problem(await api.http.post("/v1/tokens", json=body, headers=api.admin), 422)
    # Not JSON at all.
    response = await api.http.post("/v1/complaints", content=b"{title: ", headers={"content-type": "application/json"})
    assert_problem(response, 422)


# --- 429 -----------------------------------------------------------------------------------------


@pytest.mark.api_settings(submission_rate_limit_per_minute=3)
async def test_submission_rate_limit_is_429_with_retry_after(api: ApiHarness) -> None:
    accepted = {(await api.submit(**VALID))["tracking_id"] for _ in range(3)}
    response = await api.http.post("/v1/complaints", json=VALID)
    assert_problem(response, 429)
    assert 1 <= int(response.headers["retry-after"]) <= 61
    # Per client: another caller still gets through, and reads are not limited.
    other = await api.http.post("/v1/complaints", json=VALID, headers=await api.headers("client"))
    assert other.status_code == 201
    assert (await api.http.get("/v1/agencies")).status_code == 200
    # The refused submission made no case.
    accepted.add(other.json()["tracking_id"])
    assert sorted(await api.wait_listed(accepted)) == sorted(accepted)


# --- 503 and health -----------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_temporal_unreachable_is_503_quickly(api_database_url: str) -> None:
    settings = settings_for(
        api_database_url, temporal_address=f"127.0.0.1:{closed_port()}", dependency_timeout_seconds=1.0
    )
    app = create_app(settings)  # no injected client: the API connects itself, and cannot
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sp4n.test") as http:
            for method, path, body in (
                ("POST", "/v1/complaints", VALID),
                ("GET", "/v1/complaints/LAP-0000000000", None),
                ("POST", "/v1/complaints/LAP-0000000000/replies", {"message": "x"}),
            ):
                started = time.monotonic()
                response = await http.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {settings.sp4n_admin_token}"}
                )
                elapsed = time.monotonic() - started
                assert_problem(response, 503)
                assert response.headers.get("retry-after"), path
                assert elapsed < 5, f"{method} {path} took {elapsed:.1f} s"

            started = time.monotonic()
            health = await http.get("/healthz")
            assert time.monotonic() - started < 5
            assert health.status_code == 503
            assert health.json() == {"api": "ok", "temporal": "unavailable", "database": "ok"}
            # The database still answers what needs only the database.
            assert (await http.get("/v1/agencies/pemkot-62.71")).status_code == 200


async def test_healthz_all_ok(api: ApiHarness) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"api": "ok", "temporal": "ok", "database": "ok"}
