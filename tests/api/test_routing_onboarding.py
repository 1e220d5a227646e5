"""Onboarding a city (issue 15): its agency admin manages its units (create, rename, merge,
deactivate, bulk CSV); open cases of a merged or deactivated unit are flagged, never lost; the
administrator imports its past complaints (all or nothing), sees the learned versions, rolls back;
suggestions show up to three units per body."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from db.models import RoutingExample
from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, post_form, sign_in


async def new_body(api: ApiHarness) -> str:
    agency_id = f"pemkot-uji-{uuid.uuid4().hex[:8]}"
    body = {"id": agency_id, "name": f"Pemerintah Kota Uji {agency_id[-8:]}", "kind": "agency"}
    response = await api.http.post("/v1/agencies", json=body, headers=api.admin)
    assert response.status_code == 201, response.text
    return agency_id


async def units(api: ApiHarness, agency_id: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await api.http.get(f"/v1/agencies/{agency_id}/units", headers=headers)
    assert response.status_code == 200, response.text
    return {u["id"]: u for u in response.json()}


async def test_an_agency_admin_manages_its_own_units(api: ApiHarness) -> None:
    agency_id = await new_body(api)
    admin = await api.headers("agency_admin", agency_id)
    csv = "slug,name,kind\ndinas-taman,Dinas Pertamanan,dinas\nkel-menteng,Kelurahan Menteng,kelurahan\n"
    response = await api.http.post(f"/v1/agencies/{agency_id}/units/import", content=csv.encode(),
                                   headers=admin | {"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "renamed": 0, "unchanged": 0}

    response = await api.http.patch(f"/v1/agencies/{agency_id}/units/dinas-taman", json={"name": "Dinas Taman Kota"},
                                    headers=admin)
    assert response.status_code == 200 and response.json()["name"] == "Dinas Taman Kota"
    response = await api.http.post(f"/v1/agencies/{agency_id}/units", headers=admin,
                                   json={"slug": "kel-cikini", "name": "Kelurahan Cikini", "kind": "kelurahan"})
    assert response.status_code == 201, response.text
    assert_problem(await api.http.post(f"/v1/agencies/{agency_id}/units", headers=admin,
                                       json={"slug": "kel-cikini", "name": "Lagi", "kind": "kelurahan"}), 409)

    # A case disposed to the Cikini office; the office merges into Menteng's: the case is flagged.
    case = (await api.submit(title="Saluran tersumbat"))["tracking_id"]
    await api.accept(case, agency_id)
    await api.act_ok(case, "dispositions", {"unit_id": f"{agency_id}/kel-cikini"}, admin)
    await api.eventually(lambda: api.case(case), lambda c: c.get("unit_id") == f"{agency_id}/kel-cikini")
    response = await api.http.post(f"/v1/agencies/{agency_id}/units/kel-cikini/merge", json={"into": "kel-menteng"},
                                   headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["flagged_cases"] == 1
    assert response.json()["unit"] == {"id": f"{agency_id}/kel-cikini", "name": "Kelurahan Cikini",
                                       "kind": "kelurahan", "active": False, "merged_into": f"{agency_id}/kel-menteng"}
    assert await api.listed_ids(needs_redisposition="true") == [case]
    # The merged unit takes no new disposition and is gone from the public directory, not from the case.
    assert_problem(await api.act(case, "dispositions", {"unit_id": f"{agency_id}/kel-cikini"}, admin), 422)
    public = (await api.http.get(f"/v1/agencies/{agency_id}")).json()
    assert f"{agency_id}/kel-cikini" not in {u["id"] for u in public["units"]}
    assert (await api.case(case))["unit_id"] == f"{agency_id}/kel-cikini"
    # Disposed again: no longer flagged.
    await api.act_ok(case, "dispositions", {"unit_id": f"{agency_id}/kel-menteng"}, admin)
    await api.eventually(lambda: api.listed_ids(needs_redisposition="true"), lambda ids: case not in ids)
    assert case not in await api.listed_ids(needs_redisposition="true")

    response = await api.http.post(f"/v1/agencies/{agency_id}/units/dinas-taman/deactivate", headers=admin)
    assert response.status_code == 200 and response.json()["unit"]["active"] is False
    listed = await units(api, agency_id, admin)
    assert [u["active"] for u in listed.values()] == [False, False, True]


async def test_units_of_another_body_are_not_an_agency_admins(api: ApiHarness) -> None:
    agency_id, other = await new_body(api), await new_body(api)
    admin = await api.headers("agency_admin", other)
    for attempt in (
        api.http.post(f"/v1/agencies/{agency_id}/units", json={"slug": "x", "name": "Bidang X"}, headers=admin),
        api.http.post(f"/v1/agencies/{agency_id}/units/import", content=b"slug,name\nx,Bidang X\n",
                      headers=admin | {"content-type": "text/csv"}),
    ):
        assert_problem(await attempt, 403)


async def test_a_bad_unit_import_imports_nothing(api: ApiHarness) -> None:
    agency_id = await new_body(api)
    csv = "slug,name\nbaik,Bidang Baik\nBURUK SEKALI,Bidang Buruk\nbaik,Bidang Baik Lagi\n"
    problem = assert_problem(await api.http.post(f"/v1/agencies/{agency_id}/units/import", content=csv.encode(),
                                                 headers=api.admin | {"content-type": "text/csv"}), 422)
    # Rows as the file numbers its lines (the header is line 1), every error, and their total.
    assert "baris 3, kolom slug" in problem["detail"] and "misalnya 'buruk-sekali'" in problem["detail"]
    assert "baris 4, kolom slug: slug baik berulang (sudah di baris 2)" in problem["detail"]
    assert problem["total"] == 2 and [e["row"] for e in problem["errors"]] == [3, 4]
    assert await units(api, agency_id, api.admin) == {}
    assert_problem(await api.http.post(f"/v1/agencies/{agency_id}/units/import", content=b"x",
                                       headers=api.admin | {"content-type": "text/plain"}), 415)


async def test_a_city_history_import_is_validated_and_learned(api: ApiHarness) -> None:
    agency_id = await new_body(api)
    response = await api.http.post(f"/v1/agencies/{agency_id}/units", headers=api.admin,
                                   json={"slug": "pertamanan", "name": "Dinas Pertamanan", "kind": "dinas"})
    assert response.status_code == 201
    marker = uuid.uuid4().hex[:8]
    bad = (f"text,region_code,agency_id,unit_id,date\nPohon tumbang {marker},62.71,{agency_id},pertamanan,2025-01-02\n"
           f"Taman rusak {marker},62.71,{agency_id},tidak-ada,2025-01-03\n")
    problem = assert_problem(await api.http.post("/v1/routing/history", content=bad.encode(),
                                                 headers=api.admin | {"content-type": "text/csv"}), 422)
    assert problem["unknown_units"] == [f"{agency_id}/tidak-ada"]
    assert problem["total"] == 1 and problem["errors"][0]["row"] == 3 and problem["errors"][0]["column"] == "unit_id"
    assert "(unit aktif: pertamanan)" in problem["errors"][0]["message"]
    # A semicolon file with a control character: detected, and stripped when asked.
    semicolon = f"text;agency_id;unit_id\nPohon tumbang\x07 {marker};{agency_id};pertamanan\n"
    problem = assert_problem(await api.http.post("/v1/routing/history", content=semicolon.encode(),
                                                 headers=api.admin | {"content-type": "text/csv"}), 422)
    assert problem["errors"] == [{"row": 2, "column": "text", "message":
                                  "karakter kendali U+0007; pakai --strip-control-characters untuk membuangnya"}]
    stripped = await api.http.post("/v1/routing/history", content=semicolon.encode(),
                                   params={"strip_control_characters": "true"},
                                   headers=api.admin | {"content-type": "text/csv"})
    assert stripped.status_code == 201 and stripped.json()["imported"] == 1

    def stored() -> int:
        with api.sessions() as session:
            return len(session.scalars(select(RoutingExample.id).where(RoutingExample.text.contains(marker))).all())

    assert stored() == 1  # only the stripped row: nothing of a refused file is half-imported
    trees = ["Pohon angsana di taman kota tumbang menimpa pagar", "Dahan pohon di taman menjuntai ke kabel listrik",
             "Rumput taman kota tinggi tidak dipangkas", "Pohon peneduh di median jalan miring hampir tumbang"]
    good = {"items": [{"text": f"{t} {marker}", "agency_id": agency_id, "unit_id": "pertamanan", "date": "2025-02-01"}
                      for t in trees]}
    response = await api.http.post("/v1/routing/history", json=good, headers=api.admin)
    assert response.status_code == 201 and response.json()["imported"] == 4
    assert stored() == 5
    # Learned at once: the import trained and activated a version (RoutingTrainingWorkflow on the
    # worker) before answering; no retrain poll to wait for.
    imported = response.json()
    assert imported["model_version"] is not None and imported["active"], imported
    version = SimpleNamespace(version=imported["model_version"])
    models = (await api.http.get("/v1/routing/models", headers=api.admin)).json()
    assert models["versions"][0]["version"] == version.version and models["versions"][0]["active"]
    response = await api.http.get("/v1/routing/suggestions", headers=api.admin,
                                  params={"text": "Pohon besar di taman tumbang, dahan patah"})
    suggestions = response.json()
    mine = next(s for s in suggestions if s["agency_id"] == agency_id)
    assert mine["model_version"].endswith(f"+m{version.version}")
    assert mine["units"][0]["unit_id"] == f"{agency_id}/pertamanan" and mine["units"][0]["reason"]
    assert len(mine["units"]) <= 3

    response = await api.http.post("/v1/routing/history", headers=api.admin, json={"items": [
        {"text": f"Lampu taman mati {marker}", "agency_id": agency_id}]})
    assert response.status_code == 201 and response.json()["active"]
    assert response.json()["model_version"] > version.version
    response = await api.http.post(f"/v1/routing/models/{version.version}/activate", headers=api.admin)
    assert response.status_code == 200, response.text
    assert response.json()["active"] and response.json()["pinned"]  # a rollback: newer versions wait
    response = await api.http.get("/v1/routing/suggestions", headers=api.admin,
                                  params={"text": "Pohon besar di taman tumbang, dahan patah"})
    assert all(s["model_version"].endswith(f"+m{version.version}") for s in response.json())
    assert_problem(await api.http.post("/v1/routing/models/999999/activate", headers=api.admin), 404)


@PORTAL
async def test_the_dispose_form_offers_the_suggested_units_first(api: ApiHarness) -> None:
    case = (await api.submit(title="Lampu jalan mati", region_code="62.71",
                             description="Lampu jalan mati seminggu dan jalan berlubang di depannya."))["tracking_id"]
    async with browser(api) as admin, browser(api) as agency_admin:
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        await api.eventually(lambda: api.case(case), lambda c: bool(c.get("suggestions")))
        queue = (await admin.get("/admin/verifikasi")).text
        model = (await api.case(case))["suggestions"][0]["model_version"]
        assert f'data-testid="model-version">Model perutean: {model}<' in queue  # which model suggested
        await api.accept(case, WIB_AGENCY)
        created = await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Rina Kota", "email": "rina@palangkaraya.go.id", "role": "agency_admin", "agency_id": WIB_AGENCY,
            "password": "agency-password-1"})
        assert created.status_code == 303, created.text
        assert (await sign_in(agency_admin, "rina@palangkaraya.go.id", "agency-password-1")).status_code == 303
        await api.eventually(lambda: api.case(case), lambda c: c["status"] == "awaiting_agency")
        page = await agency_admin.get(f"/kasus/{case}")
    assert page.status_code == 200
    suggested = page.text.split('data-testid="suggested-units"')[1].split("</ul>")[0]
    assert "Dinas Perhubungan" in suggested and "urusan lalu lintas/angkutan" in suggested
    options = re.findall(r'<option value="([^"]+)"', page.text.split('id="unit_id"')[1].split("</select>")[0])
    assert set(options[:2]) == {f"{WIB_AGENCY}/dishub", f"{WIB_AGENCY}/pupr"}  # suggested first
    assert len(options) == len(set(options))  # each unit once


@PORTAL
async def test_an_agency_admin_manages_units_in_the_portal(api: ApiHarness) -> None:
    agency_id = await new_body(api)
    async with browser(api) as admin, browser(api) as city, browser(api) as stranger:
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        for name, email, agency in (("Dewi", "dewi@kota-uji.go.id", agency_id), ("Made", "made@baliprov.go.id", "pemprov-51")):
            created = await post_form(admin, "/admin/staf", "/admin/staf", {
                "name": name, "email": email, "role": "agency_admin", "agency_id": agency, "password": "agency-password-1"})
            assert created.status_code == 303, created.text
        await sign_in(city, "dewi@kota-uji.go.id", "agency-password-1")
        await sign_in(stranger, "made@baliprov.go.id", "agency-password-1")
        page = f"/staf/unit/{agency_id}"
        assert f'href="{page}"' in (await city.get("/staf")).text  # in the navigation
        # Which of the body's name and aliases route complaints to it (issue 22).
        assert 'data-testid="routing-terms"' in (await city.get(page)).text
        imported = await post_form(city, page, f"{page}/impor", {
            "csv": "slug,name,kind\nkec-satu,Kecamatan Satu,kecamatan\nkel-dua,Kelurahan Dua,kelurahan\n"})
        assert imported.status_code == 303, imported.text
        renamed = await post_form(city, page, f"{page}/kel-dua/nama", {"name": "Kelurahan Dua Baru"})
        assert renamed.status_code == 303
        asked = await post_form(city, page, f"{page}/kel-dua/gabung", {"into": "kec-satu"})  # no JavaScript
        assert asked.status_code == 200 and 'data-testid="confirm-question"' in asked.text
        assert "Gabungkan unit kel-dua ke kec-satu?" in asked.text
        merged = await post_form(city, page, f"{page}/kel-dua/gabung", {"into": "kec-satu", "confirmed": "1"})
        assert merged.status_code == 303
        bad = await post_form(city, page, f"{page}/impor", {"csv": "slug,name\nSALAH BESAR,X\n"})
        assert bad.status_code == 422 and 'data-testid="form-errors"' in bad.text
        assert (await stranger.get(page)).status_code == 403
    listed = await units(api, agency_id, api.admin)
    assert listed[f"{agency_id}/kel-dua"] == {"id": f"{agency_id}/kel-dua", "name": "Kelurahan Dua Baru",
                                              "kind": "kelurahan", "active": False,
                                              "merged_into": f"{agency_id}/kec-satu"}
    assert listed[f"{agency_id}/kec-satu"]["active"]


@PORTAL
async def test_an_administrator_rolls_back_the_routing_model_in_the_portal(api: ApiHarness) -> None:
    versions = []
    for text in ("Pohon tumbang di taman kota", "Lampu taman mati sejak minggu lalu"):
        response = await api.http.post("/v1/routing/history", headers=api.admin,
                                       json={"items": [{"text": f"{text} {uuid.uuid4().hex[:6]}", "agency_id": WIB_AGENCY}]})
        assert response.status_code == 201 and response.json()["active"]  # trained by the import itself
        versions.append(SimpleNamespace(version=response.json()["model_version"]))
    older, newer = versions
    async with browser(api) as admin:
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        page = await post_form(admin, "/admin/perutean", f"/admin/perutean/{older.version}", {})
        assert page.status_code == 303, page.text
        shown = (await admin.get("/admin/perutean")).text
    row = shown.split(f"<code>m{older.version}</code>")[1].split("</tr>")[0]
    assert "aktif (dipilih admin)" in row
    assert f'data-testid="activate-{newer.version}"' in shown  # the newer one can be activated again


@PORTAL
async def test_an_administrator_imports_history_in_the_portal_and_it_is_learned_at_once(api: ApiHarness) -> None:
    marker = uuid.uuid4().hex[:8]
    async with browser(api) as admin:
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        bad = f"text;agency_id\nPohon tumbang {marker};{WIB_AGENCY}\nTaman rusak {marker};pemkot-6271\n"
        refused = await post_form(admin, "/admin/perutean", "/admin/perutean-impor", {"csv": bad})
        assert refused.status_code == 422 and 'data-testid="form-errors"' in refused.text
        assert "baris 3, kolom agency_id" in refused.text and "maksud Anda: pemkot-62.71" in refused.text
        good = f"text;agency_id\nPohon tumbang di taman {marker};{WIB_AGENCY}\nTaman kota rusak\x07 {marker};{WIB_AGENCY}\n"
        imported = await post_form(admin, "/admin/perutean", "/admin/perutean-impor",
                                   {"csv": good, "strip_control_characters": "1"})
        assert imported.status_code == 303, imported.text
        landing = (await admin.get(imported.headers["location"])).text
    assert "2 baris diimpor." in landing and "dilatih dan aktif" in landing
    version = re.search(r"Versi m(\d+) dilatih", landing).group(1)
    response = await api.http.get("/v1/routing/suggestions", headers=api.admin, params={"text": "Pohon tumbang di taman"})
    assert any(s["model_version"].endswith(f"+m{version}") for s in response.json())
