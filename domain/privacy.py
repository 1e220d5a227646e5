"""The reporter's rights under UU 27/2022 (Pelindungan Data Pribadi), as the product states them:
legal basis and purpose in plain words (id, en), hold kinds. No I/O. docs/privacy.md is the manual."""

from __future__ import annotations

import base64
from enum import StrEnum

from domain.tokens import constant_time_equal, keyed_digest


class HoldKind(StrEnum):
    """The exceptions to erasure the law allows, set and lifted by an administrator with a reason."""

    LEGAL_HOLD = "legal_hold"  # a court, police or audit request to keep the record
    OMBUDSMAN = "ombudsman"  # the Ombudsman examines the case (maladministration)


class ErasedBy(StrEnum):
    REPORTER = "reporter"
    ADMIN = "admin"
    RETENTION = "retention"


# The Temporal update id of a case's erasure, whoever asks: a retry, or retention meeting a case
# a reporter erased at the same time, attaches to the one update instead of recording it twice.
ERASE_UPDATE_ID = "personal-data-erasure"

LEGAL_BASIS = {
    "id": (
        "Kami memproses data pribadi Anda (nama, kontak, alamat, titik lokasi, berkas) untuk "
        "menjalankan tugas pelayanan publik: menangani pengaduan Anda menurut UU 25/2009 tentang "
        "Pelayanan Publik dan Perpres 76/2013, dengan persetujuan Anda saat melapor (UU 27/2022 "
        "tentang Pelindungan Data Pribadi, Pasal 20). Kontak Anda dipakai hanya untuk memberi kabar "
        "tentang laporan Anda. Anda berhak melihat, mengunduh, memperbaiki data ini, menarik "
        "persetujuan untuk dihubungi, dan meminta penghapusannya."
    ),
    "en": (
        "We process your personal data (name, contacts, address, location pin, files) to perform a "
        "public-service task: handling your complaint under Law 25/2009 on Public Services and "
        "Presidential Regulation 76/2013, with the consent you gave when reporting (Law 27/2022 on "
        "Personal Data Protection, Article 20). Your contacts are used only to tell you about your "
        "report. You may see, download and correct this data, withdraw consent to be contacted, "
        "and ask for it to be erased."
    ),
}

ERASURE_EFFECT = {
    "id": (
        "Penghapusan memusnahkan kunci yang mengenkripsi data pribadi laporan ini: nama, kontak, "
        "alamat, titik lokasi dan berkas Anda tidak dapat dibaca lagi di mana pun, termasuk cadangan. "
        "Fakta laporan yang tidak menyangkut Anda (instansi, tenggat, hasil, penilaian) tetap ada, "
        "dan laporan yang masih berjalan dilanjutkan sebagai laporan anonim."
    ),
    "en": (
        "Erasure destroys the key that encrypts this report's personal data: your name, contacts, "
        "address, pin and files can no longer be read anywhere, backups included. The report's facts "
        "that are not about you (body, deadlines, outcome, rating) remain, and an open report goes on "
        "as an anonymous one."
    ),
}


class BreachStore(StrEnum):
    """Where a breach may have happened (python -m ops breach-report --stores)."""

    READ_MODEL = "read_model"  # the SQL database: identity columns, contacts, deliveries, followers
    ATTACHMENTS = "attachments"  # the file store (local or S3)
    TEMPORAL = "temporal"  # Temporal's database or exports: identity only sealed (cases before sealing: clear)
    KEYS = "keys"  # the service's TEMPORAL_ENCRYPTION_KEYS: with Temporal's data, sealed identities open


STORE_NAMES = {
    BreachStore.READ_MODEL: "basis data laporan (nama, kontak, alamat, titik lokasi)",
    BreachStore.ATTACHMENTS: "penyimpanan berkas lampiran (foto dan dokumen)",
    BreachStore.TEMPORAL: "basis data mesin alur kerja (Temporal)",
    BreachStore.KEYS: "kunci enkripsi layanan",
}


