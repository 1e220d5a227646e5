"""GET /v1/complaints/{id}/similar and merging a duplicate through the API (issue 19)."""

from __future__ import annotations

from sqlalchemy import select

from db.portal_models import CaseFollower
from tests.api.conftest import OTHER_AGENCY, WIB_AGENCY, ApiHarness

LIGHT = dict(title="Lampu jalan mati di Jl. Tjilik Riwut", region_code="62.71",
             description="Lampu penerangan jalan mati sejak seminggu, gelap dan rawan kecelakaan.",
             category="infrastruktur", location={"lat": -2.2, "lon": 113.9})


async def test_staff_see_the_likely_duplicates_with_scores_and_reasons(api: ApiHarness) -> None:
    original = (await api.submit(**LIGHT))["tracking_id"]
    unrelated = (await api.submit(title="KTP elektronik belum jadi", region_code="62.71",
                                  description="Tiga bulan KTP saya belum dicetak."))["tracking_id"]
    new = (await api.submit(title="Lampu PJU padam di Tjilik Riwut", region_code="62.71",
                            description="Sudah seminggu lampu penerangan jalan mati, gelap sekali.",
                            category="infrastruktur", location={"lat": -2.2005, "lon": 113.9005}))["tracking_id"]
    await api.wait_listed({original, unrelated, new})

    response = await api.http.get(f"/v1/complaints/{new}/similar", headers=api.admin)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["tracking_id"] for i in items] == [original]
    best = items[0]
    assert best["likely_duplicate"] and 0.45 <= best["score"] <= 1
    assert [r["kind"] for r in best["reasons"]] == ["text", "regency", "category", "distance"]
    assert best["reporters"] == 1 and best["supporters"] == 0

    # Agency staff: only their agency's cases (none of these is with an agency yet); the public: 401.
    await api.accept(original, WIB_AGENCY)
    await api.accept(new, WIB_AGENCY)
    await api.settle()
    officer = await api.headers("officer", WIB_AGENCY)
    assert [i["tracking_id"] for i in (await api.http.get(f"/v1/complaints/{new}/similar", headers=officer)).json()["items"]] == [original]
    other = await api.headers("officer", OTHER_AGENCY)
    assert (await api.http.get(f"/v1/complaints/{new}/similar", headers=other)).status_code == 404
    public = await api.http.get(f"/v1/complaints/{new}/similar")
    assert public.status_code == 401 and public.headers["content-type"].startswith("application/problem+json")


async def test_rejecting_as_a_duplicate_names_an_existing_original_and_makes_a_follower(api: ApiHarness) -> None:
    original = (await api.submit(**LIGHT))["tracking_id"]
    duplicate = (await api.submit(**LIGHT, reporter={"email": "kedua@warga.example"}))["tracking_id"]
    await api.wait_listed({original, duplicate})

    for body, detail in (
        ({"decision": "reject", "reason": "duplicate"}, "duplicate_of"),
        ({"decision": "reject", "reason": "duplicate", "duplicate_of": "LAP-NOPE"}, "LAP-NOPE"),
        ({"decision": "reject", "reason": "duplicate", "duplicate_of": duplicate}, "dirinya sendiri"),
    ):
        refused = await api.act(duplicate, "verification", body, api.admin)
        assert refused.status_code == 422 and detail in refused.json()["detail"], refused.text

    merged = await api.act_ok(duplicate, "verification",
                              {"decision": "reject", "reason": "duplicate", "duplicate_of": original}, api.admin)
    assert merged["status"] == "archived" and merged["duplicate_of"] == original
    await api.settle()
    with api.sessions() as session:
        followers = session.scalars(select(CaseFollower).where(CaseFollower.tracking_id == original)).all()
    assert [(f.follower_key, f.email) for f in followers] == [(f"duplicate:{duplicate}", None)]

    # A duplicate of a duplicate must name the original instead.
    third = (await api.submit(**LIGHT))["tracking_id"]
    await api.wait_listed({third})
    chained = await api.act(third, "verification",
                            {"decision": "reject", "reason": "duplicate", "duplicate_of": duplicate}, api.admin)
    assert chained.status_code == 422 and original in chained.json()["detail"]
    # The original is no longer offered as similar to itself nor the archived duplicate to anyone.
    items = (await api.http.get(f"/v1/complaints/{third}/similar", headers=api.admin)).json()["items"]
    assert [i["tracking_id"] for i in items] == [original] and items[0]["reporters"] == 2
