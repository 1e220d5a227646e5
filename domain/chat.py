"""The chat doors' conversation (issue 30): what a citizen writes in WhatsApp or Telegram, turned
into a report one question at a time. Pure: the conversation workflow (workflows/chat.py) keeps
the state and runs the side effects a turn asks for (send the replies, open the case, read a
status); the webhooks (api/routes/chat.py) normalise each message into a `ChatMessage`.

The conversation asks for what is missing, in this order: what happened (a few real sentences:
greetings, single words, stickers and empty messages never count), where (a regency, city or
province named in words, matched to the region list; a numbered choice when the name is
ambiguous), a photo if any, whether the reporter's identity is to be kept from the agency; then it
reads the report back and waits for KIRIM. Plain-word commands work at every step: BATAL,
BANTUAN, STATUS LAP-…, and ENGLISH / INDONESIA for the language.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ChatDoor(StrEnum):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"


class Step(StrEnum):
    WHAT = "what"
    WHERE = "where"
    CHOOSE_REGION = "choose_region"
    PHOTO = "photo"
    ANONYMOUS = "anonymous"
    CONFIRM = "confirm"


MIN_DESCRIPTION_CHARS = 20
MIN_DESCRIPTION_WORDS = 4
MAX_PHOTOS = 3
MAX_TEXT_CHARS = 4096  # both doors' limit of one text message
MAX_REGION_CHOICES = 9
TRACKING_WORD = re.compile(r"^(?:LAP-?)?([0-9A-HJKMNP-TV-Z]{10})$", re.IGNORECASE)

HELP_WORDS = {"bantuan", "help", "menu", "?", "tolong bantu"}
CANCEL_WORDS = {"batal", "cancel", "batalkan", "stop"}
SEND_WORDS = {"kirim", "send", "ya kirim"}
YES_WORDS = {"ya", "iya", "yes", "y", "ok", "oke", "rahasiakan", "anonim", "anonymous"}
NO_WORDS = {"tidak", "tdk", "no", "n", "ga", "gak", "nggak", "enggak", "jangan", "lewati", "skip", "tidak ada"}
ENGLISH_WORDS = {"english", "bahasa inggris"}
INDONESIAN_WORDS = {"indonesia", "bahasa indonesia", "bahasa"}
# What people write first ("halo", "p", "assalamualaikum"): never a report.
GREETINGS = {
    "halo", "hallo", "helo", "hai", "hi", "hello", "hey", "p", "pagi", "siang", "sore", "malam", "ping", "tes",
    "test", "assalamualaikum", "assalamu'alaikum", "salam", "selamat pagi", "selamat siang", "selamat sore",
    "selamat malam", "permisi", "min", "admin", "halo min", "halo admin", "good morning",
}


# Words of an opening ("halo min, saya mau melapor", "I want to make a complaint"): a message of
# only these says that there is a report, not what it is.
OPENING_WORDS = {
    "saya", "aku", "kami", "mau", "ingin", "pengen", "mo", "melapor", "lapor", "laporkan", "melaporkan", "laporan",
    "mengadu", "pengaduan", "aduan", "keluhan", "komplain", "ada", "yang", "min", "admin", "kak", "pak", "bu", "mas",
    "mbak", "tolong", "bantu", "mohon", "halo", "hai", "selamat", "pagi", "siang", "sore", "malam", "permisi", "ini",
    "mengenai", "tentang", "sesuatu", "dong", "ya", "want", "to", "report", "something", "make", "complaint",
    "would", "like", "hello", "hi", "please", "help", "have", "an", "issue", "problem", "masalah",
}


class RegionOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str


class ChatMessage(BaseModel):
    """One message from a chat, as the webhook normalised it (the door's own ids, never its JSON)."""

    model_config = ConfigDict(extra="forbid")

    message_id: str
    kind: Literal["text", "photo", "sticker", "other"] = "text"
    text: str = ""
    media_id: str | None = None  # a photo: WhatsApp's media id or Telegram's file_id
    received_at: AwareDatetime | None = None
    # Places the text names, read against the region list by the webhook (db/directory.py):
    # every region the words could mean (an answer to "where?"), and the one a free text names
    # explicitly ("di Kota Palangka Raya"), if any.
    regions: list[RegionOption] = []
    named_region: RegionOption | None = None
    language: str | None = None  # the app's language of the sender, when the door tells it
    slow_down: bool = False  # the sender is over the rate limit: say so once, nothing else
    case_awaits_reply: bool = False  # a case from this chat awaits its reporter's reply


class Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    region: RegionOption | None = None
    region_choices: list[RegionOption] = []
    photos: list[str] = []  # media ids, fetched and cleaned when the case is opened
    photo_answered: bool = False
    anonymous: bool | None = None


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    door: ChatDoor
    address: str  # the WhatsApp number or the Telegram chat id: personal data
    language: Literal["id", "en"] = "id"
    draft: Draft = Field(default_factory=Draft)
    step: Step = Step.WHAT
    greeted: bool = False
    closed: bool = False
    tracking_id: str | None = None

    @property
    def started(self) -> bool:
        """Whether the citizen has told anything worth keeping (an expiry is then announced)."""
        d = self.draft
        return bool(d.description or d.region or d.photos)


class Turn(BaseModel):
    """What one message asks for: replies to send, and at most one side effect."""

    replies: list[str] = []
    submit: bool = False  # open the case now (then reply with the receipt)
    status_of: str | None = None  # read this case's status and reply with it


TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "greet": "Halo, ini layanan pengaduan SP4N-LAPOR!. Saya akan membantu Anda membuat laporan.",
        "ask_what": "Ceritakan apa yang terjadi: apa masalahnya, sejak kapan, dan siapa yang terdampak "
                    "(beberapa kalimat).",
        "too_short": "Pesan itu belum cukup untuk menjadi laporan.",
        "ask_where": "Di mana kejadiannya? Tulis nama kabupaten/kota atau provinsinya (mis. Kota Palangka Raya).",
        "region_unknown": "Nama daerah itu tidak saya kenali.",
        "choose_region": "Nama itu cocok dengan beberapa daerah. Balas dengan nomornya:",
        "ask_photo": "Ada foto kejadian? Kirim fotonya sekarang, atau balas TIDAK.",
        "photo_received": "Foto diterima.",
        "too_many_photos": "Cukup {max} foto per laporan; foto ini tidak dipakai.",
        "ask_anonymous": "Rahasiakan identitas (nomor/akun chat) Anda dari instansi? Balas YA atau TIDAK.",
        "yes_no": "Mohon balas YA atau TIDAK.",
        "summary": "Ringkasan laporan Anda:\nApa: {what}\nDi mana: {where}\nFoto: {photos}\nIdentitas: {identity}",
        "identity_hidden": "dirahasiakan dari instansi",
        "identity_shown": "boleh dilihat instansi",
        "no_photo": "tidak ada",
        "confirm": "Balas KIRIM untuk mengirim laporan, atau BATAL untuk membatalkan.",
        "only_text": "Saya hanya dapat membaca teks dan foto.",
        "help": "Perintah: KIRIM (kirim laporan), BATAL (batalkan), STATUS <nomor laporan> (mis. STATUS "
                "LAP-7K2M9QX4TD), ENGLISH (bahasa Inggris). Untuk melapor, ceritakan saja masalahnya.",
        "cancelled": "Laporan dibatalkan; tidak ada yang dikirim. Kirim pesan kapan saja untuk mulai lagi.",
        "status_format": "Format: STATUS <nomor laporan>, mis. STATUS LAP-7K2M9QX4TD.",
        "expired": "Percakapan ini kami akhiri karena tidak ada balasan; laporan belum dikirim dan isinya "
                   "sudah dihapus. Kirim pesan kapan saja untuk mulai lagi.",
        "slow_down": "Pesan Anda terlalu banyak dalam waktu singkat. Mohon tunggu sebentar, lalu kirim lagi.",
        "language": "Baik, kita lanjut dalam bahasa Indonesia.",
        "received": "Laporan Anda diterima dengan nomor {tracking_id}. Verifikasi paling lambat {due}.",
        "private_link": "Ikuti laporan Anda di tautan pribadi ini (jangan dibagikan):\n{link}",
        "follow": "Kabar laporan akan kami kirim di chat ini. Cek kapan saja dengan: STATUS {tracking_id}",
        "photo_not_kept": "{count} foto tidak dapat dilampirkan (bukan foto yang dapat dibaca).",
        "not_opened": "Maaf, laporan belum dapat dikirim: {reason}",
        "reply_recorded": "Tanggapan Anda untuk laporan {tracking_id} telah dicatat dan diteruskan ke instansi.",
        "status_unknown": "Laporan {tracking_id} tidak ditemukan.",
    },
    "en": {
        "greet": "Hello, this is the SP4N-LAPOR! complaint service. I will help you make a report.",
        "ask_what": "Tell me what happened: what the problem is, since when, and who is affected (a few sentences).",
        "too_short": "That message is not enough for a report yet.",
        "ask_where": "Where did it happen? Write the name of the regency/city or province (e.g. Kota Palangka Raya).",
        "region_unknown": "I do not recognise that place name.",
        "choose_region": "That name matches several places. Reply with its number:",
        "ask_photo": "Do you have a photo of it? Send it now, or reply NO.",
        "photo_received": "Photo received.",
        "too_many_photos": "{max} photos per report are enough; this one is not used.",
        "ask_anonymous": "Keep your identity (chat number/account) from the agency? Reply YES or NO.",
        "yes_no": "Please reply YES or NO.",
        "summary": "Your report:\nWhat: {what}\nWhere: {where}\nPhotos: {photos}\nIdentity: {identity}",
        "identity_hidden": "kept from the agency",
        "identity_shown": "the agency may see it",
        "no_photo": "none",
        "confirm": "Reply SEND to send the report, or CANCEL to cancel it.",
        "only_text": "I can only read text and photos.",
        "help": "Commands: SEND (send the report), CANCEL, STATUS <tracking id> (e.g. STATUS LAP-7K2M9QX4TD), "
                "INDONESIA (Indonesian). To report, just tell me the problem.",
        "cancelled": "Report cancelled; nothing was sent. Write any time to start again.",
        "status_format": "Format: STATUS <tracking id>, e.g. STATUS LAP-7K2M9QX4TD.",
        "expired": "This conversation has ended for lack of an answer; the report was not sent and what you "
                   "wrote has been deleted. Write any time to start again.",
        "slow_down": "Too many messages in a short time. Please wait a moment, then write again.",
        "language": "All right, we continue in English.",
        "received": "Your report was received with tracking id {tracking_id}. Verification by {due} at the latest.",
        "private_link": "Follow your report at this private link (do not share it):\n{link}",
        "follow": "News of the report will come in this chat. Check any time with: STATUS {tracking_id}",
        "photo_not_kept": "{count} photo(s) could not be attached (not a readable photo).",
        "not_opened": "Sorry, the report could not be sent yet: {reason}",
        "reply_recorded": "Your reply to report {tracking_id} has been recorded and passed on to the agency.",
        "status_unknown": "Report {tracking_id} was not found.",
    },
}


