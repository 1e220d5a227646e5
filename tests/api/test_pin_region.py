"""A pin outside its case's region (issue 22, item 5): stored with a flag, not refused; kept off
public reads and duplicate scoring until an administrator confirms it."""

from __future__ import annotations

from tests.api.conftest import WIB_AGENCY, ApiHarness

MAKASSAR = {"lat": -5.1477, "lon": 119.4327}
PALANGKA_RAYA = {"lat": -2.2096, "lon": 113.9108}
RUBBISH = dict(title="Sampah menumpuk di tepi Sungai Kahayan", region_code="62.71", category="lingkungan",
               description="Sampah menumpuk di tepi sungai dekat dermaga, baunya menyengat sampai ke rumah warga.")


async def test_a_pin_outside_the_region_is_flagged_hidden_from_the_public_and_confirmed_by_the_verifier(
        api: ApiHarness) -> None:
    outside_receipt = await api.submit(**RUBBISH, location=MAKASSAR)
    inside_receipt = await api.submit(**RUBBISH, location=PALANGKA_RAYA)
    # The client is told at once, as the report form's map tells the citizen.
    assert outside_receipt["pin_outside_region"] is True and inside_receipt["pin_outside_region"] is False
    outside, inside = outside_receipt["tracking_id"], inside_receipt["tracking_id"]
    await api.wait_listed({outside, inside})

    seen = await api.case(outside)
    assert seen["pin_outside_region"] is True and seen["location"]["lat"] == MAKASSAR["lat"]
    assert (await api.case(inside))["pin_outside_region"] is False
    await api.accept(outside, WIB_AGENCY)
    await api.accept(inside, WIB_AGENCY)
    await api.settle()

    public = (await api.get(outside)).json()
    assert "location" not in public and "pin_outside_region" not in public
    assert (await api.get(inside)).json()["location"]["lat"] == PALANGKA_RAYA["lat"]
    map_points = (await api.http.get("/publik/peta.json")).json()["points"]
    assert [p["id"] for p in map_points] == [inside]

    # Only the verifier confirms; then the pin is the case's like any other.
    officer = await api.headers("officer", WIB_AGENCY)
    refused = await api.http.post(f"/v1/complaints/{outside}/pin-confirmation", headers=officer)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    confirmed = await api.http.post(f"/v1/complaints/{outside}/pin-confirmation", headers=api.admin)
    assert confirmed.status_code == 200 and confirmed.json() == {"cleared": True}
    after = await api.case(outside)
    assert after["pin_outside_region"] is False and after["pin_confirmed_by"] and after["pin_confirmed_at"]
    assert [e["action"] for e in after["timeline"]][-1] == "pin_confirmed"  # the timeline says so
    assert after["timeline"][-1]["actor_role"] == "admin" and after["status"] == "awaiting_agency"
    again = await api.http.post(f"/v1/complaints/{outside}/pin-confirmation", headers=api.admin)
    assert again.json() == {"cleared": False}  # nothing left to confirm: no second entry
    assert [e["action"] for e in (await api.case(outside))["timeline"]].count("pin_confirmed") == 1
    assert (await api.get(outside)).json()["location"]["lat"] == MAKASSAR["lat"]
    await api.settle()  # a later projection keeps the confirmation
    assert (await api.case(outside))["pin_outside_region"] is False
    assert {p["id"] for p in (await api.http.get("/publik/peta.json")).json()["points"]} == {inside, outside}


async def test_duplicate_scoring_ignores_a_flagged_pin(api: ApiHarness) -> None:
    first = (await api.submit(**RUBBISH, location=MAKASSAR))["tracking_id"]
    second = (await api.submit(**RUBBISH, location=MAKASSAR))["tracking_id"]
    near_inside = (await api.submit(**RUBBISH, location=PALANGKA_RAYA))["tracking_id"]
    await api.wait_listed({first, second, near_inside})

    items = (await api.http.get(f"/v1/complaints/{second}/similar", headers=api.admin)).json()["items"]
    assert {i["tracking_id"] for i in items} == {first, near_inside}  # found by region and words
    for item in items:
        assert "distance" not in [r["kind"] for r in item["reasons"]]  # never by the outside pin

    await api.http.post(f"/v1/complaints/{first}/pin-confirmation", headers=api.admin)
    await api.http.post(f"/v1/complaints/{second}/pin-confirmation", headers=api.admin)
    items = (await api.http.get(f"/v1/complaints/{second}/similar", headers=api.admin)).json()["items"]
    by_id = {i["tracking_id"]: [r["kind"] for r in i["reasons"]] for i in items}
    assert "distance" in by_id[first]  # confirmed pins count again


SURABAYA = {"lat": -7.2575, "lon": 112.7521}


async def test_a_pin_without_a_region_gives_the_case_its_regency_and_the_region_rule(api: ApiHarness) -> None:
    """An API or Open311 client sending a position and no region_code: the case's region is the
    pin's regency, so it is routed inside that region (not by the text alone, to Kota Semarang)."""
    tracking_id = (await api.submit(title="Parkir liar", description="Parkir liar di bahu jalan bikin macet.",
                                    location=SURABAYA))["tracking_id"]
    at_sea = (await api.submit(location={"lat": -6.0, "lon": 110.0}))["tracking_id"]  # the Java Sea
    await api.wait_listed({tracking_id, at_sea})
    case = await api.case(tracking_id)
    assert case["region_code"] == "35.78" and case["pin_outside_region"] is False
    assert case["suggestions"] and case["suggestions"][0]["agency_id"] == "pemkot-35.78"
    assert all(s.get("region_code") in (None, "35", "35.78") for s in case["suggestions"])
    assert "region_code" not in await api.case(at_sea) or (await api.case(at_sea))["region_code"] is None

    from tests.open311.test_georeport import client_key, form, post
    key = await client_key(api)
    [created] = (await post(api, form(key, lat="-7.2575", long="112.7521", address_string="Jl. Tunjungan",
                                      **{"attribute[region]": ""}))).json()
    assert (await api.case(created["service_request_id"]))["region_code"] == "35.78"
