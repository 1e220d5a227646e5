"""Attachments (issue 8): photos and PDFs without their metadata, limits, and who sees them."""

from __future__ import annotations

import asyncio
import re
import hashlib
import secrets
import threading
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject
from PIL import Image, ImageCms, PngImagePlugin

from api.main import UPLOAD_PATHS
from tests.api.conftest import OTHER_AGENCY, WIB_AGENCY, ApiHarness, assert_problem, bearer

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F
MB = 1024 * 1024
SECRETS = [b"Siti Rahma", b"Canon", b"Rumah Siti", b"http://ns.adobe.com/xap/1.0/"]


@pytest.fixture(autouse=True)
def attachment_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The `api` fixture's app stores attachments here (its settings read the environment)."""
    directory = tmp_path / "attachments"
    monkeypatch.setenv("ATTACHMENT_DIR", str(directory))
    return directory


# --- files ---------------------------------------------------------------------------------------


def photo_with_gps() -> bytes:
    """A 40x20 JPEG, red left half and blue right half, taken (says its EXIF) by a Canon at a
    reporter's home, to be shown rotated 90° clockwise (Orientation 6); with XMP, ICC and a comment."""
    image = Image.new("RGB", (40, 20), "blue")
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "Canon"
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (2.0, 12.0, 34.56), 3: "E", 4: (113.0, 54.0, 48.6)})
    out = BytesIO()
    image.save(
        out, "JPEG", exif=exif, comment=b"Siti Rahma", quality=95,
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com/xap/1.0/">'
        b"Rumah Siti</rdf:RDF></x:xmpmeta>",
    )
    data = out.getvalue()
    assert b"Exif" in data and Image.open(BytesIO(data)).getexif().get_ifd(GPS_IFD)
    return data


def png_with_text(size: tuple[int, int] = (8, 8), color: str = "green") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Siti Rahma")
    info.add_itxt("Location", "Rumah Siti", zip=True)
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    out = BytesIO()
    Image.new("RGBA", size, color).save(out, "PNG", pnginfo=info, exif=exif)
    data = out.getvalue()
    assert b"tEXt" in data and b"eXIf" in data
    return data


