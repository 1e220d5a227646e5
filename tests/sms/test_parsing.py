"""The pure parts of the SMS and Open311 doors: titles, phone numbers, statuses, GeoReport XML."""

from __future__ import annotations

from datetime import datetime, timezone

from defusedxml.ElementTree import fromstring

from api.intake import title_from_text
from api.routes.open311 import to_xml, w3
from api.routes.sms import normalize_phone, same_phone
from domain.enums import Status
from domain.models import Deadlines
from domain.open311 import expected_datetime, open311_status, statuses_for
from tests.open311.georeport import as_text, xml_to_value


def test_titles_come_from_the_first_line_or_the_first_words() -> None:
    assert title_from_text("\n  Lampu padam \n di gang mawar") == "Lampu padam"
    long = "Jalan di depan pasar berlubang besar sejak dua bulan dan sudah dua motor jatuh di sana minggu ini"
    title = title_from_text(long)
    assert len(title) <= 80 and title.endswith("…") and long.startswith(title[:-1])
    assert title_from_text("x" * 200).startswith("x" * 70)


def test_phone_numbers_normalize_to_plus_62() -> None:
    assert normalize_phone("0812-3456-7890") == normalize_phone("+62 812 3456 7890") == "+6281234567890"
    assert normalize_phone("6281234567890") == "+6281234567890"
    assert same_phone("081234567890", "+6281234567890") and not same_phone("081234567890", None)


def test_status_mapping() -> None:
    assert statuses_for("closed") == ["archived", "completed"]
    assert all(open311_status(s) == "open" for s in statuses_for("open"))
    deadlines = Deadlines(verification_due=datetime(2026, 12, 2, 16, 59, 59, tzinfo=timezone.utc),
                          resolution_due=datetime(2026, 12, 17, 16, 59, 59, tzinfo=timezone.utc))
    assert expected_datetime(Status.AWAITING_VERIFICATION, deadlines) == deadlines.verification_due
    assert expected_datetime(Status.COMPLETED, deadlines) is None


def test_xml_mirrors_json() -> None:
    data = [{"service_code": "a&b <c>", "metadata": True, "keywords": None, "lat": -2.5}]
    element = fromstring(to_xml("services", data))
    assert xml_to_value(element) == as_text(data)
    assert w3(datetime(2026, 12, 2, 16, 59, 59, 123456, tzinfo=timezone.utc), "Asia/Jakarta") == "2026-12-02T23:59:59+07:00"
