"""Request and response bodies of HTTP API v1, with examples in Bahasa Indonesia."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from domain.enums import ArchiveReason, Role
from domain.contacts import Email
from domain.models import Comment, ComplaintDetails, Deadlines, LongText, Name, NonBlank, Note

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def with_example(example: dict) -> ConfigDict:
    """A request body's config: no unknown fields, and a whole-body example for the OpenAPI spec."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class ComplaintCreate(ComplaintDetails):
    # The service's own note (a machine door's repair), never the sender's: not in the body.
    intake_note: SkipJsonSchema[None] = Field(default=None, exclude=True)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Jalan berlubang di Jl. Tjilik Riwut km 5",
                    "description": "Jalan berlubang besar sejak dua bulan, sudah dua motor jatuh.",
                    "report_type": "pengaduan",
                    "category": "infrastruktur",
                    "region_code": "62.71",
                    "anonymous": True,
                    "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
                }
            ]
        },
    )


class SubmissionReceipt(BaseModel):
    tracking_id: str = Field(examples=["LAP-7K2M9QX4TD"])
    reporter_token: str = Field(description="Simpan: hanya token ini yang dapat bertindak sebagai pelapor.")
    status: str = Field(examples=["awaiting_verification"])
    submitted_at: AwareDatetime
    deadlines: Deadlines
    pin_outside_region: bool = Field(
        default=False,
        description="true: the location's pin lies outside the region_code given. The case is taken; the pin is "
        "flagged for the verifier and used for nothing public or for similar reports until confirmed.")


class VerificationRequest(Body):
    decision: Literal["accept", "hold", "reject"]
    agency_id: NonBlank | None = Field(default=None, max_length=100, description="Wajib untuk accept: instansi tujuan.")
    reason: ArchiveReason | None = Field(default=None, description="Wajib untuk reject.")
    duplicate_of: NonBlank | None = Field(default=None, max_length=64, description="Untuk reason=duplicate: laporan asal.")
    note: Note | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "accept", "agency_id": "pemkot-62.71", "note": "Diteruskan ke Pemkot"}]},
    )


class SupplementRequest(Body):
    model_config = with_example({"text": "Foto lokasi dan alamat lengkap: Jl. Tjilik Riwut km 5, depan SPBU."})

    text: LongText = Field(examples=["Foto lokasi dan alamat lengkap: Jl. Tjilik Riwut km 5, depan SPBU."])


class DispositionRequest(Body):
    model_config = with_example({"unit_id": "pemkot-62.71/pupr", "note": "Mohon segera ditindaklanjuti."})

    unit_id: NonBlank = Field(examples=["pemkot-62.71/pupr"])
    note: Note | None = Field(default=None, examples=["Mohon segera ditindaklanjuti."])


class FollowUpRequest(Body):
    model_config = with_example({"message": "Tim PUPR telah menambal jalan pada 3 Desember."})

    message: LongText = Field(examples=["Tim PUPR telah menambal jalan pada 3 Desember."])


class RerouteRequest(Body):
    model_config = with_example({"reason": "Jalan nasional, kewenangan Kementerian PU.", "suggested_agency_id": "kemenpu"})

    reason: LongText = Field(examples=["Jalan nasional, kewenangan Kementerian PU."])
    suggested_agency_id: NonBlank | None = Field(default=None, max_length=100, examples=["kemenpu"])


class ReplyRequest(Body):
    model_config = with_example({"message": "Baru sebagian yang ditambal."})

    message: LongText = Field(examples=["Baru sebagian yang ditambal."])


class RatingRequest(Body):
    model_config = with_example({"score": 4, "comment": "Cepat ditangani, terima kasih."})

    score: int = Field(ge=1, le=5, examples=[4])
    comment: Comment | None = Field(default=None, examples=["Cepat ditangani, terima kasih."])


class TokenCreate(Body):
    model_config = with_example({"role": "officer", "agency_id": "pemkot-62.71", "name": "Budi, PUPR Kota Palangkaraya"})

    role: Literal["admin", "agency_admin", "officer", "observer", "client"]
    agency_id: NonBlank | None = Field(default=None, max_length=100, description="Wajib untuk agency_admin dan officer.")
    name: Name = Field(min_length=1, examples=["Budi, PUPR Kota Palangkaraya"])
    email: Email | None = Field(default=None, max_length=320, description="Alamat notifikasi (diperiksa).")


class TokenIssued(BaseModel):
    id: str
    token: str = Field(description="Ditampilkan sekali saja; yang disimpan hanya hash-nya.")
    role: Role
    agency_id: str | None
    name: str


class TokenInfo(BaseModel):
    id: str
    role: Role
    agency_id: str | None
    name: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Kirim sebagai ?cursor= untuk halaman berikutnya.")


class UnitOut(BaseModel):
    id: str
    name: str
    kind: str


class AgencyOut(BaseModel):
    id: str
    name: str
    kind: str
    region_code: str | None
    timezone: str
    parent_id: str | None
    units: list[UnitOut]
    outside_region: bool | None = Field(default=None, description=(
        "With `near_region`: true for another region's government (proposing it needs a reason: the "
        "region rule), false otherwise; absent without `near_region`."))


class StatusCount(BaseModel):
    status: str
    count: int


class AgencyStats(BaseModel):
    agency_id: str
    open: int
    overdue: int
    on_time_rate: float | None = Field(description="Tindak lanjut yang tepat waktu / semua tindak lanjut.")
    median_first_response_hours: float | None


class ChannelCount(BaseModel):
    channel: str = Field(examples=["sms"], description="web, api, open311, sms atau walk_in")
    count: int


class Stats(BaseModel):
    by_status: list[StatusCount]
    by_agency: list[AgencyStats]
    by_channel: list[ChannelCount] = Field(description="Laporan per saluran masuk (semua status).")
    open: int
    overdue: int


class Health(BaseModel):
    api: str
    temporal: str
    database: str


class SimilarReason(BaseModel):
    kind: Literal["text", "district", "regency", "province", "category", "distance", "far"] = Field(
        description="text: kemiripan kata (value 0-1); district/regency/province: wilayah sama; category: "
        "kategori sama; distance/far: jarak antar titik dalam meter (far: lebih dari 20 km)")
    value: float | None = None


class SimilarCaseOut(BaseModel):
    tracking_id: str
    title: str
    status: str
    region_code: str | None = None
    category: str | None = None
    agency_id: str | None = None
    score: float = Field(ge=0, le=1)
    likely_duplicate: bool = Field(description="score di atas ambang portal (domain/similar.py LIKELY_DUPLICATE)")
    reasons: list[SimilarReason]
    reporters: int = Field(description="Pelapor kasus itu: dirinya dan duplikat yang digabungkan ke sana")
    supporters: int


class SimilarCases(BaseModel):
    items: list[SimilarCaseOut]