def pdf_with_metadata() -> bytes:
    """A real one-page PDF naming its author in the Info dictionary and in XMP, ~100 KB."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Author": "Siti Rahmawati", "/Creator": "Ponsel Siti", "/Title": "Surat keterangan"})
    xmp = StreamObject()
    xmp[NameObject("/Type")], xmp[NameObject("/Subtype")] = NameObject("/Metadata"), NameObject("/XML")
    xmp.set_data(b"<x:xmpmeta>Siti Rahmawati</x:xmpmeta>")
    writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    # The size: more than other bodies may be (a page's content keeps its comments).
    content = StreamObject()
    content.set_data(b"".join(b"%% %s\n" % secrets.token_hex(50).encode() for _ in range(1000)))
    writer.pages[0][NameObject("/Contents")] = writer._add_object(content)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = pdf_with_metadata()


async def upload(
    api: ApiHarness, tracking_id: str, data: bytes, headers: dict[str, str], *,
    name: str = "berkas", content_type: str = "application/octet-stream", purpose: str | None = None,
) -> httpx.Response:
    return await api.http.post(
        f"/v1/complaints/{tracking_id}/attachments",
        files={"file": (name, data, content_type)},
        data={"purpose": purpose} if purpose else {},
        headers=headers,
    )


async def upload_ok(api: ApiHarness, tracking_id: str, data: bytes, headers: dict[str, str], **kw) -> dict:
    response = await upload(api, tracking_id, data, headers, **kw)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(api: ApiHarness, tracking_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.http.get(f"/v1/complaints/{tracking_id}/attachments", headers=headers or {})


async def fetch(api: ApiHarness, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.http.get(url, headers=headers or {})


async def reported(api: ApiHarness, **fields) -> tuple[str, dict[str, str]]:
    receipt = await api.submit(region_code="62.71", **fields)
    return receipt["tracking_id"], bearer(receipt["reporter_token"])


# --- what is stored --------------------------------------------------------------------------------


async def test_a_photo_loses_its_gps_and_every_other_metadata_but_keeps_its_orientation(
    api: ApiHarness, attachment_dir: Path
) -> None:
    tracking_id, reporter = await reported(api, anonymous=True, reporter={"name": "Siti Rahma"})
    sent = photo_with_gps()
    info = await upload_ok(api, tracking_id, sent, reporter, name="IMG_20261128_rumah-siti.jpg",
                           content_type="image/jpeg")
    assert info["purpose"] == "report" and info["content_type"] == "image/jpeg"
    assert info["url"] == f"/v1/complaints/{tracking_id}/attachments/{info['id']}"
    assert "rumah-siti" not in str(info)  # the file name is not kept

    response = await fetch(api, info["url"], reporter)  # what anyone will see once the case is public
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"] == f'inline; filename="{info["id"]}.jpg"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "private"
    served = response.content
    assert len(served) == info["size_bytes"]
    assert b"Exif" not in served and not [s for s in SECRETS if s in served]
    image = Image.open(BytesIO(served))
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {} and not image.getexif().get_ifd(GPS_IFD)
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
    # Upright: the 40x20 picture turned a quarter clockwise, its red half now on top.
    assert image.size == (20, 40)
    red, blue = image.convert("RGB").getpixel((10, 5)), image.convert("RGB").getpixel((10, 35))
    assert red[0] > 200 and red[2] < 60 and blue[2] > 200 and blue[0] < 60, (red, blue)
    # And that is what the store holds: no copy with the metadata anywhere.
    [stored] = [p for p in attachment_dir.rglob("*") if p.is_file()]
    assert stored.read_bytes() == served


async def test_a_png_loses_its_text_chunks(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    info = await upload_ok(api, tracking_id, png_with_text(), reporter, content_type="image/png")
    served = (await fetch(api, info["url"], reporter)).content
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
        assert chunk not in served, chunk
    image = Image.open(BytesIO(served))
    assert image.format == "PNG" and image.size == (8, 8) and image.text == {}
    assert image.convert("RGBA").getpixel((0, 0)) == (0, 128, 0, 255)


async def test_a_pdf_is_kept_without_its_metadata_and_downloaded_sandboxed(api: ApiHarness) -> None:
    assert b"Siti" in PDF
    tracking_id, reporter = await reported(api)
    info = await upload_ok(api, tracking_id, PDF, reporter, name="surat.pdf", purpose="supplement")
    assert info["content_type"] == "application/pdf" and info["purpose"] == "supplement"
    response = await fetch(api, info["url"], reporter)
    assert b"Siti" not in response.content and b"Ponsel" not in response.content  # author, creator, XMP
    served = PdfReader(BytesIO(response.content))
    assert len(served.pages) == 1 and not served.metadata and "/Metadata" not in served.trailer["/Root"]
    assert info["size_bytes"] == len(response.content) > 64 * 1024
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{info["id"]}.pdf"'
    assert response.headers["content-security-policy"] == "sandbox"
    assert info["sha256"] == hashlib.sha256(response.content).hexdigest()
    for broken in (b"%PDF-1.4\n" + b"x" * 500, PDF[: len(PDF) // 3]):
        assert_problem(await upload(api, tracking_id, broken, reporter), 422)


async def test_the_type_is_read_from_the_content_not_the_name(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    text = b"ini bukan foto, hanya teks\n"
    for name, content_type in (("photo.jpg", "image/jpeg"), ("scan.pdf", "application/pdf"), ("a.png", "image/png")):
        body = assert_problem(await upload(api, tracking_id, text, reporter, name=name, content_type=content_type), 415)
        assert "JPEG" in body["detail"] and "PDF" in body["detail"]
    assert_problem(await upload(api, tracking_id, b"", reporter), 415)
    # A JPEG's first bytes and then nothing a decoder can read.
    body = assert_problem(await upload(api, tracking_id, b"\xff\xd8\xff\xe0" + b"\x00" * 64, reporter), 422)
    assert "Gambar" in body["detail"]
    assert (await listed(api, tracking_id, reporter)).json() == []


async def test_a_file_over_ten_megabytes_is_refused(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    body = assert_problem(await upload(api, tracking_id, b"%PDF-" + b"x" * (10 * MB - 4), reporter), 413)
    assert "10 MB" in body["detail"]
    assert (await listed(api, tracking_id, reporter)).json() == []


@pytest.mark.api_settings(attachment_max_image_pixels=1000)  # a 40x40 picture now counts as a bomb
async def test_a_picture_over_the_pixel_limit_is_refused(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    body = assert_problem(await upload(api, tracking_id, png_with_text((40, 40)), reporter), 413)
    assert "megapiksel" in body["detail"] and "megapixels" in body["detail_en"]
    await upload_ok(api, tracking_id, png_with_text((30, 30)), reporter)


@pytest.mark.api_settings(max_upload_body_bytes=200_000)
async def test_upload_bodies_have_their_own_limit(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    await upload_ok(api, tracking_id, PDF, reporter)  # ~100 KB: over the 64 KB of other bodies
    body = assert_problem(await upload(api, tracking_id, PDF + b"x" * 150_000, reporter), 413)
    assert "200000" in body["detail"]
    # Other paths keep the general limit.
    assert_problem(await api.http.post("/v1/complaints", content=b"{" + b" " * 70_000, headers={
        "Content-Type": "application/json"}), 413)


def test_upload_paths_include_the_portal_forms() -> None:
    def is_upload(path: str) -> bool:
        return any(pattern.match(path) for pattern in UPLOAD_PATHS)

    assert is_upload("/v1/complaints/LAP-7K2M9QX4TD/attachments")
    assert is_upload("/lapor") and is_upload("/kasus/LAP-7K2M9QX4TD/tindak-lanjut")
    assert not is_upload("/v1/complaints/LAP-7K2M9QX4TD/attachments/abc")
    assert not is_upload("/v1/complaints") and not is_upload("/lapor/x")


class Rendezvous:
    """A store whose `put` waits until every upload has reached it: all of them then race to
    record their row at the same moment (each one passed the early count, when there were none)."""

    def __init__(self, storage, parties: int) -> None:
        self.storage, self.barrier = storage, threading.Barrier(parties, timeout=20)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.storage.put(key, data, content_type)
        self.barrier.wait()

    def __getattr__(self, name: str):
        return getattr(self.storage, name)


async def test_a_case_takes_five_files_even_when_they_come_at_once(api: ApiHarness, attachment_dir: Path) -> None:
    tracking_id, reporter = await reported(api)
    colors = ("red", "green", "blue", "yellow", "white", "black", "gray")
    services = api.app.state.services
    storage, services.storage = services.storage, Rendezvous(services.storage, len(colors))
    try:
        responses = await asyncio.gather(*(
            upload(api, tracking_id, png_with_text(color=color), reporter) for color in colors
        ))
    finally:
        services.storage = storage
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 2, [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert "5 lampiran" in assert_problem(refused, 409)["detail"]
    assert len((await listed(api, tracking_id, reporter)).json()) == 5
    assert len([p for p in attachment_dir.rglob("*") if p.is_file()]) == 5  # the refused ones removed
    # The agency's evidence counts too: the case is full.
    await api.accept(tracking_id)
    assert_problem(await upload(api, tracking_id, PDF, await api.headers("officer", WIB_AGENCY)), 409)


# --- who adds, who sees ---------------------------------------------------------------------------


async def test_the_agency_adds_evidence_and_never_learns_who_an_anonymous_reporter_is(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api, anonymous=True, reporter={"name": "Siti Rahma"})
    officer = await api.headers("officer", WIB_AGENCY)
    await upload_ok(api, tracking_id, png_with_text(), reporter)
    # Not yet forwarded: the case does not exist for the agency.
    assert_problem(await upload(api, tracking_id, PDF, officer), 404)
    await api.accept(tracking_id)
    evidence = await upload_ok(api, tracking_id, PDF, officer)
    assert evidence["purpose"] == "evidence"
    assert_problem(await upload(api, tracking_id, PDF, officer, purpose="report"), 403)
    assert_problem(await upload(api, tracking_id, PDF, reporter, purpose="evidence"), 403)
    assert_problem(await upload(api, tracking_id, PDF, await api.headers("observer")), 403)
    assert_problem(await upload(api, tracking_id, PDF, {}), 401)
    assert (await upload(api, tracking_id, PDF, api.admin)).json()["purpose"] == "evidence"

    for who, headers in (("officer", officer), ("agency_admin", await api.headers("agency_admin", WIB_AGENCY)),
                         ("public", {})):
        response = await listed(api, tracking_id, headers)
        items = response.json()
        assert [(i["purpose"], i["content_type"]) for i in items] == [
            ("report", "image/png"), ("evidence", "application/pdf"), ("evidence", "application/pdf")], who
        assert all(i["size_bytes"] > 0 for i in items), who
        assert not [i for i in items if {"added_by_role", "added_by_agency_id"} & set(i)], who
        assert "reporter" not in response.text, who
    for who, headers in (("admin", api.admin), ("observer", await api.headers("observer")), ("reporter", reporter)):
        items = (await listed(api, tracking_id, headers)).json()
        assert [(i["added_by_role"], i["added_by_agency_id"]) for i in items] == [
            ("reporter", None), ("officer", WIB_AGENCY), ("admin", None)], who


async def test_a_named_reporters_case_shows_the_agency_who_added_what(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api, reporter={"name": "Siti Rahma"})
    await upload_ok(api, tracking_id, PDF, reporter)
    await api.accept(tracking_id)
    [item] = (await listed(api, tracking_id, await api.headers("officer", WIB_AGENCY))).json()
    assert item["added_by_role"] == "reporter"
    [public] = (await listed(api, tracking_id)).json()
    assert "added_by_role" not in public


async def test_a_confidential_cases_files_exist_only_for_those_who_see_it(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api, confidential=True)
    info = await upload_ok(api, tracking_id, PDF, reporter)
    await api.accept(tracking_id)
    other_officer = await api.headers("officer", OTHER_AGENCY)
    for headers in ({}, await api.headers("client"), other_officer):
        assert_problem(await listed(api, tracking_id, headers), 404)
        assert_problem(await fetch(api, info["url"], headers), 404)
    assert_problem(await upload(api, tracking_id, PDF, other_officer), 404)
    for headers in (reporter, await api.headers("officer", WIB_AGENCY), api.admin, await api.headers("observer")):
        assert hashlib.sha256((await fetch(api, info["url"], headers)).content).hexdigest() == info["sha256"]


async def test_before_verification_the_public_knows_a_case_by_its_title_and_status_only(api: ApiHarness) -> None:
    """Issue 24: a report is public once verified and forwarded. Before, the public and API clients
    (v1 and Open311) learn that it exists, its title and where it stands; never its text, pin or files."""
    location = {"lat": -2.2096, "lon": 113.9135, "address": "Jl. Tjilik Riwut km 5"}
    tracking_id, reporter = await reported(api, title="Jalan berlubang di depan pasar",
                                           description="Lubang sedalam 30 cm, dua motor jatuh.",
                                           location=location, reporter={"name": "Siti Rahma"})
    info = await upload_ok(api, tracking_id, PDF, reporter)
    secret = ["Lubang sedalam", "Tjilik Riwut", "113.9135", "Siti Rahma"]
    outsiders = {"public": {}, "client": await api.headers("client")}

    async def open311_request() -> dict:
        response = await api.http.get(f"/open311/v2/requests/{tracking_id}.json")
        assert response.status_code == 200, response.text
        [request] = response.json()
        return request

    for who, headers in outsiders.items():
        response = await api.get(tracking_id, headers)
        assert response.status_code == 200, (who, response.text)
        case = response.json()
        assert case["title"] == "Jalan berlubang di depan pasar" and case["status"] == "awaiting_verification"
        assert not [value for value in secret if value in response.text], (who, response.text)
        assert (await listed(api, tracking_id, headers)).json() == [], who
        assert_problem(await fetch(api, info["url"], headers), 404)
    request = await open311_request()
    assert request["status"] == "open" and request["description"] == "Jalan berlubang di depan pasar"
    assert request["lat"] is None and request["address"] is None and request["media_url"] is None
    assert not [value for value in secret if value in str(request)], request
    # The reporter and the staff see all of it meanwhile.
    for headers in (reporter, api.admin):
        assert (await api.get(tracking_id, headers)).json()["description"].startswith("Lubang sedalam")
        assert (await fetch(api, info["url"], headers)).status_code == 200

    await api.accept(tracking_id)
    for who, headers in outsiders.items():
        case = (await api.get(tracking_id, headers)).json()
        assert case["description"].startswith("Lubang sedalam") and case["location"]["lat"] == location["lat"], who
        assert (await fetch(api, info["url"], headers)).status_code == 200, who
    request = await open311_request()
    assert request["description"].startswith("Jalan berlubang") and request["lat"] == location["lat"]


async def test_another_agencys_officer_gets_404_on_a_public_case_too(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    info = await upload_ok(api, tracking_id, PDF, reporter)
    await api.accept(tracking_id)
    other_officer = await api.headers("officer", OTHER_AGENCY)
    assert_problem(await listed(api, tracking_id, other_officer), 404)
    assert_problem(await fetch(api, info["url"], other_officer), 404)
    assert (await fetch(api, info["url"])).status_code == 200  # the public sees a public case


async def test_unknown_attachments_and_cases_are_404(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    info = await upload_ok(api, tracking_id, PDF, reporter)
    other, _ = await reported(api)
    assert_problem(await fetch(api, f"/v1/complaints/{tracking_id}/attachments/{'0' * 32}"), 404)
    # An attachment is reached through its own case only.
    assert_problem(await fetch(api, f"/v1/complaints/{other}/attachments/{info['id']}"), 404)
    assert_problem(await listed(api, "LAP-0000000000"), 404)
    assert_problem(await fetch(api, f"/v1/complaints/LAP-0000000000/attachments/{info['id']}"), 404)


async def test_the_reporter_adds_nothing_once_the_case_is_closed(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    await api.act_ok(tracking_id, "verification", {"decision": "reject", "reason": "not_a_complaint"}, api.admin)
    body = assert_problem(await upload(api, tracking_id, PDF, reporter, purpose="reply"), 409)
    assert re.search("selesai|diarsipkan", body["detail"])
