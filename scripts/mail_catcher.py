#!/usr/bin/env python3
"""A local SMTP server for `make run` (development only): keeps every message it is sent as a
.eml file in a folder instead of delivering it, so a newcomer sees the receipts and follow-ups
the product sends (the portal lists them for administrators: /admin/surat).

    python scripts/mail_catcher.py --port 1025 --dir .run/mail

Loopback only; Ctrl-C or SIGTERM stops it. Needs aiosmtpd (the project's `run` extra).
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"


class Keeper:
    """aiosmtpd handler: one file per message, named so that the newest sorts last."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.count += 1
        name = f"{time.time_ns()}-{self.count:06d}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 OK: caught (development mail catcher, nothing was delivered)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path(".run/mail"))
    args = parser.parse_args()
    from aiosmtpd.controller import Controller

    args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(Keeper(args.dir), hostname=HOST, port=args.port)
    controller.start()
    print(f"mail_catcher: listening on {HOST}:{args.port}, keeping messages in {args.dir}", flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
