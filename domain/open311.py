"""Open311 GeoReport v2 as seen from our lifecycle: the service catalogue (complaint categories),
the service definition's attributes, and how a status reads to an Open311 client. Pure; no I/O.

GeoReport v2 has two statuses: `open` (reported) and `closed` (resolved). Ours map onto them with a
`status_notes` sentence saying where the case stands, and `expected_datetime` is the deadline of
the clock the case is waiting on (verification, hold, response, silence); a closed case has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import ArchiveReason, Status
from domain.models import Deadlines

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
OPEN, CLOSED = "open", "closed"


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


def service_definition(service: Service) -> dict:
    """GeoReport v2 service definition: the same attributes for every category."""
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
                "variable": True, "code": "region", "datatype": "string", "required": False,
                "datatype_description": "Kode wilayah Kemendagri, mis. 62.71 (Kota Palangkaraya)", "order": 4,
                "description": "Wilayah kejadian",
            },
        ],
    }


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
    "hold_expired": "Diarsipkan: laporan tidak dilengkapi",
    "silence_completed": "Selesai: pelapor tidak menanggapi tindak lanjut",
    "reopen": "Dibuka kembali",
}


def update_description(action: str, note: str | None) -> str:
    label = UPDATE_LABELS.get(action, action)
    return f"{label}: {note}" if note else label + "."
