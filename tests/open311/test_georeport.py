"""Open311 GeoReport v2 over HTTP: every endpoint in .json and .xml, validated against the
GeoReport JSON Schemas, with the XML (parsed by defusedxml) equal to the JSON."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import api.routes.open311.reading as open311_reading
from tests.api.conftest import WIB_AGENCY, ApiHarness, bearer
from tests.open311.georeport import assert_same, assert_valid, both

BASE = "/open311/v2"
JALAN = "jalan-jembatan"


async def client_key(api: ApiHarness) -> str:
    return (await api.issue("client", name="Aplikasi Lapor Warga"))["token"]


def form(api_key: str, **fields: str) -> dict[str, str]:
    base = {
        "api_key": api_key, "service_code": JALAN, "lat": "-2.2096", "long": "113.9213",
        "address_string": "Jl. Tjilik Riwut km 5, Palangkaraya",
        "description": "Jalan berlubang besar di depan pasar\nSudah dua motor jatuh minggu ini.",
        "first_name": "Siti", "last_name": "Rahma", "email": "siti@example.id", "phone": "081234567890",
        "attribute[region]": "62.71",
    }
    return base | fields


async def post(api: ApiHarness, data: dict[str, str], fmt: str = "json", headers: dict | None = None):
    return await api.http.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


async def submit(api: ApiHarness, api_key: str, **fields: str) -> str:
    response = await post(api, form(api_key, **fields))
    assert response.status_code == 200, response.text
    [created] = response.json()
    assert isinstance(created["service_request_id"], str)
    return created["service_request_id"]


async def one(api: ApiHarness, tracking_id: str) -> dict:
    status, data = await both(api.http, "GET", f"{BASE}/requests/{tracking_id}", "service_requests")
    assert status == 200, data
    assert_valid("requests", data)
    [request] = data
    return request


def offset_of(text: str) -> str:
    instant = datetime.fromisoformat(text)
    assert instant.tzinfo is not None, text
    return text[-6:]


# --- discovery, services -------------------------------------------------------------------------


async def test_discovery_services_and_definitions(api: ApiHarness) -> None:
    status, discovery = await both(api.http, "GET", f"{BASE}/discovery", "discovery")
    assert status == 200
    [endpoint] = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    for field in ("changeset", "contact", "key_service"):
        assert discovery[field]

    status, services = await both(api.http, "GET", f"{BASE}/services", "services")
    assert status == 200
    assert_valid("services", services)
    codes = [service["service_code"] for service in services]
    assert len(codes) == len(set(codes)) and JALAN in codes and "lainnya" in codes
    assert all(service["group"] and service["keywords"] for service in services)

    for code in codes:
        status, definition = await both(api.http, "GET", f"{BASE}/services/{code}", "service_definition")
        assert status == 200
        assert_valid("service-definition", definition)
        attributes = {a["code"]: a for a in definition["attributes"]}
        assert set(attributes) == {"report_type", "anonymous", "confidential", "region", "ketentuan"}
        regions = {v["key"]: v["name"] for v in attributes["region"]["values"]}
        assert attributes["region"]["datatype"] == "singlevaluelist"
        assert regions["62"] == "Kalimantan Tengah" and regions["62.71"] == "Kota Palangkaraya"
        assert len(regions) == 38 + 514
        assert attributes["ketentuan"]["variable"] is False and "20.000" in attributes["ketentuan"]["description"]
        assert {v["key"] for v in attributes["report_type"]["values"]} == {
            "pengaduan", "aspirasi", "permintaan_informasi", "pengaduan_berkadar_pengawasan"}

    status, errors = await both(api.http, "GET", f"{BASE}/services/tidak-ada", "errors")
    assert status == 404 and errors[0]["code"] == 404 and errors[0]["description"]
    response = await api.http.get(f"{BASE}/services.yaml")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/xml")


# --- POST requests and the lifecycle ---------------------------------------------------------------


async def test_post_then_the_whole_lifecycle(api: ApiHarness) -> None:
    key = await client_key(api)
    response = await post(api, form(key), "xml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    from defusedxml.ElementTree import fromstring

    element = fromstring(response.content)
    assert element.tag == "service_requests"
    tracking_id = element.find("request/service_request_id").text
    assert tracking_id.startswith("LAP-")
    assert "diverifikasi" in element.find("request/service_notice").text

    case = await api.case(tracking_id)
    assert case["channel"] == "open311" and case["category"] == JALAN and case["region_code"] == "62.71"
    assert case["title"] == "Jalan berlubang besar di depan pasar"
    assert case["reporter"] == {"name": "Siti Rahma", "email": "siti@example.id", "phone": "+6281234567890"}  # E.164
    assert case["location"]["address"].startswith("Jl. Tjilik Riwut")

    # Submitted: open, nobody responsible yet, expected by the verification deadline (WIB).
    request = await one(api, tracking_id)
    assert request["status"] == "open"
    assert request["service_code"] == JALAN and request["service_name"] == "Jalan dan jembatan"
    assert request["agency_responsible"] is None
    assert request["expected_datetime"] == case["deadlines"]["verification_due"]
    assert offset_of(request["requested_datetime"]) == "+07:00"
    # Not verified yet: the public reads its title and where it stands, not its text or place.
    assert request["description"] == "Jalan berlubang besar di depan pasar"
    assert "verifikasi" in request["status_notes"]
    assert (request["lat"], request["long"], request["address"]) == (None, None, None)
    for private in ("email", "phone", "first_name", "reporter"):
        assert private not in request

    # Forwarded: the agency is responsible, expected by its response deadline.
    accepted = await api.accept(tracking_id, WIB_AGENCY)
    request = await one(api, tracking_id)
    assert request["status"] == "open"
    # What the citizen wrote, once (the title is cut from it, never repeated in front of it).
    assert request["description"] == "Jalan berlubang besar di depan pasar\nSudah dua motor jatuh minggu ini."
    assert (request["lat"], request["long"]) == (-2.2096, 113.9213)
    for private in ("email", "phone", "first_name", "reporter"):
        assert private not in request
    agency_name = (await api.http.get(f"/v1/agencies/{WIB_AGENCY}")).json()["name"]
    assert request["agency_responsible"] == agency_name
    assert agency_name in request["status_notes"]
    assert request["expected_datetime"] == accepted["deadlines"]["response_due"]
    accept_at = datetime.fromisoformat(accepted["timeline"][-1]["at"])
    assert datetime.fromisoformat(request["updated_datetime"]) == accept_at.replace(microsecond=0)
    assert offset_of(request["updated_datetime"]) == "+07:00"

    # Answered: waiting for the reporter, until the silence deadline.
    followed = await api.follow_up(tracking_id, WIB_AGENCY, "Lubang sudah ditambal pada 3 Desember.")
    request = await one(api, tracking_id)
    assert request["status"] == "open"
    assert request["expected_datetime"] == followed["deadlines"]["silence_ends"]
    assert "tanggapan pelapor" in request["status_notes"]

    # The follow-up reaches Open311 clients as an update.
    async def updates() -> list:
        status, data = await both(api.http, "GET", f"{BASE}/servicerequestupdates", "service_request_updates",
                                  params={"service_request_id": tracking_id})
        assert status == 200
        return data

    listed = await api.eventually(updates, lambda data: any(u["external_status_code"] == "ACTION_SCHEDULED" for u in data))
    follow = next(u for u in listed if u["external_status_code"] == "ACTION_SCHEDULED")
    assert "ditambal" in follow["description"] and follow["status"] == "ACTION_SCHEDULED"
    assert follow["extended_attributes"]["sp4n_status"] == "awaiting_reporter"
    assert follow["update_id"] == f"{tracking_id}-{followed['timeline'][-1]['seq']}"
    assert offset_of(follow["updated_datetime"]) == "+07:00"

    # Silence: the case completes by itself and reads closed, with nothing more expected.
    from tests.api.deadlines import instant

    await api.sleep_until(instant(followed["deadlines"]["silence_ends"]) + timedelta(minutes=5))
    await api.settle()
    request = await one(api, tracking_id)
    assert request["status"] == "closed"
    assert request["expected_datetime"] is None
    assert request["agency_responsible"] == agency_name
    assert request["status_notes"].startswith("Selesai")
    listed = await api.eventually(updates, lambda data: data and data[-1]["status"] == "FIXED")
    assert listed[-1]["external_status_code"] == "FIXED"
    assert listed[-1]["extended_attributes"]["sp4n_status"] == "completed"


async def test_the_updates_of_an_unverified_case_carry_no_notes(api: ApiHarness) -> None:
    """Before a case is verified and forwarded its public outline has steps without notes
    (domain/visibility.py); mySociety's servicerequestupdates is public too, so the same holds there:
    the verifier's question and the reporter's answer (a house number) stay out until publication."""
    receipt = await api.submit(region_code="62.71", reporter={"name": "Siti Rahma"})
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    await api.act_ok(tracking_id, "verification", {"decision": "hold", "note": "Sebutkan nomor rumah terdekat."},
                     api.admin)
    await api.act_ok(tracking_id, "supplements", {"text": "Depan rumah saya, Jl. Melati 7."}, reporter)

    async def updates() -> list:
        status, data = await both(api.http, "GET", f"{BASE}/servicerequestupdates", "service_request_updates",
                                  params={"service_request_id": tracking_id})
        assert status == 200
        return data

    listed = await api.eventually(updates, lambda data: len(data) >= 2)
    assert "INVESTIGATING" in [u["status"] for u in listed]
    text = str(listed)
    assert "nomor rumah" not in text and "Melati" not in text, listed

    await api.accept(tracking_id, WIB_AGENCY)
    listed = await api.eventually(updates, lambda data: any(u["status"] == "IN_PROGRESS" for u in data))
    assert "nomor rumah" in str(listed) and "Melati" in str(listed)  # public now, as on the case page


async def test_post_errors(api: ApiHarness) -> None:
    key = await client_key(api)
    officer = (await api.issue("officer", WIB_AGENCY))["token"]
    cases = [
        (form(""), 403), (form("sp4n_bukan-token"), 403), (form(officer), 403),
        (form(key, service_code=""), 400), (form(key, service_code="tidak-ada"), 404),
        (form(key, description="  "), 400), (form(key, description="x" * 20_001), 400),
        (form(key, lat="", long="", address_string="", **{"attribute[region]": ""}), 400),
        (form(key, long=""), 400), (form(key, lat="utara"), 400), (form(key, lat="91"), 400),
        (form(key, **{"attribute[region]": "99.99"}), 400),
        (form(key, **{"attribute[region]": "20.01"}), 400), (form(key, **{"attribute[region]": "62.99"}), 400),
        (form(key, **{"attribute[anonymous]": "mungkin"}), 400),
        (form(key, **{"attribute[report_type]": "keluhan"}), 400),
    ]
    for data, status in cases:
        json_response, xml_response = await post(api, data, "json"), await post(api, data, "xml")
        errors = assert_same(json_response, xml_response, "errors")
        assert json_response.status_code == status, (data, json_response.text)
        assert errors and all(e["code"] == status and e["description"] for e in errors)
    response = await api.http.post(f"{BASE}/requests.json", content=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert response.status_code == 403  # no form at all: no api_key either
    assert await api.listing() == {"items": [], "next_cursor": None}, "nothing was created"


async def test_anonymous_confidential_and_address_only(api: ApiHarness) -> None:
    key = await client_key(api)
    anonymous = await submit(api, key, **{"attribute[anonymous]": "true"})
    confidential = await submit(api, key, **{"attribute[confidential]": "true"})
    address_only = await submit(api, key, lat="", long="", media_url="https://foto.example.id/1.jpg",
                                **{"attribute[report_type]": "aspirasi"})
    for tracking_id in (anonymous, confidential, address_only):
        await api.accept(tracking_id, WIB_AGENCY)  # public from here (an unverified one shows its outline only)
    await api.wait_listed({anonymous, confidential, address_only}, status="awaiting_agency")

    status, listed = await both(api.http, "GET", f"{BASE}/requests", "service_requests")
    assert_valid("requests", listed)
    by_id = {r["service_request_id"]: r for r in listed}
    assert set(by_id) == {anonymous, address_only}, "a confidential case is never listed"
    assert by_id[anonymous]["lat"] is None and by_id[anonymous]["address"] is None  # a pin can point home
    assert by_id[address_only]["lat"] is None
    assert "Jl. Tjilik Riwut" in by_id[address_only]["address"]  # a location: hidden when anonymous
    assert "Jl. Tjilik Riwut" not in by_id[address_only]["description"]
    assert "https://foto.example.id/1.jpg" not in by_id[address_only]["description"]
    assert by_id[address_only]["media_url"] == "https://foto.example.id/1.jpg"
    assert (await api.case(address_only))["report_type"] == "aspirasi"
    # Not by id either, in the list or alone.
    status, listed = await both(api.http, "GET", f"{BASE}/requests", "service_requests",
                                params={"service_request_id": f"{confidential},{anonymous}"})
    assert [r["service_request_id"] for r in listed] == [anonymous]
    status, errors = await both(api.http, "GET", f"{BASE}/requests/{confidential}", "errors")
    assert status == 404 and errors[0]["code"] == 404
    status, errors = await both(api.http, "GET", f"{BASE}/requests/LAP-0000000000", "errors")
    assert status == 404
    # The anonymous reporter's contact never leaves through Open311.
    text = (await api.http.get(f"{BASE}/requests/{anonymous}.xml")).text + (
        await api.http.get(f"{BASE}/requests.json")).text
    assert "siti@example.id" not in text and "081234567890" not in text and "Rahma" not in text


async def test_get_requests_filters_and_defaults(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    key = await client_key(api)
    old = await submit(api, key, description="Lampu jalan padam di gang mawar", service_code="penerangan-jalan")
    old_requested = (await one(api, old))["requested_datetime"]
    await api.sleep(timedelta(days=91))
    road = await submit(api, key)
    lamp = await submit(api, key, description="Lampu jalan padam lagi di gang melati", service_code="penerangan-jalan")
    web = (await api.submit(title="Antrian e-KTP", channel="web"))["tracking_id"]  # no category: 'lainnya'
    await api.act_ok(web, "verification", {"decision": "reject", "reason": "not_a_complaint"}, api.admin)
    await api.wait_listed({old, road, lamp, web})
    await api.eventually(lambda: api.listed_ids(status="archived"), lambda ids: web in ids)

    async def ids(**params: str) -> list[str]:
        status, data = await both(api.http, "GET", f"{BASE}/requests", "service_requests", params=params)
        assert status == 200, data
        assert_valid("requests", data) if data else None
        return [r["service_request_id"] for r in data]

    # Defaults: the last 90 days, newest first.
    assert await ids() == [web, lamp, road]
    assert await ids(service_code="penerangan-jalan") == [lamp]
    assert await ids(service_code="lainnya,jalan-jembatan") == [web, road]
    assert await ids(status="closed") == [web]
    assert await ids(status="open") == [lamp, road]
    assert await ids(status="open,closed") == [web, lamp, road]
    # service_request_id overrides every other argument (the old case included).
    assert set(await ids(service_request_id=f"{old},{web}", status="open")) == {old, web}
    # An explicit window reaches back; start alone spans 90 days from it; end alone the 90 days before.
    start = datetime.fromisoformat(old_requested) - timedelta(minutes=1)
    assert await ids(start_date=start.isoformat()) == [old]
    assert await ids(end_date=(start + timedelta(days=1)).isoformat()) == [old]
    assert await ids(start_date=start.isoformat(), end_date=(start + timedelta(days=90)).isoformat()) == [old]
    # The spec's limit (1,000 here; 2 to test it): the newest.
    monkeypatch.setattr(open311_reading, "MAX_ITEMS", 2)
    assert await ids() == [web, lamp]

    for params, status in [
        ({"start_date": "2026-01-01"}, 400),  # no offset
        ({"start_date": "kemarin"}, 400),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, 400),  # > 90 days
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, 400),
        ({"status": "pending"}, 400),
        ({"service_code": "tidak-ada"}, 404),
    ]:
        code, errors = await both(api.http, "GET", f"{BASE}/requests", "errors", params=params)
        assert code == status and errors[0]["code"] == status, (params, errors)


async def test_tokens_resolve_a_clients_idempotency_key(api: ApiHarness) -> None:
    key = await client_key(api)
    other = await client_key(api)
    headers = {"Idempotency-Key": "app-42"}
    first = await post(api, form(key), headers=headers)
    again = await post(api, form(key), headers=headers)
    assert first.status_code == again.status_code == 200
    tracking_id = first.json()[0]["service_request_id"]
    assert again.json()[0]["service_request_id"] == tracking_id

    status, data = await both(api.http, "GET", f"{BASE}/tokens/app-42", "service_requests", params={"api_key": key})
    assert status == 200 and data == [{"service_request_id": tracking_id, "token": "app-42"}]
    # The token of the answer finds the request without any api_key, as the spec says.
    token = first.json()[0]["token"]
    assert token and again.json()[0]["token"] == token
    status, data = await both(api.http, "GET", f"{BASE}/tokens/{token}", "service_requests")
    assert status == 200 and data == [{"service_request_id": tracking_id, "token": token}]
    for params, expected in [({"api_key": other}, 404), ({}, 404), ({"api_key": "salah"}, 403)]:
        status, errors = await both(api.http, "GET", f"{BASE}/tokens/app-42", "errors", params=params)
        assert status == expected and errors[0]["code"] == expected
    status, errors = await both(api.http, "GET", f"{BASE}/tokens/tidak-ada", "errors", params={"api_key": key})
    assert status == 404
    # A different body under the same key is refused, and nothing is created.
    response = await post(api, form(key, description="Laporan lain sama sekali, bukan jalan"), headers=headers)
    assert response.status_code == 422 and response.json()[0]["code"] == 422


async def test_a_pin_outside_its_region_is_kept_off_public_reads(api: ApiHarness) -> None:
    """Issue 22: a Palangkaraya request pinned in Sulawesi is taken and flagged; Open311's public
    reads give its address but not that pin until the verifier confirms it."""
    key = await client_key(api)
    response = await post(api, form(key, lat="-5.1477", long="119.4327"))
    [created] = response.json()
    assert "di luar wilayah laporan" in created["service_notice"]  # the client is told at once
    tracking_id = created["service_request_id"]
    [inside] = (await post(api, form(key, description="Jalan berlubang lagi di depan pasar"))).json()
    assert "di luar wilayah" not in inside["service_notice"]
    await api.wait_listed({tracking_id})
    assert (await api.case(tracking_id))["pin_outside_region"] is True
    await api.accept(tracking_id)
    await api.settle()
    request = await one(api, tracking_id)
    assert request["lat"] is None and request["long"] is None
    assert "Jl. Tjilik Riwut" in request["address"]
    confirmed = await api.http.post(f"/v1/complaints/{tracking_id}/pin-confirmation", headers=api.admin)
    assert confirmed.json() == {"cleared": True}
    request = await one(api, tracking_id)
    assert (request["lat"], request["long"]) == (-5.1477, 119.4327)
