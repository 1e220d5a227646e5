"""The body an agency suggests when it returns a case ("Bukan wewenang kami", issue 22/23): a body
of the directory the verifier can forward to, named on the queue card and on the case page, and
marked when it is another region's government than the case's (the region rule)."""

from __future__ import annotations

from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem
from tests.api.test_portal import PORTAL, browser, post_form, report
from tests.api.test_portal_stories import agency_admin_of, signed_in_admin

pytestmark = PORTAL


async def test_a_return_suggests_only_a_body_of_the_directory(api: ApiHarness) -> None:
    tracking_id = (await api.submit(region_code="62.71"))["tracking_id"]
    await api.accept(tracking_id, WIB_AGENCY)
    await api.settle()
    chief = await api.headers("agency_admin", WIB_AGENCY)

    unknown = await api.act(tracking_id, "reroute", {"reason": "Jalan provinsi.", "suggested_agency_id": "Dinas PU Prov"},
                            chief)
    assert "Dinas PU Prov" in assert_problem(unknown, 422)["detail"]
    itself = await api.act(tracking_id, "reroute", {"reason": "Jalan provinsi.", "suggested_agency_id": WIB_AGENCY}, chief)
    assert_problem(itself, 422)
    assert (await api.case(tracking_id))["status"] == "awaiting_agency"  # nothing happened

    await api.act_ok(tracking_id, "reroute", {"reason": "Jalan provinsi.", "suggested_agency_id": "pemprov-62"}, chief)
    assert (await api.case(tracking_id))["status"] == "awaiting_verification"


async def test_the_verifier_reads_the_return_on_the_case_page_and_another_regions_suggestion_is_marked(
        api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as agency:
        tracking_id, _ = await report(api, citizen)  # Kota Palangkaraya
        await signed_in_admin(admin)
        await api.accept(tracking_id, WIB_AGENCY)
        await api.settle()
        await agency_admin_of(admin, agency)

        # A name that fits no body is refused on the agency's page; the case stays with it.
        unknown = await post_form(agency, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/bukan-wewenang",
                                  {"reason": "Kewenangan kota lain.", "suggested_agency_id": "Dinas Antah Berantah"})
        assert unknown.status_code == 422 and "Dinas Antah Berantah" in unknown.text
        await api.settle()
        assert (await api.case(tracking_id))["status"] == "awaiting_agency"

        returned = await post_form(agency, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/bukan-wewenang",
                                   {"reason": "Kewenangan Kota Semarang.", "suggested_agency_id": "pemkot-33.74"})
        assert returned.status_code == 303
        await api.settle()

        card = (await admin.get("/admin/verifikasi")).text
        assert 'data-testid="returned-suggested">Pemerintah Kota Semarang<' in card
        assert 'data-testid="returned-suggested-elsewhere"' in card and "di luar wilayah laporan" in card

        page = (await admin.get(f"/kasus/{tracking_id}")).text
        top = page.split('data-testid="timeline"', 1)[0]  # said before the history, as on the card
        assert 'data-testid="returned"' in top
        assert "Dikembalikan oleh Pemerintah Kota Palangkaraya" in top and "Kepala Bagian Pengaduan" in top
        assert "<q>Kewenangan Kota Semarang.</q>" in top and "di luar wilayah laporan" in top
        english = (await admin.get(f"/kasus/{tracking_id}", params={"lang": "en"})).text
        assert "Returned by Pemerintah Kota Palangkaraya" in english and "another region&#39;s government" in english


async def test_a_suggestion_inside_the_region_is_not_marked(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as agency:
        tracking_id, _ = await report(api, citizen)
        await signed_in_admin(admin)
        await api.accept(tracking_id, WIB_AGENCY)
        await api.settle()
        await agency_admin_of(admin, agency)
        await post_form(agency, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/bukan-wewenang",
                        {"reason": "Jalan provinsi.", "suggested_agency_id": "pemprov-62"})
        await api.settle()
        card = (await admin.get("/admin/verifikasi")).text
        assert 'data-testid="returned-suggested">Pemerintah Provinsi Kalimantan Tengah<' in card
        assert 'data-testid="returned-suggested-elsewhere"' not in card


async def test_another_regions_government_asks_for_confirmation_however_it_is_chosen(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin:
        tracking_id, _ = await report(api, citizen)  # Kota Palangkaraya
        await signed_in_admin(admin)
        action = f"/kasus/{tracking_id}/verifikasi?next=/admin/verifikasi"
        # The suggestions' select, not the typed field: a form posted as it likes.
        chosen = await post_form(admin, "/admin/verifikasi", action, {"decision": "accept", "agency_id": "pemkot-33.74"})
        assert chosen.status_code == 422 and "di luar wilayah laporan ini" in chosen.text
        await api.settle()
        assert (await api.case(tracking_id))["status"] == "awaiting_verification"
        confirmed = await post_form(admin, "/admin/verifikasi", action, {
            "decision": "accept", "agency_id": "pemkot-33.74", "confirm_other_region": "1"})
        assert confirmed.status_code == 303
        await api.settle()
        assert (await api.case(tracking_id))["agency_id"] == "pemkot-33.74"