def say(language: str, key: str, **fields: object) -> str:
    template = TEXTS.get(language, TEXTS["id"])[key]
    return template.format(**fields) if fields else template


def normal(text: str) -> str:
    """Lower case, single spaces, without the punctuation people add around a word ("Kirim!")."""
    return " ".join(re.sub(r"[^\w\s?'-]", " ", text.casefold()).split()).strip(" -'")


def is_substantive(text: str) -> bool:
    """Whether a text can describe a problem: enough characters, enough different words, not a
    greeting and not the same word repeated (a flood of "aaaa aaaa")."""
    plain = normal(text)
    if plain in GREETINGS or len(plain) < MIN_DESCRIPTION_CHARS:
        return False
    words = re.findall(r"[^\W\d_]{2,}", plain)
    telling = set(words) - OPENING_WORDS  # "saya mau lapor", "I want to report something" tell nothing yet
    return len(words) >= MIN_DESCRIPTION_WORDS and len(telling) >= 3


def tracking_id_in(word: str) -> str | None:
    match = TRACKING_WORD.match(word.strip().rstrip(".,;:!"))
    return f"LAP-{match.group(1).upper()}" if match else None


def command_of(text: str) -> tuple[str, str | None] | None:
    """A plain-word command ("batal", "status LAP-…", "bantuan"), or None for ordinary text."""
    plain = normal(text)
    words = plain.split()
    if plain in HELP_WORDS:
        return "help", None
    if plain in CANCEL_WORDS:
        return "cancel", None
    if plain in ENGLISH_WORDS:
        return "language", "en"
    if plain in INDONESIAN_WORDS:
        return "language", "id"
    if words and words[0] in ("status", "cek") and len(words) <= 2:
        return "status", tracking_id_in(text.split()[1]) if len(words) == 2 else None
    return None


