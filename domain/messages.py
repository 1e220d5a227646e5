"""What each party is told of each event, in Bahasa Indonesia (default) and English. Pure.

`render(context)` turns one outbox event for one party into an email subject, plain text, HTML
and an SMS text (160 characters where possible). The context never carries the reporter's name
or contact: messages to staff cannot leak what they are never given.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from domain.enums import Party

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
SMS_LIMIT = 160

# What a recipient may opt out of, as (event, party) with "*" for any party; everything else
# (decisions, deadlines, escalations) is always sent.
NON_ESSENTIAL = frozenset({("rate", "*"), ("reminder:silence", "*"), ("dispose", "agency_admin")})

ZONE_NAMES = {timedelta(hours=7): "WIB", timedelta(hours=8): "WITA", timedelta(hours=9): "WIT"}


@dataclass(frozen=True)
class MessageContext:
    tracking_id: str
    event: str  # the outbox event: an action ("accept") or "<escalation>:<clock>"
    party: Party
    language: str = DEFAULT_LANGUAGE
    title: str = ""
    status: str = ""
    at: str | None = None
    due_at: str | None = None  # ISO 8601 with the responsible party's offset
    agency_name: str | None = None
    unit_id: str | None = None
    note: str | None = None
    archive_reason: str | None = None
    rating: int | None = None
    summary: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # The reporter's private link to the case in the portal (emails to the reporter only).
    link: str | None = None


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    sms: str


CLOCKS = {
    "id": {
        "verification": "verifikasi",
        "hold": "kelengkapan laporan",
        "response": "tanggapan",
        "resolution": "penyelesaian",
        "silence": "tanggapan balik pelapor",
        "reopen_window": "penilaian",
    },
    "en": {
        "verification": "verification",
        "hold": "completing the report",
        "response": "response",
        "resolution": "resolution",
        "silence": "reporter's reply",
        "reopen_window": "rating",
    },
}

REASONS = {
    "id": {
        "not_a_complaint": "bukan pengaduan",
        "incomplete": "tidak lengkap",
        "duplicate": "duplikat laporan lain",
        "out_of_scope": "di luar kewenangan SP4N-LAPOR!",
        "abusive": "mengandung konten tidak pantas",
        "withdrawn": "tidak dilengkapi dalam batas waktu",
    },
    "en": {
        "not_a_complaint": "not a complaint",
        "incomplete": "incomplete",
        "duplicate": "a duplicate of another report",
        "out_of_scope": "outside SP4N-LAPOR!'s scope",
        "abusive": "abusive content",
        "withdrawn": "not completed in time",
    },
}

MONTHS = {
    "id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}

# (event, party) → (subject, body, sms); "*" matches any party. Fields: {id} tracking id, {title},
# {due}, {agency}, {unit}, {note}, {reason}, {clock}, {rating}, {summary}, plus context.extra.
_T = dict[tuple[str, str], tuple[str, str, str]]

TEMPLATES: dict[str, _T] = {
    "id": {
        ("accept", "follower"): (
            "Laporan {id} yang Anda ikuti diteruskan ke {agency}",
            "Laporan {id} \"{title}\" yang Anda ikuti telah diverifikasi dan diteruskan ke {agency}.",
            "LAPOR! Laporan {id} yang Anda ikuti diteruskan ke {agency}.",
        ),
        ("follow_up", "follower"): (
            "Tindak lanjut atas laporan {id} yang Anda ikuti",
            "{agency} menindaklanjuti laporan {id} \"{title}\" yang Anda ikuti:\n\n{note}",
            "LAPOR! Tindak lanjut {id} yang Anda ikuti: {note}",
        ),
        ("silence_completed", "follower"): (
            "Laporan {id} yang Anda ikuti selesai",
            "Laporan {id} \"{title}\" yang Anda ikuti dinyatakan selesai.",
            "LAPOR! Laporan {id} yang Anda ikuti selesai.",
        ),
        ("reopen", "follower"): (
            "Laporan {id} yang Anda ikuti dibuka kembali",
            "Laporan {id} \"{title}\" yang Anda ikuti dibuka kembali dan menunggu tindak lanjut {agency}.",
            "LAPOR! Laporan {id} yang Anda ikuti dibuka kembali.",
        ),
        ("reject", "follower"): (
            "Laporan {id} yang Anda ikuti diarsipkan",
            "Laporan {id} \"{title}\" yang Anda ikuti diarsipkan dengan alasan: {reason}.",
            "LAPOR! Laporan {id} yang Anda ikuti diarsipkan: {reason}.",
        ),
        ("hold_expired", "follower"): (
            "Laporan {id} yang Anda ikuti diarsipkan",
            "Laporan {id} \"{title}\" yang Anda ikuti diarsipkan dengan alasan: {reason}.",
            "LAPOR! Laporan {id} yang Anda ikuti diarsipkan: {reason}.",
        ),
        ("submit", "reporter"): (
            "Laporan {id} telah diterima",
            "Terima kasih. Laporan Anda \"{title}\" telah diterima dengan nomor pelacakan {id}.\n"
            "Laporan akan diverifikasi paling lambat {due}.\n"
            "Simpan nomor pelacakan dan token pelapor Anda untuk mengikuti perkembangannya.",
            "LAPOR! Laporan Anda diterima, nomor {id}. Verifikasi paling lambat {due}.",
        ),
        ("submit", "*"): (
            "Laporan baru {id} menunggu verifikasi",
            "Laporan baru {id} \"{title}\" menunggu verifikasi paling lambat {due}.",
            "LAPOR! Laporan baru {id} menunggu verifikasi s.d. {due}.",
        ),
        ("accept", "reporter"): (
            "Laporan {id} diteruskan ke {agency}",
            "Laporan Anda {id} \"{title}\" telah diverifikasi dan diteruskan ke {agency}.\n{note}",
            "LAPOR! Laporan {id} diteruskan ke {agency}.",
        ),
        ("accept", "*"): (
            "Laporan baru {id} untuk {agency}",
            "Laporan {id} \"{title}\" diteruskan ke {agency}. Berikan tindak lanjut paling lambat {due}.\n{note}",
            "LAPOR! Laporan baru {id} untuk {agency}; tindak lanjut s.d. {due}.",
        ),
        ("hold", "reporter"): (
            "Laporan {id} perlu dilengkapi",
            "Laporan Anda {id} \"{title}\" ditunda karena belum lengkap.\nYang perlu dilengkapi: {note}\n"
            "Lengkapi paling lambat {due}; bila tidak, laporan akan diarsipkan.",
            "LAPOR! Laporan {id} perlu dilengkapi s.d. {due}: {note}",
        ),
        ("reject", "reporter"): (
            "Laporan {id} diarsipkan",
            "Laporan Anda {id} \"{title}\" diarsipkan dengan alasan: {reason}.\n{note}",
            "LAPOR! Laporan {id} diarsipkan: {reason}.",
        ),
        ("hold_expired", "reporter"): (
            "Laporan {id} diarsipkan",
            "Laporan Anda {id} \"{title}\" diarsipkan dengan alasan: {reason}.",
            "LAPOR! Laporan {id} diarsipkan: {reason}.",
        ),
        ("supplement", "*"): (
            "Laporan {id} telah dilengkapi pelapor",
            "Pelapor telah melengkapi laporan {id} \"{title}\". Verifikasi paling lambat {due}.",
            "LAPOR! Laporan {id} dilengkapi; verifikasi s.d. {due}.",
        ),
        ("dispose", "*"): (
            "Disposisi laporan {id} ke unit {unit}",
            "Laporan {id} \"{title}\" didisposisikan ke unit {unit}. Berikan tindak lanjut paling lambat {due}.\n{note}",
            "LAPOR! Disposisi {id} ke {unit}; tindak lanjut s.d. {due}.",
        ),
        ("follow_up", "reporter"): (
            "Tindak lanjut atas laporan {id}",
            "{agency} menindaklanjuti laporan Anda {id} \"{title}\":\n\n{note}\n\n"
            "Bila belum tuntas, balas paling lambat {due}; bila tidak, laporan dianggap selesai.",
            "LAPOR! Tindak lanjut {id}: {note}",
        ),
        ("reroute", "*"): (
            "Laporan {id} dialihkan kembali",
            "{agency} menyatakan laporan {id} \"{title}\" bukan kewenangannya: {note}\n"
            "Verifikasi ulang paling lambat {due}.",
            "LAPOR! {id} dikembalikan oleh {agency}; verifikasi s.d. {due}.",
        ),
        ("reply", "*"): (
            "Pelapor membalas laporan {id}",
            "Pelapor membalas tindak lanjut laporan {id} \"{title}\":\n\n{note}\n\n"
            "Berikan tanggapan paling lambat {due}.",
            "LAPOR! Balasan pelapor {id}; tanggapi s.d. {due}.",
        ),
        ("rate", "*"): (
            "Penilaian laporan {id}: {rating}/5",
            "Pelapor memberi nilai {rating}/5 untuk penanganan laporan {id} \"{title}\".\n{note}",
            "LAPOR! Nilai {rating}/5 untuk {id}.",
        ),
        ("satisfied", "*"): (
            "Laporan {id} selesai: pelapor puas",
            "Pelapor menyatakan puas atas tindak lanjut laporan {id} \"{title}\"; laporan dinyatakan selesai.",
            "LAPOR! Pelapor puas; laporan {id} selesai.",
        ),
        ("silence_completed", "reporter"): (
            "Laporan {id} selesai: beri penilaian",
            "Laporan Anda {id} \"{title}\" dinyatakan selesai.\n"
            "Beri penilaian 1-5 atas penanganannya paling lambat {due}. Nilai 1 atau 2 membuka kembali laporan.",
            "LAPOR! Laporan {id} selesai. Beri nilai 1-5 s.d. {due}.",
        ),
        ("silence_completed", "*"): (
            "Laporan {id} selesai",
            "Laporan {id} \"{title}\" dinyatakan selesai (pelapor tidak membalas dalam batas waktu).",
            "LAPOR! Laporan {id} selesai.",
        ),
        ("reopen", "*"): (
            "Laporan {id} dibuka kembali",
            "Laporan {id} \"{title}\" dibuka kembali setelah penilaian rendah. "
            "Berikan tindak lanjut paling lambat {due}.",
            "LAPOR! {id} dibuka kembali; tindak lanjut s.d. {due}.",
        ),
        ("reminder", "reporter"): (
            "Pengingat: batas {clock} laporan {id}",
            "Batas waktu {clock} laporan Anda {id} \"{title}\" berakhir {due}.",
            "LAPOR! Pengingat {id}: batas {clock} berakhir {due}.",
        ),
        ("reminder", "*"): (
            "Pengingat: batas {clock} laporan {id} tinggal satu hari kerja",
            "Batas waktu {clock} laporan {id} \"{title}\" berakhir {due}. Mohon segera ditindaklanjuti.",
            "LAPOR! Pengingat {id}: batas {clock} berakhir {due}.",
        ),
        ("overdue", "*"): (
            "TERLAMBAT: batas {clock} laporan {id} terlewati",
            "Batas waktu {clock} laporan {id} \"{title}\" ({agency}) telah terlewati pada {due}. "
            "Eskalasi ini dicatat dalam linimasa laporan.",
            "LAPOR! TERLAMBAT {id}: batas {clock} terlewati {due}.",
        ),
        ("ombudsman", "*"): (
            "Laporan {id} melewati batas penyelesaian: ditandai untuk Ombudsman",
            "Laporan {id} \"{title}\" melewati batas penyelesaian {due} dan ditandai untuk Ombudsman.\n\n"
            "Ringkasan: {summary}",
            "LAPOR! {id} melewati batas penyelesaian {due}; ditandai untuk Ombudsman.",
        ),
        ("connected_unacknowledged", "*"): (
            "Laporan {id} belum diterima sistem {agency}",
            "Laporan {id} \"{title}\" diteruskan ke sistem {agency} sejak {at}, tetapi sistem itu belum "
            "menerimanya. Pengiriman terus dicoba; Anda dapat meneruskannya secara manual di halaman instansi "
            "terhubung.",
            "LAPOR! {id} belum diterima sistem {agency}; dapat diteruskan manual.",
        ),
        ("connected_refused", "*"): (
            "Laporan {id} ditolak sistem {agency}",
            "Sistem {agency} menolak laporan {id} \"{title}\". Periksa sambungannya dan teruskan secara manual "
            "di halaman instansi terhubung.",
            "LAPOR! {id} ditolak sistem {agency}; teruskan manual.",
        ),
        ("webhook_disabled", "*"): (
            "Webhook {webhook_id} dinonaktifkan",
            "Webhook {webhook_id} ({url}) dinonaktifkan setelah {failures} kegagalan berturut-turut. "
            "Kiriman yang tertunda dapat dikirim ulang setelah webhook diaktifkan kembali.",
            "LAPOR! Webhook {webhook_id} dinonaktifkan setelah {failures} kegagalan.",
        ),
    },
    "en": {
        ("accept", "follower"): (
            "Report {id} you follow was forwarded to {agency}",
            "Report {id} \"{title}\", which you follow, has been verified and forwarded to {agency}.",
            "LAPOR! Report {id} you follow was forwarded to {agency}.",
        ),
        ("follow_up", "follower"): (
            "Follow-up on report {id} you follow",
            "{agency} has followed up on report {id} \"{title}\", which you follow:\n\n{note}",
            "LAPOR! Follow-up on {id} you follow: {note}",
        ),
        ("silence_completed", "follower"): (
            "Report {id} you follow is completed",
            "Report {id} \"{title}\", which you follow, has been completed.",
            "LAPOR! Report {id} you follow is completed.",
        ),
        ("reopen", "follower"): (
            "Report {id} you follow was reopened",
            "Report {id} \"{title}\", which you follow, has been reopened and awaits {agency}'s follow-up.",
            "LAPOR! Report {id} you follow was reopened.",
        ),
        ("reject", "follower"): (
            "Report {id} you follow was archived",
            "Report {id} \"{title}\", which you follow, has been archived. Reason: {reason}.",
            "LAPOR! Report {id} you follow was archived: {reason}.",
        ),
        ("hold_expired", "follower"): (
            "Report {id} you follow was archived",
            "Report {id} \"{title}\", which you follow, has been archived. Reason: {reason}.",
            "LAPOR! Report {id} you follow was archived: {reason}.",
        ),
        ("submit", "reporter"): (
            "Report {id} received",
            "Thank you. Your report \"{title}\" has been received with tracking number {id}.\n"
            "It will be verified by {due}.\n"
            "Keep your tracking number and reporter token to follow its progress.",
            "LAPOR! Report received, number {id}. Verified by {due}.",
        ),
        ("submit", "*"): (
            "New report {id} awaiting verification",
            "New report {id} \"{title}\" awaits verification by {due}.",
            "LAPOR! New report {id} to verify by {due}.",
        ),
        ("accept", "reporter"): (
            "Report {id} forwarded to {agency}",
            "Your report {id} \"{title}\" has been verified and forwarded to {agency}.\n{note}",
            "LAPOR! Report {id} forwarded to {agency}.",
        ),
        ("accept", "*"): (
            "New report {id} for {agency}",
            "Report {id} \"{title}\" has been forwarded to {agency}. Follow up by {due}.\n{note}",
            "LAPOR! New report {id} for {agency}; follow up by {due}.",
        ),
        ("hold", "reporter"): (
            "Report {id} needs more information",
            "Your report {id} \"{title}\" is on hold because it is incomplete.\nWhat is missing: {note}\n"
            "Please complete it by {due}, or it will be archived.",
            "LAPOR! Report {id} needs completing by {due}: {note}",
        ),
        ("reject", "reporter"): (
            "Report {id} archived",
            "Your report {id} \"{title}\" has been archived. Reason: {reason}.\n{note}",
            "LAPOR! Report {id} archived: {reason}.",
        ),
        ("hold_expired", "reporter"): (
            "Report {id} archived",
            "Your report {id} \"{title}\" has been archived. Reason: {reason}.",
            "LAPOR! Report {id} archived: {reason}.",
        ),
        ("supplement", "*"): (
            "Report {id} completed by the reporter",
            "The reporter has completed report {id} \"{title}\". Verify it by {due}.",
            "LAPOR! Report {id} completed; verify by {due}.",
        ),
        ("dispose", "*"): (
            "Report {id} assigned to unit {unit}",
            "Report {id} \"{title}\" has been assigned to unit {unit}. Follow up by {due}.\n{note}",
            "LAPOR! {id} assigned to {unit}; follow up by {due}.",
        ),
        ("follow_up", "reporter"): (
            "Follow-up on report {id}",
            "{agency} has followed up on your report {id} \"{title}\":\n\n{note}\n\n"
            "If the matter is not resolved, reply by {due}; otherwise the report will be completed.",
            "LAPOR! Follow-up on {id}: {note}",
        ),
        ("reroute", "*"): (
            "Report {id} sent back for re-routing",
            "{agency} says report {id} \"{title}\" is not within its authority: {note}\n"
            "Verify it again by {due}.",
            "LAPOR! {id} returned by {agency}; verify by {due}.",
        ),
        ("reply", "*"): (
            "The reporter replied on report {id}",
            "The reporter replied to the follow-up on report {id} \"{title}\":\n\n{note}\n\n"
            "Respond by {due}.",
            "LAPOR! Reporter replied on {id}; respond by {due}.",
        ),
        ("rate", "*"): (
            "Rating for report {id}: {rating}/5",
            "The reporter rated the handling of report {id} \"{title}\" {rating}/5.\n{note}",
            "LAPOR! Rating {rating}/5 for {id}.",
        ),
        ("satisfied", "*"): (
            "Report {id} completed: the reporter is satisfied",
            "The reporter is satisfied with the follow-up on report {id} \"{title}\"; the report is completed.",
            "LAPOR! Reporter satisfied; report {id} completed.",
        ),
        ("silence_completed", "reporter"): (
            "Report {id} completed: please rate it",
            "Your report {id} \"{title}\" has been completed.\n"
            "Please rate its handling from 1 to 5 by {due}. A rating of 1 or 2 reopens the report.",
            "LAPOR! Report {id} completed. Rate it 1-5 by {due}.",
        ),
        ("silence_completed", "*"): (
            "Report {id} completed",
            "Report {id} \"{title}\" has been completed (the reporter did not reply in time).",
            "LAPOR! Report {id} completed.",
        ),
        ("reopen", "*"): (
            "Report {id} reopened",
            "Report {id} \"{title}\" has been reopened after a low rating. Follow up by {due}.",
            "LAPOR! {id} reopened; follow up by {due}.",
        ),
        ("reminder", "reporter"): (
            "Reminder: {clock} deadline for report {id}",
            "The {clock} deadline of your report {id} \"{title}\" ends {due}.",
            "LAPOR! Reminder {id}: {clock} deadline ends {due}.",
        ),
        ("reminder", "*"): (
            "Reminder: one working day left for the {clock} of report {id}",
            "The {clock} deadline of report {id} \"{title}\" ends {due}. Please act on it.",
            "LAPOR! Reminder {id}: {clock} deadline ends {due}.",
        ),
        ("overdue", "*"): (
            "OVERDUE: {clock} deadline of report {id} missed",
            "The {clock} deadline of report {id} \"{title}\" ({agency}) passed at {due}. "
            "This escalation is recorded in the case timeline.",
            "LAPOR! OVERDUE {id}: {clock} deadline missed {due}.",
        ),
        ("ombudsman", "*"): (
            "Report {id} missed its resolution deadline: flagged for the Ombudsman",
            "Report {id} \"{title}\" missed its resolution deadline {due} and has been flagged for the "
            "Ombudsman.\n\nSummary: {summary}",
            "LAPOR! {id} missed resolution deadline {due}; flagged for the Ombudsman.",
        ),
        ("connected_unacknowledged", "*"): (
            "Report {id} not yet received by {agency}'s system",
            "Report {id} \"{title}\" was forwarded to {agency}'s system at {at}, which has not received it yet. "
            "Sending goes on; you can forward it by hand on the connected bodies page.",
            "LAPOR! {id} not yet received by {agency}'s system; can be forwarded by hand.",
        ),
        ("connected_refused", "*"): (
            "Report {id} refused by {agency}'s system",
            "{agency}'s system refused report {id} \"{title}\". Check the connection and forward it by hand on "
            "the connected bodies page.",
            "LAPOR! {id} refused by {agency}'s system; forward by hand.",
        ),
        ("webhook_disabled", "*"): (
            "Webhook {webhook_id} disabled",
            "Webhook {webhook_id} ({url}) was disabled after {failures} consecutive failures. "
            "Deliveries it missed can be resent once it is enabled again.",
            "LAPOR! Webhook {webhook_id} disabled after {failures} failures.",
        ),
    },
}

FOOTER = {
    "id": "Pesan ini dikirim otomatis oleh SP4N-LAPOR!. Jangan membalas email ini.",
    "en": "This message was sent automatically by SP4N-LAPOR!. Please do not reply to this email.",
}
UNKNOWN_AGENCY = {"id": "instansi terkait", "en": "the agency concerned"}


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


def template_for(event: str, party: Party | str, language: str) -> tuple[str, str, str] | None:
    """The template of an event for a party, or None when there is none.

    Reporters and followers only get texts written for them ("*" texts speak to staff); staff get
    their own text or the event's "*" text.
    """
    table = TEMPLATES[language if language in TEMPLATES else DEFAULT_LANGUAGE]
    kind = event.split(":", 1)[0]
    party = str(Party(party).value if isinstance(party, Party) else party)
    keys = [(event, party), (kind, party)]
    if party not in (Party.REPORTER.value, Party.FOLLOWER.value):
        keys += [(event, "*"), (kind, "*")]
    return next((table[key] for key in keys if key in table), None)


def format_instant(value: str | None, language: str) -> str:
    """`2026-12-02T23:59:59+07:00` → `2 Des 2026 23.59 WIB` (id) / `2 Dec 2026 23:59 WIB` (en)."""
    if not value:
        return "-"
    instant = datetime.fromisoformat(value)
    offset = instant.utcoffset()
    zone = ZONE_NAMES.get(offset) if offset is not None else None
    if zone is None:
        zone = "UTC" if not offset else instant.strftime("UTC%z")
    lang = language if language in MONTHS else DEFAULT_LANGUAGE
    clock = f"{instant.hour:02d}.{instant.minute:02d}" if lang == "id" else f"{instant.hour:02d}:{instant.minute:02d}"
    return f"{instant.day} {MONTHS[lang][instant.month - 1]} {instant.year} {clock} {zone}"


def render(context: MessageContext) -> Message:
    """The message for one party about one event, in the party's language."""
    lang = context.language if context.language in TEMPLATES else DEFAULT_LANGUAGE
    template = template_for(context.event, context.party, lang)
    if template is None:
        raise KeyError(f"no message for {context.event} to {context.party}")
    subject_t, body_t, sms_t = template
    clock = context.event.split(":", 1)[1] if ":" in context.event else ""
    fields = _Fields(
        id=context.tracking_id,
        title=context.title,
        due=format_instant(context.due_at, lang),
        at=format_instant(context.at, lang),
        agency=context.agency_name or UNKNOWN_AGENCY[lang],
        unit=context.unit_id or "-",
        note=(context.note or "").strip(),
        reason=REASONS[lang].get(context.archive_reason or "", context.archive_reason or "-"),
        clock=CLOCKS[lang].get(clock, clock),
        rating=str(context.rating) if context.rating is not None else "-",
        summary=context.summary or "-",
        **context.extra,
    )
    subject = " ".join(subject_t.format_map(fields).split())
    body = "\n".join(line.rstrip() for line in body_t.format_map(fields).splitlines()).strip()
    if context.link and context.party == Party.REPORTER:
        body = f"{body}\n\n{PRIVATE_LINK[lang]}\n{context.link}"
    elif context.link and context.party == Party.FOLLOWER:
        body = f"{body}\n\n{FOLLOWED_LINK[lang]}\n{context.link}"
    text = f"{body}\n\n-- \n{FOOTER[lang]}\n"
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in body.split("\n\n") if p.strip()
    )
    html_body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(subject)}</title>'
        f"</head><body>{paragraphs}<hr><p><small>{html.escape(FOOTER[lang])}</small></p></body></html>"
    )
    return Message(subject=subject, text=text, html=html_body, sms=fit_sms(sms_t.format_map(fields)))


