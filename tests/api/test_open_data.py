"""GET /v1/open-data (issue 28): the index, the descriptor and each dataset, for anyone; ETag and
Last-Modified with conditional GETs answered 304; problem+json 404 for what does not exist."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from defusedxml import ElementTree

from activities.open_data import generate
from tests.api.conftest import PROBLEM_JSON
from tests.open_data_seed import seed_open_data
from workflows.open_data import OpenDataGenerated, OpenDataWorkflow

GENERATED = datetime(2027, 1, 5, 1, 0, tzinfo=UTC)


async def test_open_data_before_any_generation_is_a_problem_404(api):
    response = await api.http.get("/v1/open-data")
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM_JSON


async def test_datasets_are_served_with_validators_and_conditional_gets(api):
    with api.sessions() as session:
        seed_open_data(session)
        first = generate(session, GENERATED).version

    index = await api.http.get("/v1/open-data")
    assert index.status_code == 200
    body = index.json()
    assert body["version"] == first and body["update_frequency"] == "daily"
    assert {d["name"]: d["rows"] for d in body["datasets"]} == {"bodies": 1, "regions": 1, "cases": 13}
    bodies = next(d for d in body["datasets"] if d["name"] == "bodies")
    assert bodies["title"]["en"] and bodies["title"]["id"]

    csv_response = await api.http.get(bodies["files"]["csv"])
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    [header, row] = list(csv.reader(io.StringIO(csv_response.text)))
    assert dict(zip(header, row))["overdue"] == "<5"
    etag, modified = csv_response.headers["etag"], csv_response.headers["last-modified"]
    assert modified == format_datetime(GENERATED, usegmt=True)

    for conditions in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'}, {"If-None-Match": "*"},
                       {"If-Modified-Since": modified},
                       {"If-Modified-Since": format_datetime(GENERATED + timedelta(days=1), usegmt=True)}):
        again = await api.http.get(bodies["files"]["csv"], headers=conditions)
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, conditions
    for conditions in ({"If-None-Match": '"other"'}, {"If-None-Match": '"other"', "If-Modified-Since": modified},
                       {"If-Modified-Since": format_datetime(GENERATED - timedelta(seconds=1), usegmt=True)},
                       {"If-Modified-Since": "not a date"}):
        again = await api.http.get(bodies["files"]["csv"], headers=conditions)
        assert again.status_code == 200 and again.text == csv_response.text, conditions

    descriptor = await api.http.get("/v1/open-data/datapackage.json")
    assert descriptor.status_code == 200 and descriptor.json()["version"] == str(first)
    repeat = await api.http.get("/v1/open-data", headers={"If-None-Match": index.headers["etag"]})
    assert repeat.status_code == 304

    # A new version: the old ETag no longer matches, the old version stays readable.
    with api.sessions() as session:
        seed_open_data(session, at=datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
        second = generate(session, GENERATED + timedelta(days=1)).version
    changed = await api.http.get("/v1/open-data/bodies.csv", headers={"If-None-Match": etag})
    assert second == first + 1 and changed.status_code == 200 and changed.headers["etag"] != etag
    old = await api.http.get(f"/v1/open-data/bodies.csv?version={first}", headers={"If-None-Match": etag})
    assert old.status_code == 304

    for missing in ("/v1/open-data/nothing.csv", "/v1/open-data/bodies.xml", "/v1/open-data/bodies",
                    f"/v1/open-data/bodies.json?version={second + 1}", f"/v1/open-data?version={second + 5}"):
        response = await api.http.get(missing)
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM_JSON, missing
    bad = await api.http.get("/v1/open-data/bodies.csv?version=zero")
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM_JSON


async def test_the_workflow_generates_through_the_worker_on_the_time_skipping_server(api):
    with api.sessions() as session:
        seed_open_data(session)
    result = await api.env.client.execute_workflow(
        OpenDataWorkflow.run, id=f"open-data-{uuid.uuid4().hex[:8]}", task_queue=api.settings.temporal_task_queue,
        result_type=OpenDataGenerated,
    )
    assert result.created and result.rows["cases"] == 13
    index = await api.http.get("/v1/open-data")
    assert index.status_code == 200 and index.json()["version"] == result.version


async def test_the_data_page_lists_the_datasets_and_draws_each_body_s_rates(api):
    empty = await api.http.get("/data")
    assert empty.status_code == 200 and 'data-testid="open-data-none"' in empty.text
    with api.sessions() as session:
        seeded = seed_open_data(session)
        generate(session, GENERATED)

    page = await api.http.get("/data")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for link in ("/v1/open-data/bodies.csv", "/v1/open-data/bodies.json", "/v1/open-data/regions.csv",
                 "/v1/open-data/cases.json", "/v1/open-data/datapackage.json"):
        assert f'href="{link}"' in html, link
    assert "Kinerja instansi per bulan" in html and "Creative Commons" in html
    section = html[html.index('data-testid="open-data-bodies"'):]
    svg = ElementTree.fromstring(section[section.index("<svg"):section.index("</svg>") + 6])
    assert svg.get("role") == "img" and "Palangka" in svg.find("{http://www.w3.org/2000/svg}title").text
    # Forwarded: 13 of 13, on time; first response: 9 of 13 is withheld ("x"), so no share of it is drawn.
    desc = svg.find("{http://www.w3.org/2000/svg}desc").text
    assert "2026-12" in desc and "100,0 %" in desc and "tidak diterbitkan" in desc
    assert "<table" in section and "<caption>" in section
    for hidden in seeded.hidden + seeded.published:
        assert hidden not in html

    english = await api.http.get("/data", params={"lang": "en"})
    assert "Each body&#39;s performance per month" in english.text or "Each body's performance per month" in english.text
    assert "not published" in english.text and "100.0%" in english.text
