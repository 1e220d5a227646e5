"""The shipped region shapes (data/boundaries/regions.ndjson.gz, see data/README.md), read once,
on first use (a process that never checks a pin never reads them); each region's line is parsed
only when a pin of that region is checked (domain/pin.py)."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from domain.pin import RegionShapes, pin_outside_region

BOUNDARIES = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "regions.ndjson.gz"


@cache
def region_shapes() -> RegionShapes | None:
    """None when the file is missing (an install without data/): pins are then never flagged."""
    if not BOUNDARIES.is_file():
        return None
    return RegionShapes(gzip.decompress(BOUNDARIES.read_bytes()).decode("utf-8").splitlines())


def region_of_pin(lat: float, lon: float) -> str | None:
    """The one regency/city whose shape holds the point; None at sea, on a border, or without data."""
    shapes = region_shapes()
    found = shapes.regencies_at(lat, lon) if shapes is not None else []
    return found[0] if len(found) == 1 else None


def pin_flagged(region_code: str | None, lat: float | None, lon: float | None) -> bool:
    if lat is None or lon is None or not region_code:
        return False
    return pin_outside_region(region_shapes(), region_code, lat, lon)
