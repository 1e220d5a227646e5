"""Open311 GeoReport v2 as seen from our lifecycle: the service catalogue (complaint categories),
the service definition's attributes, and how a status reads to an Open311 client. Pure; no I/O.

GeoReport v2 has two statuses: `open` (reported) and `closed` (resolved). Ours map onto them with a
`status_notes` sentence saying where the case stands, and `expected_datetime` is the deadline of
the clock the case is waiting on (verification, hold, response, silence); a closed case has none.
Every request and update also carries an extended status (`EXTENDED_STATUSES`, the codes
FixMyStreet understands) derived from the lifecycle status, the action that led there and the
archive reason: docs/open311.md has the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.attachments import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_CASE
from domain.enums import Action, ArchiveReason, Status
from domain.models import Deadlines
from domain.regions import Gazetteer

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
OPEN, CLOSED = "open", "closed"
# The jurisdiction_id a FixMyStreet body is configured with (its "jurisdiction"; FixMyStreet sends
# it with every GET): `requests` then carry the extended status in `status`, as its import reads it.
FIXMYSTREET_JURISDICTION = "sp4n-fixmystreet"


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    group: str
    keywords: tuple[str, ...]
    description: str


# The complaint categories (`category` of a case) as Open311 services. Codes are the category
# values stored on cases; "lainnya" is where a case without a category is listed.
SERVICES: tuple[Service, ...] = (
    Service("jalan-jembatan", "Jalan dan jembatan", "infrastruktur",
            ("jalan berlubang", "jalan rusak", "jembatan", "trotoar", "aspal"),
            "Jalan, jembatan atau trotoar yang rusak, berlubang atau membahayakan."),
    Service("drainase-banjir", "Drainase dan banjir", "infrastruktur",
            ("selokan", "got", "drainase", "banjir", "genangan"),
            "Saluran air mampet, genangan dan banjir."),
    Service("penerangan-jalan", "Penerangan jalan umum", "infrastruktur",
            ("lampu jalan", "PJU", "lampu padam"),
            "Lampu penerangan jalan umum padam atau rusak."),
    Service("sampah-kebersihan", "Sampah dan kebersihan", "lingkungan",
            ("sampah", "TPS", "kebersihan", "bau"),
            "Sampah tidak diangkut, TPS penuh, kebersihan lingkungan."),
    Service("pencemaran", "Pencemaran lingkungan", "lingkungan",
            ("limbah", "polusi", "asap", "pencemaran sungai"),
            "Limbah, asap atau pencemaran air, udara dan tanah."),
    Service("air-bersih", "Air bersih (PDAM)", "utilitas",
            ("PDAM", "air mati", "air keruh", "pipa bocor"),
            "Air bersih mati, keruh atau pipa bocor."),
    Service("listrik", "Listrik (PLN)", "utilitas",
            ("PLN", "listrik padam", "token", "tiang listrik"),
            "Pemadaman listrik, meteran, tiang atau kabel berbahaya."),
    Service("transportasi", "Transportasi umum dan lalu lintas", "transportasi",
            ("angkot", "bus", "terminal", "lampu lalu lintas", "parkir liar"),
            "Angkutan umum, terminal, rambu dan lampu lalu lintas, parkir."),
    Service("administrasi-kependudukan", "Administrasi kependudukan", "pelayanan administrasi",
            ("KTP", "e-KTP", "KK", "akta kelahiran", "Dukcapil"),
            "KTP elektronik, kartu keluarga, akta dan layanan Dukcapil."),
    Service("perizinan", "Perizinan", "pelayanan administrasi",
            ("izin usaha", "IMB", "PBG", "OSS"),
            "Izin usaha, bangunan dan layanan perizinan terpadu."),
    Service("kesehatan", "Kesehatan dan BPJS", "kesehatan",
            ("puskesmas", "rumah sakit", "BPJS Kesehatan", "obat"),
            "Puskesmas, rumah sakit dan jaminan kesehatan."),
    Service("pendidikan", "Pendidikan", "pendidikan",
            ("sekolah", "PPDB", "guru", "KIP", "beasiswa"),
            "Sekolah, penerimaan murid baru, bantuan pendidikan."),
    Service("bantuan-sosial", "Bantuan sosial", "sosial",
            ("bansos", "PKH", "BLT", "sembako"),
            "Penyaluran dan data penerima bantuan sosial."),
    Service("ketenagakerjaan", "Ketenagakerjaan", "sosial",
            ("BPJS Ketenagakerjaan", "JHT", "PHK", "upah"),
            "Jaminan sosial tenaga kerja, upah dan hubungan kerja."),
    Service("pungli-korupsi", "Pungutan liar dan penyalahgunaan wewenang", "pengawasan",
            ("pungli", "suap", "korupsi", "gratifikasi"),
            "Pungutan liar, suap dan penyalahgunaan wewenang aparatur."),
    Service("ketertiban-umum", "Ketertiban umum", "ketertiban",
            ("PKL", "bangunan liar", "kebisingan", "Satpol PP"),
            "Pedagang kaki lima, bangunan liar, gangguan ketertiban."),
    Service("lainnya", "Lainnya", "umum",
            ("pelayanan publik", "pengaduan umum"),
            "Keluhan pelayanan publik yang tidak termasuk kategori lain."),
)
SERVICES_BY_CODE = {service.code: service for service in SERVICES}
OTHER = SERVICES_BY_CODE["lainnya"]


def service_for_category(category: str | None) -> Service:
    """The Open311 service a case is listed under (its category; 'lainnya' when none or unknown)."""
    return SERVICES_BY_CODE.get(category or "", OTHER) if category else OTHER


# --- the service definition: what POST requests takes as attribute[code] -------------------------

REPORT_TYPES = (
    ("pengaduan", "Pengaduan"),
    ("aspirasi", "Aspirasi"),
    ("permintaan_informasi", "Permintaan informasi"),
    ("pengaduan_berkadar_pengawasan", "Pengaduan berkadar pengawasan"),
)
YES_NO = (("false", "Tidak"), ("true", "Ya"))

# What POST requests takes (advertised in every service definition, checked in api/routes/open311.py).
DESCRIPTION_MAX = 20_000  # characters: the case's own limit (ComplaintDetails.description)
DESCRIPTION_SHOWN_MAX = 4_000  # characters of `description` in GET answers (GeoReport's limit)
MEDIA_URLS_MAX = 20  # media_url values kept per request
MEDIA_URL_MAX = 2_000  # characters of one media_url
MEDIA_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class RegionChoice:
    code: str  # Kemendagri code: "62" (province) or "62.71" (regency/city)
    name: str  # "Kalimantan Tengah", "Kota Palangka Raya"


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # 20.000, as Indonesian writes it


def rules_text(max_image_pixels: int | None = None, max_pdf_pages: int | None = None) -> str:
    """Every constraint of POST requests, in one sentence list (the definition's `ketentuan`);
    the upload pipeline's configured limits when given."""
    mb = MAX_ATTACHMENT_BYTES // (1024 * 1024)
    limits = ""
    if max_image_pixels:
        limits += f" Gambar paling besar {max_image_pixels // 1_000_000} megapiksel."
    if max_pdf_pages:
        limits += f" PDF paling banyak {_number(max_pdf_pages)} halaman."
    return (
        f"description wajib, paling panjang {_number(DESCRIPTION_MAX)} karakter (jawaban GET memuat "
        f"{_number(DESCRIPTION_SHOWN_MAX)} karakter pertama; teks lengkap tersimpan pada laporan). "
        "Lokasi wajib: lat dan long bersama (derajat desimal), address_string, address_id atau "
        f"attribute[region]. media_url boleh diulang, paling banyak {MEDIA_URLS_MAX} tautan http(s) "
        f"masing-masing paling panjang {_number(MEDIA_URL_MAX)} karakter; tautan disimpan, tidak diunduh "
        "server, dan tidak diperlihatkan kepada publik bila pelapor anonim. Berkas (multipart, "
        f"nama bidang bebas) JPEG, PNG atau PDF, paling besar {mb} MB per berkas, paling banyak "
        f"{MAX_ATTACHMENTS_PER_CASE} berkas per laporan; metadata foto dihapus. address_string dipotong "
        "pada 500 karakter; first_name dan last_name bersama paling panjang 200 karakter. email harus "
        "alamat surel yang sah dan phone nomor telepon negara yang diizinkan administrator (bawaan: "
        "Indonesia, +62). Karakter kendali (selain tab dan baris baru) ditolak di setiap bidang."
    ) + limits


def service_definition(service: Service, regions: Iterable[RegionChoice] = (), rules: str | None = None) -> dict:
    """GeoReport v2 service definition: the same attributes for every category, each constraint
    of POST requests stated (`ketentuan`, which asks for no input)."""
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": True, "code": "report_type", "datatype": "singlevaluelist", "required": False,
                "datatype_description": "Bawaan: pengaduan", "order": 1,
                "description": "Jenis laporan",
                "values": [{"key": key, "name": name} for key, name in REPORT_TYPES],
            },
            {
                "variable": True, "code": "anonymous", "datatype": "singlevaluelist", "required": False,
                "datatype_description": "Bawaan: false", "order": 2,
                "description": "Anonim: identitas pelapor tidak diperlihatkan kepada instansi",
                "values": [{"key": key, "name": name} for key, name in YES_NO],
            },
            {
                "variable": True, "code": "confidential", "datatype": "singlevaluelist", "required": False,
                "datatype_description": "Bawaan: false", "order": 3,
                "description": "Rahasia: laporan tidak diperlihatkan kepada publik",
                "values": [{"key": key, "name": name} for key, name in YES_NO],
            },
            {
                "variable": True, "code": "region", "datatype": "singlevaluelist", "required": False,
                "datatype_description": "Kode wilayah Kemendagri provinsi atau kabupaten/kota (mis. 62.71); "
                "nama juga diterima (mis. Kota Palangka Raya, Palangkaraya) dan kode kecamatan (62.71.01)",
                "order": 4,
                "description": "Wilayah kejadian",
                "values": [{"key": region.code, "name": region.name} for region in regions],
            },
            {
                "variable": False, "code": "ketentuan", "datatype": "text", "required": False,
                "datatype_description": None, "order": 5,
                "description": rules or rules_text(),
            },
        ],
    }


