"""POST /v1/channels/sms: complaints by SMS, STATUS, replies to follow-ups, malformed messages,
and `channel` counted in /v1/stats."""

from __future__ import annotations

import pytest

from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem, bearer

GATEWAY = "gateway-secret-for-tests"
PHONE = "+6281234567890"
pytestmark = pytest.mark.api_settings(sms_gateway_inbound_token=GATEWAY)


async def sms(api: ApiHarness, text: str, sender: str = PHONE, **extra) -> dict:
    response = await api.http.post("/v1/channels/sms", json={"from": sender, "text": text, **extra},
                                   headers=bearer(GATEWAY))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"action", "tracking_id", "reply"}
    assert answer["reply"]["text"]
    return answer


async def test_a_complaint_by_sms_and_its_status(api: ApiHarness) -> None:
    text = "Lampu jalan padam di Jl. Yos Sudarso depan SDN 3 sejak seminggu, gelap dan rawan begal\nMohon segera"
    answer = await sms(api, text, sender="0812-3456-7890", message_id="gw-1")
    assert answer["action"] == "complaint_created"
    tracking_id = answer["tracking_id"]
    assert answer["reply"] == {"to": PHONE, "text": answer["reply"]["text"]}
    assert tracking_id in answer["reply"]["text"] and f"STATUS {tracking_id}" in answer["reply"]["text"]
    assert "WIB" in answer["reply"]["text"]

    case = await api.case(tracking_id)
    assert case["channel"] == "sms"
    assert case["title"] == "Lampu jalan padam di Jl. Yos Sudarso depan SDN 3 sejak seminggu, gelap dan…"
    assert case["description"] == text
    assert case["reporter"] == {"name": None, "email": None, "phone": PHONE}
    # The gateway retries the same message: the same case, no second one.
    again = await sms(api, text, sender="0812-3456-7890", message_id="gw-1")
    assert again["tracking_id"] == tracking_id

    status = await sms(api, f"status {tracking_id.lower()}", sender="+62 811 0000 111")
    assert status["action"] == "status" and status["tracking_id"] == tracking_id
    assert "verifikasi" in status["reply"]["text"]
    assert "23:59 WIB" in status["reply"]["text"]

    await api.accept(tracking_id, WIB_AGENCY)
    status = await sms(api, f"STATUS {tracking_id}")
    agency = (await api.http.get(f"/v1/agencies/{WIB_AGENCY}")).json()["name"]
    assert agency in status["reply"]["text"]
    response_due = (await api.case(tracking_id))["deadlines"]["response_due"]  # '2026-..T23:59:59+07:00'
    day, month, year = response_due[8:10], response_due[5:7], response_due[:4]
    assert f"{day}-{month}-{year} 23:59 WIB" in status["reply"]["text"]


async def test_a_reporters_sms_reply_to_a_follow_up(api: ApiHarness) -> None:
    answer = await sms(api, "Sampah menumpuk di TPS Jl. Kinibalu tidak diangkut dua minggu")
    tracking_id = answer["tracking_id"]
    await api.accept(tracking_id, WIB_AGENCY)
    await api.follow_up(tracking_id, WIB_AGENCY, "Sampah sudah diangkut hari ini.")
    await api.eventually(lambda: api.listed_ids(status="awaiting_reporter"), lambda ids: tracking_id in ids)

    # Someone else's SMS is not a reply: it is a new complaint.
    stranger = await sms(api, "Masih ada sampah di ujung jalan yang sama", sender="+6289900001111")
    assert stranger["action"] == "complaint_created" and stranger["tracking_id"] != tracking_id

    reply = await sms(api, "Baru sebagian yang diangkut, sisanya masih menumpuk", sender="081234567890",
                      message_id="gw-reply-1")
    assert reply["action"] == "reply_recorded" and reply["tracking_id"] == tracking_id
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_agency"
    replies = [e for e in case["timeline"] if e["action"] == "reply"]
    assert len(replies) == 1 and replies[0]["note"] == "Baru sebagian yang diangkut, sisanya masih menumpuk"
    assert replies[0]["actor_role"] == "reporter"
    # The gateway's retry records nothing twice.
    again = await sms(api, "Baru sebagian yang diangkut, sisanya masih menumpuk", sender="081234567890",
                      message_id="gw-reply-1")
    assert again["action"] == "reply_recorded"
    assert len([e for e in (await api.case(tracking_id))["timeline"] if e["action"] == "reply"]) == 1

    # BALAS names a case that no longer waits for a reply: the message becomes a new complaint.
    late = await sms(api, f"BALAS {tracking_id} Terima kasih, tapi got di sebelahnya juga mampet")
    assert late["action"] == "complaint_created" and late["tracking_id"] != tracking_id
    assert tracking_id in late["reply"]["text"]
    assert (await api.case(late["tracking_id"]))["description"] == "Terima kasih, tapi got di sebelahnya juga mampet"


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "STATUS"),
        ("   ", "STATUS"),
        ("bantuan", "STATUS"),
        ("halo", "terlalu pendek"),
        ("STATUS", "Format: STATUS"),
        ("STATUS LAP-123", "tidak dikenali"),
        ("STATUS LAP-0000000000 lagi", "Format: STATUS"),
        ("BALAS LAP-0000000000", "Format: BALAS"),
        ("BALAS LAP-0000000000 sudah baik", "tidak ditemukan"),
        ("LAPOR", "terlalu pendek"),
        ("BALAS", "Format: BALAS"),
    ],
)
async def test_malformed_messages_get_a_clear_answer_and_create_nothing(api: ApiHarness, text: str, hint: str) -> None:
    answer = await sms(api, text)
    assert answer["action"] == "help" and answer["tracking_id"] is None
    assert hint in answer["reply"]["text"]
    assert answer["reply"]["to"] == PHONE
    assert await api.listing() == {"items": [], "next_cursor": None}


