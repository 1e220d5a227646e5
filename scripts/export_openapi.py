#!/usr/bin/env python3
"""Write openapi.json (the HTTP API as `server.create_app(...).openapi()` describes it), or check it.

    python scripts/export_openapi.py           # (re)write openapi.json at the repository root
    python scripts/export_openapi.py --check   # exit 1, with a diff, when openapi.json is stale

Sorted keys, two-space indent, UTF-8, a trailing newline: the file diffs well in review.
tests/api/test_openapi.py fails when the committed file and the app disagree.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "openapi.json"


def generate() -> str:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from workflows.codec import new_key_entry  # noqa: PLC0415

    # Settings do not shape the spec; fixed ones keep .env and the environment out of it (the
    # module-level app of server is made on import: give it throwaway development settings).
    throwaway = {"ENVIRONMENT": "development", "BIND_HOST": "127.0.0.1", "TEMPORAL_ENCRYPTION_KEYS": new_key_entry()}
    for name, value in throwaway.items():
        os.environ.setdefault(name, value)
    from server import create_app  # noqa: PLC0415
    from config import Settings  # noqa: PLC0415

    spec = create_app(Settings(_env_file=None, environment="development",
                               temporal_encryption_keys=throwaway["TEMPORAL_ENCRYPTION_KEYS"])).openapi()
    return json.dumps(spec, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if different")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)

    generated = generate()
    if not args.check:
        args.output.write_text(generated, encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if current == generated:
        print(f"{args.output} is up to date")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(), generated.splitlines(), f"{args.output.name} (committed)",
        f"{args.output.name} (generated)", lineterm="", n=2,
    )
    lines = list(diff)
    print("\n".join(lines[:200]) + (f"\n... {len(lines) - 200} more lines" if len(lines) > 200 else ""))
    print(f"\n{args.output} is stale: run python scripts/export_openapi.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