def _compact(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


_NAME_PREFIXES = ("provinsi", "prov", "kabupaten", "kab", "kota", "pemkot", "pemkab", "pemprov", "administrasi")


def _compact_forms(text: str) -> set[str]:
    """A name without case, spaces and punctuation, with and without its "Kota"/"Kabupaten"/... word."""
    key = _compact(text)
    forms = {key}
    for prefix in _NAME_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix) + 2:
            forms.add(key[len(prefix):])
            break
    return forms


def resolve_region(value: str, choices: Iterable[RegionChoice], gazetteer: Gazetteer) -> str | None:
    """The region code `attribute[region]` names: a known code (province, regency/city or
    district), a name the region resolver knows ("Kota Palangka Raya", "Jaksel", "DKI"), or a name
    written without its spaces ("Palangkaraya"); None when it names no region."""
    value = value.strip()
    if value in gazetteer.names:
        return value
    match = gazetteer.resolve(value)
    if match is not None:
        return match.code
    wanted = _compact_forms(value) - {""}
    if not wanted:
        return None
    found = [choice for choice in choices if _compact_forms(choice.name) & wanted]
    cities = [choice for choice in found if choice.name.startswith("Kota ")]
    found = cities or found  # a bare name shared by a city and a regency means the city
    return found[0].code if len(found) == 1 else None


