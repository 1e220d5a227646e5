"""The pin check (issue 22, item 5) against the shipped boundaries: inside, outside, and on a
neighbour's side of a border."""

from __future__ import annotations

import pytest

from db.boundaries import pin_flagged, region_shapes

PALANGKA_RAYA = "62.71"
TOWN_CENTRE = (-2.2096, 113.9108)  # Bundaran Besar, Palangka Raya
MAKASSAR = (-5.1477, 119.4327)  # Sulawesi Selatan


@pytest.fixture(scope="module")
def shapes():
    loaded = region_shapes()
    assert loaded is not None, "data/boundaries/regions.geojson.gz is shipped"
    return loaded


def test_a_pin_in_the_chosen_city_is_inside(shapes) -> None:
    assert shapes.contains(PALANGKA_RAYA, *TOWN_CENTRE) is True
    assert shapes.regencies_at(*TOWN_CENTRE) == [PALANGKA_RAYA]
    assert not pin_flagged(PALANGKA_RAYA, *TOWN_CENTRE)
    # A district is checked against its regency, a province against itself.
    assert not pin_flagged("62.71.01", *TOWN_CENTRE)
    assert not pin_flagged("62", *TOWN_CENTRE)


def test_a_palangkaraya_case_pinned_in_sulawesi_is_flagged(shapes) -> None:
    assert shapes.contains(PALANGKA_RAYA, *MAKASSAR) is False
    assert pin_flagged(PALANGKA_RAYA, *MAKASSAR)
    assert pin_flagged("62", *MAKASSAR)  # not even in the province
    assert shapes.regencies_at(*MAKASSAR) == ["73.71"]


@pytest.mark.parametrize("point, neighbour", [
    ((-2.35, 114.1), "62.11"),  # Kabupaten Pulang Pisau, south-east of the city
    ((-2.35, 113.5), "62.06"),  # Kabupaten Katingan, south-west of it
])
def test_a_pin_on_the_neighbours_side_of_the_border_is_flagged(shapes, point, neighbour) -> None:
    # Both points lie inside the city's bounding box, so a box alone would let them through.
    south, west, north, east = shapes.view(PALANGKA_RAYA).bounds
    assert south <= point[0] <= north and west <= point[1] <= east
    assert shapes.regencies_at(*point) == [neighbour]
    assert pin_flagged(PALANGKA_RAYA, *point)
    assert not pin_flagged(neighbour, *point)
    assert not pin_flagged("62", *point)  # same province


def test_nothing_to_check_is_never_flagged(shapes) -> None:
    assert not pin_flagged(None, *MAKASSAR)
    assert not pin_flagged(PALANGKA_RAYA, None, None)
    assert not pin_flagged("99.99", *MAKASSAR)  # a code without a shape
    view = shapes.view("62.71.02")
    assert view.code == PALANGKA_RAYA and view.bounds[0] < view.center[0] < view.bounds[2]
