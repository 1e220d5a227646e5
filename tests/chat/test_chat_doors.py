"""The chat doors end to end (issue 30): a citizen reports, follows and answers a case entirely
from WhatsApp or Telegram; junk never reaches the verification queue; every message is
acknowledged at once and handled once."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from io import BytesIO

import httpx
from PIL import Image
from sqlalchemy import func, select
from temporalio.service import RPCError, RPCStatusCode

from api.chat import conversation_id
from db.chat_models import ChatInbound
from db.models import Complaint
from db.notification_models import NotificationDelivery
from db.portal_models import Attachment
from tests.api.conftest import WIB_AGENCY
from tests.api.test_personal_data import decoded_history
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in
from tests.api.test_attachments import GPS_IFD, photo_with_gps
from tests.chat.conftest import PUBLIC_BASE_URL, TELEGRAM_SECRET, VERIFY_TOKEN, ChatHarness

CITIZEN = "+6281234567890"
STORY = "Lampu jalan di Jl. Yos Sudarso depan SDN 3 padam sejak seminggu, gelap dan rawan begal"


def cases(chat: ChatHarness) -> int:
    with chat.api.sessions() as session:
        return session.scalar(select(func.count()).select_from(Complaint)) or 0


async def test_whatsapp_handshake_and_forged_posts_refused(chat: ChatHarness) -> None:
    http = chat.api.http
    answer = await http.get("/v1/channels/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert answer.status_code == 200 and answer.text == "1158201444"
    wrong = await http.get("/v1/channels/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    assert wrong.status_code == 403 and wrong.headers["content-type"].startswith("application/problem+json")

    payload = {"entry": [{"changes": [{"value": {"messages": [
        {"from": "6281234567890", "id": "wamid.forged", "timestamp": "1", "type": "text", "text": {"body": "halo"}}]}}]}]}
    for signature in (None, "sha256=" + "0" * 64, "sha1=abc"):
        refused = await chat.whatsapp_post(payload, signature=signature)
        assert refused.status_code == 401, signature
    telegram = await http.post("/v1/channels/telegram", json={"update_id": 1, "message": {}},
                               headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
    assert telegram.status_code == 401
    await chat.quiet()
    assert chat.stub.sent == []  # nobody was answered, nothing was started


async def test_a_signed_update_of_an_odd_shape_is_acknowledged_never_a_500(chat: ChatHarness) -> None:
    # A door re-delivers what it got a 5xx for, for days: what cannot be read is acknowledged and dropped.
    sender = {"id": "wamid.odd", "from": "6281234567890", "timestamp": "1"}
    odd_whatsapp = [
        {"entry": [{"changes": [{"value": {"metadata": "x", "messages": [sender | {"type": "text", "text": {"body": "halo"}}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": [sender | {"type": "text", "text": "halo"}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": [sender | {"type": "image", "image": "media-1"}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": 7}}]}]},
        {"entry": 7},
    ]
    for payload in odd_whatsapp:
        answer = await chat.whatsapp_post(payload)
        assert answer.status_code == 200, payload
    secret = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    private = {"id": 5550009, "type": "private"}
    odd_telegram = [
        {"update_id": 90001, "message": {"chat": "5550009", "text": "halo"}},
        {"update_id": 90002, "message": {"chat": private, "from": "Warga", "text": "halo"}},
        {"update_id": 90003, "message": {"chat": private, "photo": [{"file_id": "a", "width": "big", "height": 1}]}},
    ]
    for payload in odd_telegram:
        answer = await chat.api.http.post("/v1/channels/telegram", json=payload, headers=secret)
        assert answer.status_code == 200, payload
    await chat.quiet()
    assert cases(chat) == 0


async def test_a_whole_whatsapp_conversation_to_a_case_and_its_receipt(chat: ChatHarness) -> None:
    chat.stub.media["media-7781"] = photo_with_gps()
    address = f"whatsapp:{CITIZEN}"
    first = await chat.whatsapp(CITIZEN, "Halo min")
    await chat.said(address, "Halo", "Ceritakan apa yang terjadi")
    await chat.whatsapp(CITIZEN, "Halo min", message_id=first)  # Meta delivers it again: handled once
    await chat.whatsapp(CITIZEN, STORY)
    await chat.said(address, "Di mana kejadiannya")
    await chat.whatsapp(CITIZEN, "Semarang")
    [choice] = await chat.said(address, "beberapa daerah")
    assert "1. Kabupaten Semarang" in choice and "2. Kota Semarang" in choice
    await chat.whatsapp(CITIZEN, "2")
    await chat.said(address, "Ada foto")
    await chat.whatsapp(CITIZEN, image="media-7781")
    await chat.said(address, "Foto diterima", "Rahasiakan identitas")
    await chat.whatsapp(CITIZEN, "tidak")
    [summary] = await chat.said(address, "Ringkasan laporan", "KIRIM")
    assert STORY in summary and "Kota Semarang" in summary and "Foto: 1" in summary
    assert cases(chat) == 0  # nothing is a case before KIRIM
    send = await chat.whatsapp(CITIZEN, "kirim")
    [receipt] = await chat.said(address, "Laporan Anda diterima dengan nomor")
    tracking_id = receipt.split("nomor ", 1)[1].split(".", 1)[0]
    assert f"{PUBLIC_BASE_URL}/kasus/{tracking_id}?token=" in receipt and f"STATUS {tracking_id}" in receipt
    await chat.whatsapp(CITIZEN, "kirim", message_id=send)  # again: no second case, no second receipt
    history = await chat.api.env.client.get_workflow_handle(conversation_id(chat.api.settings, address)).fetch_history()
    assert len(history.events) <= 100  # the whole conversation, seven turns and the opening (measured: 90)
    await chat.quiet()
    assert len([t for t in chat.stub.texts_to(address) if "Halo, ini layanan" in t]) == 1
    assert len([t for t in chat.stub.texts_to(address) if "diterima dengan nomor" in t]) == 1

    case = await chat.api.case(tracking_id)
    assert case["status"] == "awaiting_verification" and case["channel"] == "whatsapp"
    assert case["region_code"] == "33.74" and case["description"] == STORY and case["anonymous"] is False
    assert case["reporter"]["chat"] == address
    assert cases(chat) == 1
    # The verifier's queue: like any new case, with the door it came through.
    # (https: PUBLIC_BASE_URL is, so the session cookie is Secure)
    async with httpx.AsyncClient(transport=chat.api.http._transport, base_url=PUBLIC_BASE_URL) as verifier:
        assert (await sign_in(verifier, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        queue = await verifier.get("/admin/verifikasi")
    assert tracking_id in queue.text
    assert '<dt>Masuk lewat</dt><dd data-testid="case-channel">WhatsApp</dd>' in queue.text
    # The photo came through the upload pipeline: fetched once, its EXIF (the GPS of a home) gone.
    assert chat.stub.media_fetches == ["media-7781"]
    with chat.api.sessions() as session:
        [attachment] = session.scalars(select(Attachment).where(Attachment.tracking_id == tracking_id)).all()
    stored = await chat.api.http.get(f"/v1/complaints/{tracking_id}/attachments/{attachment.id}",
                                     headers=chat.api.admin)
    assert stored.status_code == 200
    kept = Image.open(BytesIO(stored.content))
    assert not kept.getexif().get_ifd(GPS_IFD) and b"Canon" not in stored.content

    # STATUS from the reporter's own chat; another chat learns only what the public may.
    await chat.whatsapp(CITIZEN, f"status {tracking_id}")
    await chat.said(address, f"{tracking_id}:", "verifikasi")
    stranger = "whatsapp:+6289900001111"
    await chat.whatsapp("+6289900001111", f"STATUS {tracking_id}")
    [told] = await chat.said(stranger, f"{tracking_id}:")
    assert CITIZEN not in told and STORY not in told


async def test_whatsapp_message_ids_carry_the_number_and_are_remembered_only_as_digests(chat: ChatHarness) -> None:
    # A real wamid is base64 of a small record holding the sender's number.
    wamid = "wamid." + base64.b64encode(b"\x1c\x18\x0d" + CITIZEN.lstrip("+").encode() + b"\x15\x02\x00\x12").decode()
    address = f"whatsapp:{CITIZEN}"
    await chat.whatsapp(CITIZEN, "Halo", message_id=wamid)
    await chat.said(address, "Ceritakan apa yang terjadi")
    await chat.whatsapp(CITIZEN, "Halo", message_id=wamid)  # delivered again: still handled once
    await chat.quiet()
    assert len(chat.stub.texts_to(address)) == 1
    with chat.api.sessions() as session:
        remembered = " ".join(session.scalars(select(ChatInbound.message_id)))
    assert remembered and wamid.removeprefix("wamid.")[:16] not in remembered


async def test_junk_stickers_and_floods_never_become_cases(chat: ChatHarness) -> None:
    address = "telegram:5550001"
    await chat.telegram(5550001, "p")
    await chat.said(address, "Ceritakan apa yang terjadi")
    await chat.telegram(5550001, sticker=True)
    await chat.said(address, "hanya dapat membaca teks dan foto")
    for _ in range(12):  # a flood: the same word, over and over (the limit is 8 a minute here)
        await chat.telegram(5550001, "tolong")
    await chat.said(address, "terlalu banyak", "tunggu")
    await chat.quiet(2)
    told = chat.stub.texts_to(address)
    assert len([t for t in told if "terlalu banyak" in t]) == 1  # told once, the rest dropped
    assert len(told) <= 8 + 1  # at most one answer per message let through, and the one "wait"
    await chat.telegram(5550001, "kirim")
    await chat.quiet()
    assert cases(chat) == 0
    assert (await chat.api.listing(status="awaiting_verification"))["items"] == []


async def test_an_abandoned_conversation_is_forgotten_and_says_so(chat: ChatHarness) -> None:
    address = "telegram:5550002"
    await chat.telegram(5550002, "I want to report something", language="en")
    await chat.said(address, "Hello", "Tell me what happened")
    await chat.telegram(5550002, STORY, language="en")
    await chat.said(address, "Where did it happen")
    await chat.api.sleep(timedelta(minutes=31))
    await chat.said(address, "conversation has ended", "not sent")
    await chat.telegram(5550002, "Palangka Raya", language="en")  # a new conversation: the story is gone
    await chat.said(address, "Hello", count=2)
    assert "Tell me what happened" in chat.stub.texts_to(address)[-1]
    assert cases(chat) == 0


async def test_news_reach_the_chat_and_the_reply_comes_back_anonymous_number_never_to_the_agency(
    chat: ChatHarness,
) -> None:
    address = f"whatsapp:{CITIZEN}"
    long_ago = time.time() - 25 * 3600  # the citizen's last message: outside WhatsApp's 24-hour window
    for text in (STORY, "Kota Palangkaraya", "tidak", "ya"):
        await chat.whatsapp(CITIZEN, text, at=long_ago)
    await chat.said(address, "Ringkasan laporan", "dirahasiakan dari instansi")
    await chat.whatsapp(CITIZEN, "KIRIM", at=long_ago)
    [receipt] = await chat.said(address, "Laporan Anda diterima dengan nomor")
    tracking_id = receipt.split("nomor ", 1)[1].split(".", 1)[0]

    await chat.api.accept(tracking_id, WIB_AGENCY)
    officer = await chat.api.headers("officer", WIB_AGENCY)
    seen = await chat.api.get(tracking_id, officer)
    assert seen.status_code == 200 and "reporter" not in seen.json()
    assert CITIZEN.lstrip("+") not in seen.text and "whatsapp:" not in seen.text
    await chat.api.follow_up(tracking_id, WIB_AGENCY, "Lampu sudah diganti oleh Dinas Perhubungan.")
    # Outside the window the news go as the approved template, the message its parameter.
    await chat.said(address, tracking_id, "Lampu sudah diganti")
    templated = [s for s in chat.stub.sent if "Lampu sudah diganti" in s.text]
    assert templated and all(s.template == "sp4n_kabar_laporan" for s in templated)

    await chat.api.eventually(lambda: chat.api.listed_ids(status="awaiting_reporter"), lambda ids: tracking_id in ids)
    await chat.whatsapp(CITIZEN, "Selamat siang")  # a greeting first: the next words are still the reply
    await chat.said(address, "Halo, ini layanan", count=2)
    await chat.whatsapp(CITIZEN, "Baru satu lampu yang diganti, yang di ujung jalan masih padam")
    await chat.said(address, f"Tanggapan Anda untuk laporan {tracking_id} telah dicatat")
    case = await chat.api.case(tracking_id)
    replies = [e for e in case["timeline"] if e["action"] == "reply"]
    assert case["status"] == "awaiting_agency" and len(replies) == 1
    assert replies[0]["note"] == "Baru satu lampu yang diganti, yang di ujung jalan masih padam"

    # Nothing sent to the agency's people or webhooks carries the number.
    with chat.api.sessions() as session:
        others = session.scalars(select(NotificationDelivery).where(NotificationDelivery.party != "reporter")).all()
    assert all(CITIZEN.lstrip("+") not in (d.body_text or "") + (d.address or "") for d in others)


async def test_erasure_forgets_the_chat_and_its_news_stop(chat: ChatHarness) -> None:
    address = "telegram:5550003"
    chat.stub.media["AgACAgUAAxkBAAIB"] = photo_with_gps()
    await chat.telegram(5550003, STORY)
    await chat.telegram(5550003, "Kota Palangkaraya")
    await chat.telegram(5550003, photo="AgACAgUAAxkBAAIB")  # Telegram's largest size, by getFile
    await chat.telegram(5550003, "tidak")
    await chat.said(address, "Ringkasan laporan", "Foto: 1")
    await chat.telegram(5550003, "kirim")
    [receipt] = await chat.said(address, "Laporan Anda diterima dengan nomor")
    tracking_id = receipt.split("nomor ", 1)[1].split(".", 1)[0]
    token = receipt.split("?token=", 1)[1].split()[0]
    await chat.api.eventually(lambda: chat.api.listed_ids(status="awaiting_verification"), lambda ids: tracking_id in ids)
    assert chat.stub.media_fetches == ["AgACAgUAAxkBAAIB"]
    with chat.api.sessions() as session:
        assert len(session.scalars(select(Attachment).where(Attachment.tracking_id == tracking_id)).all()) == 1

    erased = await chat.api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure",
                                      headers={"Authorization": f"Bearer {token}"})
    assert erased.status_code == 200, erased.text
    with chat.api.sessions() as session:
        assert session.get(Complaint, tracking_id).reporter_chat is None
    told = len(chat.stub.texts_to(address))
    await chat.api.accept(tracking_id, WIB_AGENCY)
    await chat.api.follow_up(tracking_id, WIB_AGENCY, "Lampu sudah diganti.")
    await chat.quiet(2)
    assert len(chat.stub.texts_to(address)) == told  # nothing more reaches the chat
    assert (await chat.api.case(tracking_id)).get("reporter") is None


async def test_erasure_deletes_the_chats_conversations_that_lead_to_the_case(chat_on_dev_server: ChatHarness) -> None:
    chat = chat_on_dev_server
    address = f"whatsapp:{CITIZEN}"
    for text in (STORY, "Kota Palangkaraya", "tidak", "tidak"):
        await chat.whatsapp(CITIZEN, text)
    await chat.said(address, "Ringkasan laporan")
    await chat.whatsapp(CITIZEN, "kirim")
    [receipt] = await chat.said(address, "Laporan Anda diterima dengan nomor")
    tracking_id = receipt.split("nomor ", 1)[1].split(".", 1)[0]
    token = receipt.split("?token=", 1)[1].split()[0]
    await chat.whatsapp(CITIZEN, f"status {tracking_id}")  # a second conversation, about the same case
    await chat.said(address, f"{tracking_id}:")
    conversation = conversation_id(chat.api.settings, address)
    client = chat.api.env.client

    async def runs() -> list[str]:
        return [run.run_id async for run in client.list_workflows(f"WorkflowId = '{conversation}'")]

    before = await chat.api.eventually(runs, lambda found: len(found) == 2)
    assert len(before) == 2
    # Decoded with the service's key (the codec endpoint), a conversation ties the number to the case.
    told = await decoded_history(chat.api, conversation)
    assert CITIZEN.lstrip("+") in told and tracking_id in told

    erased = await chat.api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure",
                                      headers={"Authorization": f"Bearer {token}"})
    assert erased.status_code == 200, erased.text

    async def histories_left() -> list[str]:
        left = []
        for run_id in before:
            try:
                await client.get_workflow_handle(conversation, run_id=run_id).fetch_history()
                left.append(run_id)
            except RPCError as error:
                assert error.status == RPCStatusCode.NOT_FOUND
        return left

    # The server deletes a closed run's history in the background (measured: about 30 s).
    assert await chat.api.eventually(histories_left, lambda left: left == [], timeout=90) == []
    assert CITIZEN.lstrip("+") not in await decoded_history(chat.api, tracking_id)
    case = await chat.api.case(tracking_id)
    assert case["status"] == "awaiting_verification" and case.get("reporter") is None  # goes on, anonymous
    await chat.whatsapp(CITIZEN, "halo")  # the chat still works: a new conversation
    await chat.said(address, "Ceritakan apa yang terjadi")
