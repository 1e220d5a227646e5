"""The GeoReport v2 JSON Schemas in schemas/ are the ones of ../shared/open311 (when it is there),
and they accept the specification's own examples (with ids as strings, as the schemas require)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.open311.georeport import SCHEMA_NAMES, SCHEMAS, assert_valid

SHARED = Path(__file__).resolve().parents[3] / "shared" / "open311"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/open311 is not beside this checkout")
@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_copies_match_shared(name: str) -> None:
    assert json.loads((SCHEMAS / f"{name}.json").read_text()) == json.loads((SHARED / f"{name}.json").read_text())


def test_the_schemas_accept_the_specifications_example_and_refuse_numbers_as_ids() -> None:
    request = {
        "service_request_id": "638344", "status": "closed", "status_notes": "Duplicate request.",
        "service_name": "Sidewalk and Curb Issues", "service_code": "006", "description": None,
        "agency_responsible": None, "service_notice": None,
        "requested_datetime": "2010-04-14T06:37:38-08:00", "updated_datetime": "2010-04-14T06:37:38-08:00",
        "expected_datetime": "2010-04-15T06:37:38-08:00", "address": "8TH AVE and JUDAH ST",
        "address_id": "545483", "zipcode": "94122", "lat": 37.762221815, "long": -122.4651145, "media_url": None,
    }
    assert_valid("requests", [request])
    with pytest.raises(AssertionError):
        assert_valid("requests", [request | {"service_request_id": 638344}])
    with pytest.raises(AssertionError):
        assert_valid("request", request | {"requested_datetime": "2010-04-14 06:37"})
