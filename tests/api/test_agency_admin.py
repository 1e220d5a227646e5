"""Administrators edit the directory: create, rename, merge, deactivate; no open case is lost.

Bodies are created per test (unique ids): on PostgreSQL the seeded directory is shared by the
tests of a session, so editing a seeded body here would leak into others.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem


def new_id(prefix: str = "uji") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create(api: ApiHarness, **fields: Any) -> dict[str, Any]:
    body = {"id": new_id(), "name": f"Badan Uji {uuid.uuid4().hex[:6]}", "kind": "agency"} | fields
    response = await api.http.post("/v1/agencies", json=body, headers=api.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def flagged(api: ApiHarness) -> list[str]:
    return await api.listed_ids(needs_rerouting="true")


async def test_only_administrators_edit_the_directory(api: ApiHarness) -> None:
    body = await create(api)
    for role, agency in (("officer", WIB_AGENCY), ("agency_admin", WIB_AGENCY), ("observer", None)):
        headers = await api.headers(role, agency)
        attempts = [
            api.http.post("/v1/agencies", json={"id": new_id(), "name": "Badan Lain", "kind": "agency"}, headers=headers),
            api.http.patch(f"/v1/agencies/{body['id']}", json={"name": "Nama Lain"}, headers=headers),
            api.http.post(f"/v1/agencies/{body['id']}/merge", json={"into": WIB_AGENCY}, headers=headers),
            api.http.post(f"/v1/agencies/{body['id']}/deactivate", headers=headers),
        ]
        for attempt in attempts:
            assert_problem(await attempt, 403)
    assert_problem(await api.http.post(f"/v1/agencies/{body['id']}/deactivate"), 401)
    assert (await api.http.get(f"/v1/agencies/{body['id']}")).json()["name"] == body["name"]


async def test_create_and_rename_keeps_the_old_name_as_an_alias(api: ApiHarness) -> None:
    body = await create(api, name="Badan Riset Daerah Uji", kind="agency", region_code="63.71",
                        aliases=["BRIDA Uji"])
    assert body["timezone"] == "Asia/Makassar" and body["active"] and body["aliases"] == ["BRIDA Uji"]
    duplicate = await api.http.post("/v1/agencies", json={"id": body["id"], "name": "Lagi", "kind": "agency"},
                                    headers=api.admin)
    assert_problem(duplicate, 409)

    response = await api.http.patch(f"/v1/agencies/{body['id']}", json={"name": "Badan Riset dan Inovasi Uji"},
                                     headers=api.admin)
    assert response.status_code == 200, response.text
    renamed = response.json()
    assert renamed["name"] == "Badan Riset dan Inovasi Uji"
    assert renamed["aliases"] == ["BRIDA Uji", "Badan Riset Daerah Uji"]
    # The directory search still finds it by the old name.
    found = (await api.http.get("/v1/agencies", params={"q": "Riset Daerah Uji"})).json()["items"]
    assert [a["id"] for a in found] == [body["id"]]
    assert_problem(await api.http.patch(f"/v1/agencies/{new_id()}", json={"name": "X Y Z"}, headers=api.admin), 404)


async def test_deactivated_body_open_cases_are_flagged_and_it_accepts_no_new_ones(api: ApiHarness) -> None:
    body = await create(api)
    officer = await api.headers("officer", body["id"])  # issued while the body is active
    held = (await api.submit(title="Izin usaha tidak diproses"))["tracking_id"]
    await api.accept(held, body["id"])
    untouched = (await api.submit(title="Jalan rusak"))["tracking_id"]
    await api.accept(untouched, WIB_AGENCY)
    await api.wait_listed({held}, agency_id=body["id"])
    assert await flagged(api) == []

    response = await api.http.post(f"/v1/agencies/{body['id']}/deactivate", headers=api.admin)
    assert response.status_code == 200, response.text
    assert response.json()["flagged_cases"] == 1 and response.json()["agency"]["active"] is False
    assert await flagged(api) == [held]
    assert_problem(await api.http.get(f"/v1/agencies/{body['id']}"), 404)

    # It no longer receives cases.
    fresh = (await api.submit(title="Laporan baru"))["tracking_id"]
    refused = await api.act(fresh, "verification", {"decision": "accept", "agency_id": body["id"]}, api.admin)
    assert_problem(refused, 422)

    # A later projection of the case (the body's officer answers) keeps the flag.
    await api.act_ok(held, "follow-ups", {"message": "Sedang diproses."}, officer)
    await api.eventually(lambda: api.case(held), lambda case: case["status"] == "awaiting_reporter")
    await api.wait_listed({held}, status="awaiting_reporter")
    assert await flagged(api) == [held]
    assert_problem(await api.http.post(f"/v1/agencies/{body['id']}/deactivate", headers=api.admin), 404)


async def test_merge_moves_names_and_units_and_flags_the_open_cases(api: ApiHarness) -> None:
    merged = await create(api, name="Dinas Pariwisata Uji", aliases=["Dispar Uji"])
    target = await create(api, name="Dinas Kebudayaan dan Pariwisata Uji")
    case = (await api.submit(title="Tiket wisata mahal"))["tracking_id"]
    await api.accept(case, merged["id"])
    await api.wait_listed({case}, agency_id=merged["id"])

    assert_problem(await api.http.post(f"/v1/agencies/{merged['id']}/merge", json={"into": merged["id"]},
                                       headers=api.admin), 422)
    response = await api.http.post(f"/v1/agencies/{merged['id']}/merge", json={"into": target["id"]},
                                   headers=api.admin)
    assert response.status_code == 200, response.text
    change = response.json()
    assert change["flagged_cases"] == 1
    assert change["agency"]["id"] == target["id"]
    assert set(change["agency"]["aliases"]) == {"Dinas Pariwisata Uji", "Dispar Uji"}
    assert_problem(await api.http.get(f"/v1/agencies/{merged['id']}"), 404)
    assert await flagged(api) == [case]
    found = (await api.http.get("/v1/agencies", params={"q": "Dispar Uji"})).json()["items"]
    assert [a["id"] for a in found] == [target["id"]]

    # Accepted to the body it joined (after the case came back): the flag is cleared.
    fresh = (await api.submit(title="Pemandu wisata liar"))["tracking_id"]
    await api.accept(fresh, target["id"])
    await api.wait_listed({fresh}, agency_id=target["id"])
    assert await flagged(api) == [case]


async def test_a_new_body_naming_an_unknown_province_or_parent_is_a_422(api: ApiHarness) -> None:
    # Both were 500/404 until the schema fuzz test found them.
    for wrong in ({"region_code": "00"}, {"parent_id": "tidak-ada"}):
        body = {"id": new_id(), "name": "Badan Uji Coba", "kind": "agency"} | wrong
        assert_problem(await api.http.post("/v1/agencies", json=body, headers=api.admin), 422)