PRIVATE_LINK = {
    "id": "Ikuti laporan Anda di tautan pribadi ini (jangan dibagikan):",
    "en": "Follow your report at this private link (do not share it):",
}


FOLLOWED_LINK = {
    "id": "Anda menerima pesan ini karena mengikuti laporan ini (laporan Anda digabungkan ke laporan ini, "
          "atau Anda mendukungnya). Lihat perkembangannya:",
    "en": "You receive this because you follow this report (your report was merged into it, or you "
          "supported it). See its progress:",
}


def fit_sms(text: str, limit: int = SMS_LIMIT) -> str:
    """One line, at most `limit` characters (cut at a word with an ellipsis when longer)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def is_essential(event: str, party: Party | str) -> bool:
    party = str(Party(party).value if isinstance(party, Party) else party)
    return (event, "*") not in NON_ESSENTIAL and (event, party) not in NON_ESSENTIAL


UNSUBSCRIBE = {
    "id": "Anda menerima email ini karena mengikuti laporan ini. Berhenti mengikuti: {url}",
    "en": "You receive this because you follow this report. Stop following it: {url}",
}


def with_unsubscribe(message: Message, url: str, language: str) -> Message:
    """A follower's message with its visible way out (the same link as its List-Unsubscribe)."""
    line = UNSUBSCRIBE.get(language, UNSUBSCRIBE[DEFAULT_LANGUAGE]).format(url=url)
    html_line = UNSUBSCRIBE.get(language, UNSUBSCRIBE[DEFAULT_LANGUAGE]).format(
        url=f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
    return replace(message, text=f"{message.text}\n\n{line}\n", html=f"{message.html}<p><small>{html_line}</small></p>",
                   sms=f"{message.sms} {line}")