def handle(conversation: Conversation, message: ChatMessage) -> Turn:
    """The conversation's answer to one message; the conversation is changed in place."""
    c = conversation
    if message.language in ("id", "en") and not c.greeted:
        c.language = message.language  # type: ignore[assignment]
    if message.slow_down:
        return Turn(replies=[say(c.language, "slow_down")])
    replies: list[str] = []
    if not c.greeted:
        c.greeted = True
        replies.append(say(c.language, "greet"))
    text = message.text.strip()
    command = command_of(text) if message.kind == "text" and text else None
    if command is not None:
        name, argument = command
        if name == "cancel":
            c.closed = True
            c.draft = Draft()
            return Turn(replies=replies + [say(c.language, "cancelled")])
        if name == "status":
            if argument is None:
                return Turn(replies=replies + [say(c.language, "status_format")])
            return Turn(replies=replies, status_of=argument)
        if name == "language":
            c.language = argument  # type: ignore[assignment]
            return Turn(replies=[say(c.language, "language"), *question(c)])
        return Turn(replies=replies + [say(c.language, "help"), *question(c)])
    if message.kind == "photo" and message.media_id:
        if len(c.draft.photos) >= MAX_PHOTOS:
            replies.append(say(c.language, "too_many_photos", max=MAX_PHOTOS))
        else:
            c.draft.photos.append(message.media_id)
            c.draft.photo_answered = True
            replies.append(say(c.language, "photo_received"))
        if text and c.step == Step.WHAT:  # a caption may be the description itself
            return _answer(c, text, message, replies)
        c.step = next_step(c.draft)
        return Turn(replies=replies + question(c))
    if message.kind != "text":  # a sticker, a voice note, a location, a contact card
        return Turn(replies=replies + ([] if len(replies) else [say(c.language, "only_text")]) + question(c))
    if c.step == Step.CONFIRM and normal(text) in SEND_WORDS:
        return Turn(replies=replies, submit=True)
    return _answer(c, text, message, replies)


