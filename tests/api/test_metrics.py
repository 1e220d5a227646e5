"""GET /metrics on the API: Prometheus text with request counts by route template, cases by
channel and the read model's gauges (cached), and the token it may require."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import WIB_AGENCY, ApiHarness


async def scrape(api: ApiHarness, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    response = await api.http.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.mark.api_settings(metrics_read_model_cache_seconds=0)
async def test_metrics_count_requests_cases_and_the_read_model(api: ApiHarness) -> None:
    before = await scrape(api)
    first = (await api.submit(channel="web"))["tracking_id"]
    await api.submit(channel="web")
    await api.accept(first, WIB_AGENCY)
    assert (await api.get("LAP-NOSUCHCASE")).status_code == 404
    assert (await api.http.get("/no/such/path/LAP-123")).status_code == 404
    await api.settle()
    assert await api.eventually(lambda: api.listed_ids(status="awaiting_agency"), lambda ids: ids == [first]) == [first]
    after = await scrape(api)

    def grew(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    # By route template: one series for every case, none per tracking id or scanned path.
    assert grew("sp4n_http_requests_total", method="POST", route="/v1/complaints", status="201") == 2
    assert grew("sp4n_http_requests_total", method="POST", route="/v1/complaints/{tracking_id}/verification",
                status="200") == 1
    assert grew("sp4n_http_requests_total", method="GET", route="/v1/complaints/{tracking_id}", status="404") == 1
    assert grew("sp4n_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert not any("LAP-" in str(labels) for _, labels in after)
    assert grew("sp4n_http_request_duration_seconds_count", method="POST", route="/v1/complaints") == 2
    assert grew("sp4n_cases_submitted_total", channel="web") == 2
    # The read model's gauges: what the database holds now.
    assert value(after, "sp4n_open_cases", status="awaiting_verification") == 1
    assert value(after, "sp4n_open_cases", status="awaiting_agency") == 1
    assert value(after, "sp4n_overdue_cases", agency="") == 0
    assert value(after, "sp4n_read_model_up") == 1

    # Past the verification deadline of the second case: overdue with no agency yet.
    await api.sleep(timedelta(days=10))
    await api.settle()

    async def overdue() -> float | None:
        return value(await scrape(api), "sp4n_overdue_cases", agency="")

    assert await api.eventually(overdue, lambda count: count == 1) == 1


@pytest.mark.api_settings(metrics_read_model_cache_seconds=3600)
async def test_read_model_gauges_are_cached(api: ApiHarness) -> None:
    await api.submit()
    await api.settle()
    assert len(await api.eventually(lambda: api.listed_ids(), lambda ids: len(ids) == 1)) == 1
    assert value(await scrape(api), "sp4n_open_cases", status="awaiting_verification") == 1
    await api.submit()
    await api.settle()
    assert len(await api.eventually(lambda: api.listed_ids(), lambda ids: len(ids) == 2)) == 2
    # Within the cache period the gauges are not recomputed; the request counters are live.
    samples = await scrape(api)
    assert value(samples, "sp4n_open_cases", status="awaiting_verification") == 1


@pytest.mark.api_settings(metrics_token="scrape-secret")
async def test_metrics_token_when_set(api: ApiHarness) -> None:
    refused = await api.http.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await api.http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert value(await scrape(api, {"Authorization": "Bearer scrape-secret"}), "sp4n_read_model_up") == 1
