"""Benches that cannot rot (issue 25): every `python -m bench …` runs here at a tiny size and must
complete and print its result line. Nothing is timed: the figures of a smoke run mean nothing."""

from __future__ import annotations

import os
import pkgutil
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.browser.portal import chromium_missing

ROOT = Path(__file__).resolve().parents[1]

# The smallest run of each bench that still goes through all of its code.
SMOKE = {
    "chat": ["--count", "3", "--rounds", "2", "--concurrency", "2"],
    "cost": ["--cases", "1", "--lifecycles", "1", "--day-seconds", "1"],
    "history": ["--rounds", "2"],
    "intake": ["--count", "3", "--rounds", "2", "--concurrency", "2"],
    "portal": ["--runs", "1"],
    "reads": ["--count", "200", "--backends", "sqlite"],
    "routing": ["--no-curve"],
    "similar": ["--cases", "200", "--queries", "3"],
    "storm": ["--count", "3", "--day-seconds", "8"],  # a drill day long enough on a loaded machine
}
# `key=value …`, possibly after a `name:` (the last line of `python -m bench cost`).
RESULT_LINE = re.compile(r"^(\w+: )?\w+=\S+( \w+=\S+)*$")


def bench_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "bench")]) if not m.name.startswith("_"))


def test_every_bench_has_a_smoke_run() -> None:
    assert bench_names() == sorted(SMOKE)


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_bench_smoke_run(name: str) -> None:
    if name == "portal" and (reason := chromium_missing()) and os.environ.get("SP4N_REQUIRE_BROWSER") != "1":
        pytest.skip(reason)
    # The benches make their own read models (a SQLite file in a scratch folder): never the
    # database of the tests that run beside them.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    # A short scratch folder: Chromium's singleton socket path must stay under 108 bytes, which
    # pytest's per-test folders (longer still under pytest-xdist) exceed.
    with tempfile.TemporaryDirectory(prefix="sp4n-bench-") as scratch:
        env |= {"PYTHONPATH": str(ROOT), "TMPDIR": scratch}
        done = subprocess.run([sys.executable, "-m", "bench", name, *SMOKE[name]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert lines and RESULT_LINE.match(lines[-1]), f"{name} printed no result line:\n{done.stdout[-3000:]}"