# --- statuses -------------------------------------------------------------------------------------

ARCHIVE_NOTES = {
    ArchiveReason.NOT_A_COMPLAINT: "bukan pengaduan",
    ArchiveReason.INCOMPLETE: "tidak dilengkapi",
    ArchiveReason.DUPLICATE: "laporan ganda",
    ArchiveReason.OUT_OF_SCOPE: "di luar kewenangan",
    ArchiveReason.ABUSIVE: "berisi kata-kata yang tidak pantas",
    ArchiveReason.WITHDRAWN: "pelapor tidak menanggapi",
}

CLOSED_STATUSES = frozenset({Status.COMPLETED, Status.ARCHIVED})


def open311_status(status: Status | str) -> str:
    return CLOSED if Status(status) in CLOSED_STATUSES else OPEN


class Extended(StrEnum):
    """The extended statuses of mySociety's GeoReport extension, as FixMyStreet reads them (its
    `map_state` lower-cases them and turns `_` into a space: `NOT_COUNCILS_RESPONSIBILITY` is its
    state "not councils responsibility" → "not responsible")."""

    OPEN = "OPEN"
    INVESTIGATING = "INVESTIGATING"
    IN_PROGRESS = "IN_PROGRESS"
    ACTION_SCHEDULED = "ACTION_SCHEDULED"
    INTERNAL_REFERRAL = "INTERNAL_REFERRAL"
    FIXED = "FIXED"
    DUPLICATE = "DUPLICATE"
    NOT_COUNCILS_RESPONSIBILITY = "NOT_COUNCILS_RESPONSIBILITY"
    NO_FURTHER_ACTION = "NO_FURTHER_ACTION"


