"""One-off: Indonesia's province and regency/city boundaries, simplified, for the pin check.

Reads the SQL dumps of github.com/cahyadsn/wilayah_boundaries (MIT; Kepmendagri
100.1.1-6117/2022 codes, the same as db/seed/regions.csv) from a git checkout or mirror and writes
data/boundaries/regions.ndjson.gz: newline-delimited GeoJSON, one Feature per line, a province
("62") or regency/city ("62.71") each, properties code (first), name, level, center; coordinates
[lon, lat] rounded to 4 decimals (about 11 m). One line per region, so that a process parses only
the regions it checks (domain/pin.py).

    python scripts/convert_boundaries.py /path/to/wilayah_boundaries [--tolerance 0.002]

Not run by the tests or at run time; the file it writes is shipped (see data/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.validation import make_valid

OUT = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "regions.ndjson.gz"
_ROW = re.compile(r"\('([0-9.]+)','((?:[^'\\]|\\.|'')*)',(-?[0-9.eE+-]+), *(-?[0-9.eE+-]+), *'(\[.*?\])'\)")


def git_files(repo: Path, folder: str) -> list[str]:
    names = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "HEAD", folder],
                           check=True, capture_output=True, text=True).stdout.split()
    return [n for n in names if n.endswith(".sql")]


def git_show(repo: Path, name: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{name}"],
                          check=True, capture_output=True, text=True).stdout


def polygons(path: list) -> list[Polygon]:
    """The dumps nest [lat, lng] rings as a polygon ([[ring, hole...]]) or a multipolygon."""
    def depth(x: list) -> int:
        return 1 + depth(x[0]) if isinstance(x, list) else 0
    parts = [path] if depth(path) == 3 else path
    found = []
    for rings in parts:
        shell, *holes = [[(lng, lat) for lat, lng in ring] for ring in rings]
        if len(shell) >= 4:
            found.append(Polygon(shell, [h for h in holes if len(h) >= 4]))
    return found


def shape(path: list, tolerance: float) -> MultiPolygon | None:
    geometry = make_valid(MultiPolygon(polygons(path))) if polygons(path) else None
    if geometry is None or geometry.is_empty:
        return None
    geometry = geometry.simplify(tolerance, preserve_topology=True)
    parts = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon) and not g.is_empty]
    parts += [p for g in getattr(geometry, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms]
    return MultiPolygon(parts) if parts else None


def rounded(coords):
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], float):
        return [round(coords[0], 4), round(coords[1], 4)]
    return [rounded(c) for c in coords]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.002, help="degrees (0.002 = about 220 m)")
    args = parser.parse_args()
    features = []
    for level, folder in ((1, "db/prov"), (2, "db/kab")):
        for name in git_files(args.repo, folder):
            for code, title, lat, lng, path in _ROW.findall(git_show(args.repo, name)):
                geometry = shape(json.loads(path), args.tolerance)
                if geometry is None:
                    continue
                features.append({"type": "Feature",
                                 "properties": {"code": code, "name": title.replace("''", "'"), "level": level,
                                                "center": [round(float(lng), 4), round(float(lat), 4)]},
                                 "geometry": {"type": "MultiPolygon",
                                              "coordinates": rounded(mapping(geometry)["coordinates"])}})
    features.sort(key=lambda f: f["properties"]["code"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(f, separators=(",", ":"), ensure_ascii=False) + "\n" for f in features)
    OUT.write_bytes(gzip.compress(body.encode(), mtime=0))
    print(f"{len(features)} regions, {OUT.stat().st_size:,} bytes -> {OUT}")


if __name__ == "__main__":
    main()
