"""A pin inside its region (issue 22, item 5): is the reported point in the case's region?

Pure: the caller passes the shapes as newline-delimited GeoJSON, one Feature per line, a province
("62") or regency/city ("62.71") each, properties `code` (first), `name`, `level`, `center`
[lon, lat]; the shipped file is data/boundaries/regions.ndjson.gz, read by db/boundaries.py. A district
("62.71.01") is checked against its regency, a regency without a shape against its province.
Bounding boxes alone would not do: neighbouring regencies' boxes overlap.

The simplified borders are about 200 m off at most (scripts/convert_boundaries.py), so a point is
"inside" when it lies within MARGIN_DEGREES of the shape: a pin on the border is not flagged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shapely import STRtree, prepare
from shapely.geometry import Point, shape

_CODE = re.compile(r'"code":"([0-9.]+)"')
MARGIN_DEGREES = 0.005  # about 550 m: the simplification's error and a reporter's fumble


@dataclass(frozen=True)
class RegionView:
    """Where the portal's map goes for a region: its centre and its bounds (south, west, north, east)."""

    code: str
    name: str
    center: tuple[float, float]  # lat, lon
    bounds: tuple[float, float, float, float]


class RegionShapes:
    """The shapes by code. A line is parsed, its shape built and prepared, on first use only: a
    process that checks pins of a few regions never pays for all 552 (a second or more under load,
    holding the GIL that the worker's workflows need too)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = {m.group(1): line for line in lines if (m := _CODE.search(line))}
        self._features: dict[str, dict[str, Any]] = {}
        self._built: dict[str, Any] = {}
        self._tree: tuple[list[str], STRtree] | None = None

    def _feature(self, code: str) -> dict[str, Any]:
        if code not in self._features:
            self._features[code] = json.loads(self._lines[code])
        return self._features[code]

    def _shape(self, code: str):
        found = self._built.get(code)
        if found is None:
            found = shape(self._feature(code)["geometry"])
            prepare(found)
            self._built[code] = found
        return found

    def shape_code(self, region_code: str | None) -> str | None:
        """The code whose shape stands for a region: a district's regency, else the province."""
        if not region_code:
            return None
        parts = region_code.split(".")
        for code in (".".join(parts[:2]), parts[0]):
            if code in self._lines:
                return code
        return None

    def contains(self, region_code: str | None, lat: float, lon: float) -> bool | None:
        """True inside (or within the margin), False outside, None when the region has no shape."""
        code = self.shape_code(region_code)
        if code is None:
            return None
        geometry, point = self._shape(code), Point(lon, lat)
        return bool(geometry.contains(point) or geometry.distance(point) <= MARGIN_DEGREES)

    def regencies_at(self, lat: float, lon: float) -> list[str]:
        """The regencies/cities whose shape holds the point (usually one; none at sea)."""
        if self._tree is None:
            codes = sorted(c for c in self._lines if "." in c)
            self._tree = codes, STRtree([self._shape(c) for c in codes])
        codes, tree = self._tree
        return [codes[i] for i in tree.query(Point(lon, lat), predicate="within")]

    def view(self, region_code: str | None) -> RegionView | None:
        code = self.shape_code(region_code)
        if code is None:
            return None
        west, south, east, north = self._shape(code).bounds
        props = self._feature(code)["properties"]
        lon, lat = props["center"]
        return RegionView(code=code, name=props["name"], center=(lat, lon), bounds=(south, west, north, east))


def pin_outside_region(shapes: RegionShapes | None, region_code: str | None,
                       lat: float | None, lon: float | None) -> bool:
    """A pin to flag: a point given, a region with a shape, and the point not inside it."""
    if shapes is None or lat is None or lon is None:
        return False
    return shapes.contains(region_code, lat, lon) is False
