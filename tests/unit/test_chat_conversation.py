"""The chat conversation's rules (domain/chat.py): what it asks, what it holds back, its commands."""

from __future__ import annotations

from domain.chat import ChatDoor, ChatMessage, Conversation, RegionOption, Step, command_of, handle, is_substantive

KOTA_BANDUNG = RegionOption(code="32.73", name="Kota Bandung")
KAB_BANDUNG = RegionOption(code="32.04", name="Kabupaten Bandung")
STORY = "Jalan di depan pasar berlubang besar sejak dua bulan, sudah dua motor jatuh"


def conversation() -> Conversation:
    return Conversation(door=ChatDoor.TELEGRAM, address="telegram:1001")


def text(body: str, n: int = 0, **extra) -> ChatMessage:
    return ChatMessage(message_id=f"m{n}-{body[:10]}", text=body, **extra)


def test_a_whole_conversation_asks_for_what_is_missing_and_reads_back() -> None:
    c = conversation()
    turn = handle(c, text("halo"))
    assert "Halo" in turn.replies[0] and "Ceritakan apa yang terjadi" in turn.replies[-1]
    assert c.step == Step.WHAT and not turn.submit
    turn = handle(c, text(STORY))
    assert c.draft.description == STORY and c.step == Step.WHERE and "Di mana" in turn.replies[-1]
    turn = handle(c, text("bandung", regions=[KAB_BANDUNG, KOTA_BANDUNG]))
    assert c.step == Step.CHOOSE_REGION
    assert "1. Kabupaten Bandung\n2. Kota Bandung" in turn.replies[-1]
    turn = handle(c, text("2"))
    assert c.draft.region == KOTA_BANDUNG and c.step == Step.PHOTO
    turn = handle(c, ChatMessage(message_id="p1", kind="photo", media_id="file-1"))
    assert c.draft.photos == ["file-1"] and c.step == Step.ANONYMOUS and "Foto diterima" in turn.replies[0]
    turn = handle(c, text("mungkin"))
    assert c.step == Step.ANONYMOUS and "YA atau TIDAK" in turn.replies[0]
    turn = handle(c, text("Ya"))
    assert c.draft.anonymous is True and c.step == Step.CONFIRM
    assert f"Apa: {STORY}" in turn.replies[0] and "Di mana: Kota Bandung" in turn.replies[0]
    assert "dirahasiakan" in turn.replies[0] and "KIRIM" in turn.replies[-1]
    assert handle(c, text("Kirim!")).submit


def test_junk_never_makes_a_description() -> None:
    for junk in ("", "p", "halo min", "Assalamualaikum", "tolong", "aaaa aaaa aaaa aaaa aaaa aaaa",
                 "12345 67890 12345 67890", "Selamat pagi, saya mau melapor", "I want to report something"):
        assert not is_substantive(junk), junk
    c = conversation()
    for message in (text("P"), ChatMessage(message_id="s", kind="sticker"), text("tolong"), text("")):
        turn = handle(c, message)
        assert c.draft.description is None and not turn.submit
        assert turn.replies[-1].startswith("Ceritakan")
    assert handle(c, text("kirim")).submit is False  # nothing to send yet


def test_commands_in_plain_words() -> None:
    assert command_of("status lap-7k2m9qx4td") == ("status", "LAP-7K2M9QX4TD")
    assert command_of("STATUS") == ("status", None)
    assert command_of("Batal.") == ("cancel", None)
    assert command_of("the status of the road is bad") is None
    c = conversation()
    handle(c, text(STORY))
    turn = handle(c, text("status LAP-7K2M9QX4TD"))
    assert turn.status_of == "LAP-7K2M9QX4TD" and c.draft.description == STORY
    turn = handle(c, text("bantuan"))
    assert "STATUS" in turn.replies[0] and "Di mana" in turn.replies[-1]
    turn = handle(c, text("batal"))
    assert c.closed and c.draft.description is None and "dibatalkan" in turn.replies[-1]


def test_english_and_an_explicit_place_in_the_story() -> None:
    c = conversation()
    turn = handle(c, text(STORY + " di Kota Bandung", language="en", named_region=KOTA_BANDUNG))
    assert turn.replies[0].startswith("Hello") and c.draft.region == KOTA_BANDUNG and c.step == Step.PHOTO
    assert "NO" in turn.replies[-1]
    turn = handle(c, text("indonesia"))
    assert c.language == "id" and "foto" in turn.replies[-1]


def test_an_unknown_place_is_asked_again_and_a_rate_limited_sender_told_to_wait() -> None:
    c = conversation()
    handle(c, text(STORY))
    turn = handle(c, text("di sana"))
    assert c.step == Step.WHERE and "tidak saya kenali" in turn.replies[0]
    turn = handle(c, ChatMessage(message_id="x", slow_down=True))
    assert turn.replies == ["Pesan Anda terlalu banyak dalam waktu singkat. Mohon tunggu sebentar, lalu kirim lagi."]