def breach_notice(*, start: str, end: str, stores: list[BreachStore], data_kinds: list[str], reporters: int,
                  discovered: str, contact: str) -> str:
    """The draft of the notice UU 27/2022 Article 46 asks for (to the people affected and the
    authority, within 3 x 24 hours): what data, when and how, what is being done. Indonesian."""
    where = "; ".join(STORE_NAMES[store] for store in stores)
    kinds = ", ".join(data_kinds) or "tidak ada data pribadi yang terbaca"
    return (
        "PEMBERITAHUAN KEGAGALAN PELINDUNGAN DATA PRIBADI\n"
        "(Pasal 46 UU No. 27 Tahun 2022 tentang Pelindungan Data Pribadi)\n\n"
        f"Pada {discovered} kami mengetahui bahwa {where} dapat telah diakses oleh pihak yang tidak "
        f"berwenang antara {start} dan {end}.\n\n"
        f"Data pribadi yang mungkin terungkap: {kinds}. Pemberitahuan ini dikirim kepada {reporters} "
        "pelapor yang datanya disimpan pada waktu itu.\n\n"
        "Yang sedang kami lakukan: menutup akses yang tidak sah, mengganti kunci dan kata sandi yang "
        "terkait, memeriksa catatan akses, dan melaporkan kejadian ini kepada lembaga pelindungan data "
        "pribadi. Data pribadi laporan yang telah dihapus tidak dapat dibaca karena kuncinya telah "
        "dimusnahkan.\n\n"
        "Yang dapat Anda lakukan: waspadai pesan atau panggilan yang mengatasnamakan layanan pengaduan; "
        "kami tidak pernah meminta kata sandi atau kode. Anda dapat melihat, memperbaiki, atau menghapus "
        "data pribadi Anda melalui tautan pribadi laporan Anda.\n\n"
        f"Pertanyaan: {contact}\n"
    )


# --- the one-time code for every case of one contact -----------------------------------------------

CODE_WINDOW_SECONDS = 600  # a code holds for this window and the next (10-20 minutes)
ACCESS_SECONDS = 3600  # what the code opens: an hour of reading every case of that contact
ACCESS_PREFIX = "pd_"


def contact_code(secret_key: str, contact: str, window: int) -> str:
    """Six digits for one contact and one window of time: nothing to store, nothing to leak."""
    digest = keyed_digest(secret_key, "contact-code", f"{contact}\n{window}")
    return f"{int.from_bytes(base64.urlsafe_b64decode(digest + '=='), 'big') % 1_000_000:06d}"


def code_matches(secret_key: str, contact: str, code: str, now: float) -> bool:
    window = int(now // CODE_WINDOW_SECONDS)
    return any(constant_time_equal(contact_code(secret_key, contact, w), code.strip()) for w in (window, window - 1))


def contact_access_token(secret_key: str, contact: str, now: float) -> str:
    """Proof, for an hour, that its holder received the code sent to `contact`."""
    expires = int(now) + ACCESS_SECONDS
    encoded = base64.urlsafe_b64encode(contact.encode()).decode().rstrip("=")
    digest = keyed_digest(secret_key, "contact-access", f"{contact}\n{expires}")
    return f"{ACCESS_PREFIX}{encoded}.{expires}.{digest}"


def contact_of_access_token(secret_key: str, token: str, now: float) -> str | None:
    """The contact a valid, unexpired access token names; None otherwise."""
    try:
        encoded, expires, digest = token.removeprefix(ACCESS_PREFIX).split(".")
        contact = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        valid = token.startswith(ACCESS_PREFIX) and int(expires) > now
    except (ValueError, UnicodeDecodeError):
        return None
    expected = keyed_digest(secret_key, "contact-access", f"{contact}\n{expires}")
    return contact if valid and constant_time_equal(expected, digest) else None


CODE_MESSAGE = {
    "id": "Kode untuk melihat data pribadi Anda di layanan pengaduan: {code} (berlaku 10 menit). "
          "Abaikan pesan ini jika Anda tidak memintanya.",
    "en": "Your code to see your personal data at the complaint service: {code} (valid 10 minutes). "
          "Ignore this message if you did not ask for it.",
}