# The extended status of a case in each lifecycle status (docs/open311.md has this table).
EXTENDED_BY_STATUS = {
    Status.AWAITING_VERIFICATION: Extended.OPEN,
    Status.ON_HOLD: Extended.INVESTIGATING,  # being checked: the reporter is asked for more
    Status.AWAITING_AGENCY: Extended.IN_PROGRESS,
    Status.AWAITING_REPORTER: Extended.ACTION_SCHEDULED,  # answered; the reporter may still reply
    Status.COMPLETED: Extended.FIXED,  # LAPOR!'s "Selesai": the answer stood (by silence or rating)
}
EXTENDED_BY_ARCHIVE_REASON = {
    ArchiveReason.DUPLICATE: Extended.DUPLICATE,
    ArchiveReason.OUT_OF_SCOPE: Extended.NOT_COUNCILS_RESPONSIBILITY,
    ArchiveReason.NOT_A_COMPLAINT: Extended.NO_FURTHER_ACTION,
    ArchiveReason.INCOMPLETE: Extended.NO_FURTHER_ACTION,
    ArchiveReason.ABUSIVE: Extended.NO_FURTHER_ACTION,
    ArchiveReason.WITHDRAWN: Extended.NO_FURTHER_ACTION,
}


def extended_status(
    status: Status | str, *, archive_reason: ArchiveReason | str | None = None, action: Action | str | None = None
) -> Extended:
    """The extended status of a case in `status`, reached by `action` (the last shown step), archived
    for `archive_reason`. An agency's "not our authority" sends the case back to the national
    administrator to forward elsewhere: `INTERNAL_REFERRAL` until it is forwarded again."""
    status = Status(status)
    if status == Status.ARCHIVED:
        return EXTENDED_BY_ARCHIVE_REASON.get(ArchiveReason(archive_reason), Extended.NO_FURTHER_ACTION) \
            if archive_reason else Extended.NO_FURTHER_ACTION
    if status == Status.AWAITING_VERIFICATION and action == Action.REROUTE:
        return Extended.INTERNAL_REFERRAL
    return EXTENDED_BY_STATUS[status]


def statuses_for(open311: str) -> list[str]:
    """Our statuses behind an Open311 status ('open' or 'closed')."""
    return sorted(s.value for s in Status if open311_status(s) == open311)


def expected_datetime(status: Status | str, deadlines: Deadlines | None) -> datetime | None:
    """The deadline of the clock the case waits on in this status; none once closed."""
    if deadlines is None:
        return None
    return {
        Status.AWAITING_VERIFICATION: deadlines.verification_due,
        Status.ON_HOLD: deadlines.hold_ends,
        Status.AWAITING_AGENCY: deadlines.response_due,
        Status.AWAITING_REPORTER: deadlines.silence_ends,
    }.get(Status(status))


def status_notes(
    status: Status | str,
    *,
    agency_name: str | None = None,
    archive_reason: str | None = None,
    duplicate_of: str | None = None,
    resolution_due: datetime | None = None,
) -> str:
    """One sentence (Bahasa Indonesia) on where the case stands, for `status_notes`."""
    status = Status(status)
    if status == Status.AWAITING_VERIFICATION:
        return "Menunggu verifikasi oleh administrator SP4N-LAPOR!."
    if status == Status.ON_HOLD:
        return "Ditunda: pelapor diminta melengkapi laporan."
    if status == Status.AWAITING_AGENCY:
        note = f"Diteruskan ke {agency_name or 'instansi berwenang'}; menunggu tindak lanjut."
        if resolution_due is not None:
            note += f" Batas penyelesaian {resolution_due.isoformat()}."
        return note
    if status == Status.AWAITING_REPORTER:
        return f"{agency_name or 'Instansi'} telah menindaklanjuti; menunggu tanggapan pelapor."
    if status == Status.COMPLETED:
        return "Selesai ditindaklanjuti."
    reason = ARCHIVE_NOTES.get(ArchiveReason(archive_reason), archive_reason) if archive_reason else None
    note = f"Diarsipkan: {reason}." if reason else "Diarsipkan."
    if duplicate_of:
        note = note[:-1] + f" (sama dengan {duplicate_of})."
    return note


# --- updates (mySociety's GET servicerequestupdates) ------------------------------------------------

UPDATE_LABELS = {
    "accept": "Diverifikasi dan diteruskan ke instansi",
    "hold": "Ditunda: pelapor diminta melengkapi laporan",
    "reject": "Diarsipkan oleh administrator",
    "supplement": "Pelapor melengkapi laporan",
    "dispose": "Didisposisikan ke unit kerja",
    "follow_up": "Tindak lanjut instansi",
    "reroute": "Dikembalikan: bukan kewenangan instansi",
    "reply": "Tanggapan pelapor",
    "rate": "Penilaian pelapor",
    "satisfied": "Selesai: pelapor puas atas tindak lanjut",
    "hold_expired": "Diarsipkan: laporan tidak dilengkapi",
    "silence_completed": "Selesai: pelapor tidak menanggapi tindak lanjut",
    "reopen": "Dibuka kembali",
}


def update_description(action: str, note: str | None) -> str:
    label = UPDATE_LABELS.get(action, action)
    return f"{label}: {note}" if note else label + "."