async def test_status_of_unknown_and_confidential_cases(api: ApiHarness) -> None:
    unknown = await sms(api, "STATUS LAP-0000000000")
    assert unknown["action"] == "status" and "tidak ditemukan" in unknown["reply"]["text"]
    secret = await api.submit(confidential=True, reporter={"phone": "0812 3456 7890"})
    hidden = await sms(api, f"STATUS {secret['tracking_id']}", sender="+6285000000000")
    assert "tidak ditemukan" in hidden["reply"]["text"] and hidden["tracking_id"] is None
    own = await sms(api, f"STATUS {secret['tracking_id']}")  # the reporter's own phone
    assert own["tracking_id"] == secret["tracking_id"] and "verifikasi" in own["reply"]["text"]


async def test_the_gateway_must_authenticate(api: ApiHarness) -> None:
    body = {"from": PHONE, "text": "Jalan rusak parah di depan kantor camat"}
    assert_problem(await api.http.post("/v1/channels/sms", json=body), 401)
    assert_problem(await api.http.post("/v1/channels/sms", json=body, headers=bearer("salah")), 401)
    assert_problem(await api.http.post("/v1/channels/sms", json={"text": "tanpa pengirim"}, headers=bearer(GATEWAY)), 422)
    assert await api.listing() == {"items": [], "next_cursor": None}


@pytest.mark.api_settings(sms_gateway_inbound_token=None)
async def test_no_gateway_token_configured_means_no_sms(api: ApiHarness) -> None:
    response = await api.http.post("/v1/channels/sms", json={"from": PHONE, "text": "Jalan rusak parah sekali"},
                                   headers=bearer(""))
    assert_problem(response, 401)


async def test_every_channel_is_recorded_and_counted(api: ApiHarness) -> None:
    client = (await api.issue("client"))["token"]
    officer = await api.headers("officer", WIB_AGENCY)
    created = {
        "api": (await api.submit())["tracking_id"],
        "web": (await api.submit(channel="web"))["tracking_id"],
        "walk_in": (await api.submit(officer, channel="walk_in"))["tracking_id"],
        "sms": (await sms(api, "Air PDAM mati tiga hari di Perumahan Bukit Hindu"))["tracking_id"],
    }
    response = await api.http.post("/open311/v2/requests.json", data={
        "api_key": client, "service_code": "air-bersih", "description": "Pipa PDAM bocor di depan rumah",
        "address_string": "Jl. Rajawali 3"})
    created["open311"] = response.json()[0]["service_request_id"]
    extra_sms = (await sms(api, "Air PDAM masih mati hari ini di Bukit Hindu", sender="+6281111111111"))["tracking_id"]
    for channel, tracking_id in created.items():
        assert (await api.case(tracking_id))["channel"] == channel
    await api.wait_listed(set(created.values()) | {extra_sms})
    stats = (await api.http.get("/v1/stats", headers=await api.headers("observer"))).json()
    assert {c["channel"]: c["count"] for c in stats["by_channel"]} == {
        "api": 1, "web": 1, "walk_in": 1, "open311": 1, "sms": 2}
