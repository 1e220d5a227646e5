"""ARCHITECTURE.md, Privacy: who sees the reporter's identity, confidential cases, staff names."""

from __future__ import annotations

import pytest

from tests.api.conftest import OTHER_AGENCY, WIB_AGENCY, ApiHarness, assert_problem, bearer

IDENTITY = {"name": "Siti Rahma", "email": "siti.rahma@example.id", "phone": "+6281255550101"}  # as stored (E.164)
LOCATION = {"lat": -2.2096, "lon": 113.9135, "address": "Jl. Tjilik Riwut km 5, depan rumah saya"}
ADMIN_NAME = "Admin Nasional Budi Santoso"
OFFICER_NAME = "Petugas PUPR Rina Wulandari"


def leaks(text: str, values: list[str]) -> list[str]:
    return [value for value in values if value in text]


async def test_anonymous_reporter_identity_only_for_admin_observer_and_reporter(api: ApiHarness) -> None:
    receipt = await api.submit(
        title="Pungutan liar di kantor kelurahan",
        description="Petugas meminta uang untuk surat pengantar.",
        region_code="62.71",
        anonymous=True,
        location=LOCATION,
        reporter=IDENTITY,
    )
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    await api.accept(tracking_id, WIB_AGENCY)
    await api.follow_up(tracking_id, WIB_AGENCY)

    sees = {
        "admin": api.admin,
        "observer": await api.headers("observer"),
        "reporter": reporter,
    }
    for who, headers in sees.items():
        case = (await api.get(tracking_id, headers)).json()
        assert case["reporter"] == IDENTITY, who
        assert case["location"] == LOCATION, who

    secret = list(IDENTITY.values()) + [LOCATION["address"]]
    blind = {
        "public": {},
        "client": await api.headers("client"),
        "officer": await api.headers("officer", WIB_AGENCY),
        "agency_admin": await api.headers("agency_admin", WIB_AGENCY),
    }
    for who, headers in blind.items():
        response = await api.get(tracking_id, headers)
        assert response.status_code == 200, who
        case = response.json()
        assert "reporter" not in case, f"{who} got the key 'reporter': {case.get('reporter')}"
        assert "location" not in case, f"{who} got the anonymous reporter's location"
        assert not leaks(response.text, secret), f"{who} sees {leaks(response.text, secret)}"
        assert case["anonymous"] is True and case["title"]

    # The agency's list items and its action responses do not carry it either.
    await api.wait_listed({tracking_id})
    for who in ("officer", "agency_admin"):
        response = await api.http.get("/v1/complaints", headers=blind[who])
        [item] = response.json()["items"]
        assert "reporter" not in item and "location" not in item, who
        assert not leaks(response.text, secret), who
    replied = await api.act(tracking_id, "replies", {"message": "Masih diminta uang."}, reporter)
    followed = await api.act(tracking_id, "follow-ups", {"message": "Petugas sudah ditegur."}, blind["officer"])
    assert followed.status_code == 200 and replied.status_code == 200
    assert "reporter" not in followed.json() and not leaks(followed.text, secret)
    assert replied.json()["reporter"] == IDENTITY  # the reporter's own response shows it


async def test_named_reporter_is_seen_by_the_agency_but_not_the_public(api: ApiHarness) -> None:
    receipt = await api.submit(region_code="62.71", reporter=IDENTITY, location=LOCATION)
    tracking_id = receipt["tracking_id"]
    await api.accept(tracking_id, WIB_AGENCY)
    officer = (await api.get(tracking_id, await api.headers("officer", WIB_AGENCY))).json()
    assert officer["reporter"] == IDENTITY
    for headers in ({}, await api.headers("client")):
        response = await api.get(tracking_id, headers)
        assert "reporter" not in response.json()
        assert not leaks(response.text, list(IDENTITY.values()))


async def test_confidential_case_is_absent_from_public_views(api: ApiHarness) -> None:
    receipt = await api.submit(
        title="Dugaan suap pengadaan alat kesehatan",
        description="Rincian yang sensitif.",
        region_code="62.71",
        confidential=True,
    )
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    await api.accept(tracking_id, WIB_AGENCY)
    unknown = assert_problem(await api.get("LAP-0000000000"), 404)

    client = await api.headers("client")
    for headers in ({}, client):
        response = await api.get(tracking_id, headers)
        body = assert_problem(response, 404)
        # Indistinguishable from a case that does not exist.
        assert {k: v for k, v in body.items() if k != "instance"} == {
            k: v for k, v in unknown.items() if k != "instance"
        }
        assert "suap" not in response.text
    # Acting on it as the client: 404 as well, not 403 (which would confirm it exists).
    assert_problem(await api.act(tracking_id, "replies", {"message": "x"}, client), 404)
    # The agency's other staff do not see it either; its own staff, the reporter, admin and observer do.
    assert_problem(await api.get(tracking_id, await api.headers("officer", OTHER_AGENCY)), 404)
    for headers in (reporter, await api.headers("officer", WIB_AGENCY), api.admin, await api.headers("observer")):
        response = await api.get(tracking_id, headers)
        assert response.status_code == 200 and response.json()["confidential"] is True


@pytest.mark.parametrize("anonymous", [False, True])
async def test_staff_names_never_reach_the_public_or_the_reporter(api: ApiHarness, anonymous: bool) -> None:
    admin = bearer((await api.issue("admin", name=ADMIN_NAME))["token"])
    officer = bearer((await api.issue("officer", WIB_AGENCY, name=OFFICER_NAME))["token"])
    receipt = await api.submit(region_code="62.71", anonymous=anonymous, reporter=IDENTITY)
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    await api.act_ok(tracking_id, "verification", {"decision": "accept", "agency_id": WIB_AGENCY}, admin)
    await api.act_ok(tracking_id, "follow-ups", {"message": "Sudah ditambal."}, officer)
    replied = await api.act(tracking_id, "replies", {"message": "Terima kasih."}, reporter)

    staff_view = await api.case(tracking_id)
    names = {e["action"]: e.get("actor_name") for e in staff_view["timeline"]}
    assert names["accept"] == ADMIN_NAME and names["follow_up"] == OFFICER_NAME
    # The reporter's identity is never stamped on their own actions.
    assert names["reply"] is None and names["submit"] is None

    for who, response in (
        ("public", await api.get(tracking_id)),
        ("client", await api.get(tracking_id, await api.headers("client"))),
        ("reporter", await api.get(tracking_id, reporter)),
        ("reporter's action response", replied),
    ):
        assert response.status_code == 200, who
        assert all("actor_name" not in e for e in response.json()["timeline"]), who
        assert not leaks(response.text, [ADMIN_NAME, OFFICER_NAME]), who
