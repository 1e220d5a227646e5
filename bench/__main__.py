"""`python -m bench <name> [args...]` runs bench/<name>.py's main()."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]))
    if not argv or argv[0] not in names:
        print(f"usage: python -m bench <{'|'.join(names)}> [args...]", file=sys.stderr)
        return 2
    # Benches run the stack in development on loopback, with the tests' throwaway payload key,
    # unless the environment says otherwise.
    from tests.crypto import TEST_ENVIRONMENT

    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    module = importlib.import_module(f"bench.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # Done and printed: leave without the interpreter's finalization, which Temporal's core
    # threads sometimes abort (SIGABRT, "PyGILState_Release: thread state … must be current")
    # after a time-skipping server's run, turning a finished bench into a failed one.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