def _answer(c: Conversation, text: str, message: ChatMessage, replies: list[str]) -> Turn:
    """A text answering the question of the current step."""
    lang, plain = c.language, normal(text)
    if c.step == Step.WHAT:
        if not is_substantive(text):
            if text and len(replies) == 0:
                replies.append(say(lang, "too_short"))
            return Turn(replies=replies + question(c))
        c.draft.description = text
        if message.named_region is not None:
            c.draft.region = message.named_region
    elif c.step in (Step.WHERE, Step.CHOOSE_REGION):
        choices = c.draft.region_choices
        if c.step == Step.CHOOSE_REGION and plain.isdigit() and 1 <= int(plain) <= len(choices):
            c.draft.region, c.draft.region_choices = choices[int(plain) - 1], []
        elif len(message.regions) == 1:
            c.draft.region, c.draft.region_choices = message.regions[0], []
        elif message.regions:
            c.draft.region_choices = message.regions[:MAX_REGION_CHOICES]
        else:
            replies.append(say(lang, "region_unknown"))
    elif c.step == Step.PHOTO:
        if plain in NO_WORDS:
            c.draft.photo_answered = True
    elif c.step == Step.ANONYMOUS:
        if plain in YES_WORDS:
            c.draft.anonymous = True
        elif plain in NO_WORDS:
            c.draft.anonymous = False
        else:
            replies.append(say(lang, "yes_no"))
    elif c.step == Step.CONFIRM:
        pass  # anything but KIRIM or a command: the summary again
    c.step = next_step(c.draft)
    return Turn(replies=replies + question(c))


def next_step(draft: Draft) -> Step:
    if not draft.description:
        return Step.WHAT
    if draft.region is None:
        return Step.CHOOSE_REGION if draft.region_choices else Step.WHERE
    if not draft.photo_answered:
        return Step.PHOTO
    if draft.anonymous is None:
        return Step.ANONYMOUS
    return Step.CONFIRM


def question(c: Conversation) -> list[str]:
    """What the conversation asks now."""
    lang = c.language
    if c.step == Step.WHAT:
        return [say(lang, "ask_what")]
    if c.step == Step.WHERE:
        return [say(lang, "ask_where")]
    if c.step == Step.CHOOSE_REGION:
        lines = [f"{n}. {option.name}" for n, option in enumerate(c.draft.region_choices, start=1)]
        return [say(lang, "choose_region") + "\n" + "\n".join(lines)]
    if c.step == Step.PHOTO:
        return [say(lang, "ask_photo")]
    if c.step == Step.ANONYMOUS:
        return [say(lang, "ask_anonymous")]
    return [summary(c), say(lang, "confirm")]


def summary(c: Conversation) -> str:
    d, lang = c.draft, c.language
    return say(
        lang, "summary", what=d.description or "-", where=d.region.name if d.region else "-",
        photos=str(len(d.photos)) if d.photos else say(lang, "no_photo"),
        identity=say(lang, "identity_hidden" if d.anonymous else "identity_shown"),
    )


def chat_address(door: ChatDoor | str, chat_id: str) -> str:
    """How a chat is written as a reporter's contact: `whatsapp:<number>`, `telegram:<chat id>`."""
    return f"{ChatDoor(door).value}:{chat_id}"


ADDRESS = re.compile(r"^(whatsapp:\+[1-9][0-9]{5,14}|telegram:-?[1-9][0-9]{0,19})$")


def is_chat_address(address: str) -> bool:
    return bool(ADDRESS.match(address))


def split_address(address: str) -> tuple[ChatDoor, str]:
    door, _, chat_id = address.partition(":")
    return ChatDoor(door), chat_id
